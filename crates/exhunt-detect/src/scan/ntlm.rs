//! The NTLM Type-2 message a server answers a Type-1 with names the server and its Active Directory domain
//! (MS-NLMP 2.2.1.2, AV pairs 2.2.2.1). Decoded from attacker-chosen bytes: every offset is checked.

use exhunt_model::NtlmInfo;

/// Why a Type-2 did not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("NTLM Type-2 at byte {offset}: {reason}")]
pub struct NtlmError {
    pub offset: usize,
    pub reason: &'static str,
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(o)?, *b.get(o + 1)?]))
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes([*b.get(o)?, *b.get(o + 1)?, *b.get(o + 2)?, *b.get(o + 3)?]))
}

fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units).chars().take(256).collect()
}

/// Decodes a raw Type-2 message. Never panics; every offset is checked.
pub fn decode_type2(m: &[u8]) -> Result<NtlmInfo, NtlmError> {
    let e = |offset, reason| NtlmError { offset, reason };
    if m.len() < 32 || !m.starts_with(b"NTLMSSP\0") {
        return Err(e(0, "no NTLMSSP signature"));
    }
    if u32_at(m, 8) != Some(2) {
        return Err(e(8, "not a Type-2 message"));
    }
    let flags = u32_at(m, 20).ok_or(e(20, "short"))?;
    let unicode = flags & 1 != 0;
    let buffer = |at: usize| -> Result<&[u8], NtlmError> {
        let len = usize::from(u16_at(m, at).ok_or(e(at, "short security buffer"))?);
        let off = u32_at(m, at + 4).ok_or(e(at + 4, "short security buffer"))? as usize;
        m.get(off..off.checked_add(len).ok_or(e(at, "overflow"))?).ok_or(e(at, "buffer outside the message"))
    };
    let text = |b: &[u8]| if unicode { utf16(b) } else { String::from_utf8_lossy(b).chars().take(256).collect() };
    let mut info = NtlmInfo { target_name: Some(text(buffer(12)?)).filter(|s| !s.is_empty()), ..NtlmInfo::default() };
    if m.len() >= 48 && flags & 0x0080_0000 != 0 {
        let mut av = buffer(40)?;
        let mut pos = 0usize;
        while av.len() >= 4 {
            let id = u16::from_le_bytes([av[0], av[1]]);
            let len = usize::from(u16::from_le_bytes([av[2], av[3]]));
            if id == 0 {
                break;
            }
            let value = av.get(4..4 + len).ok_or(e(pos, "AV pair longer than the target info"))?;
            let s = Some(utf16(value));
            match id {
                1 => info.netbios_computer = s,
                2 => info.netbios_domain = s,
                3 => info.dns_computer = s,
                4 => info.dns_domain = s,
                5 => info.dns_tree = s,
                _ => {}
            }
            av = &av[4 + len..];
            pos += 4 + len;
        }
    }
    if flags & 0x0200_0000 != 0 && m.len() >= 56 {
        info.os_version = Some(format!("{}.{}.{}", m[48], m[49], u16::from_le_bytes([m[50], m[51]])));
    }
    Ok(info)
}

/// Finds a Type-2 in `WWW-Authenticate` values (`NTLM <b64>` or `Negotiate <b64>`).
pub fn type2_from_headers<'a>(values: impl IntoIterator<Item = &'a String>) -> Option<Vec<u8>> {
    use base64::Engine as _;
    values.into_iter().find_map(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        if !(scheme.eq_ignore_ascii_case("ntlm") || scheme.eq_ignore_ascii_case("negotiate")) {
            return None;
        }
        let raw = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
        raw.starts_with(b"NTLMSSP\0").then_some(raw)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_lying_messages_are_errors_not_panics() {
        assert!(decode_type2(b"").is_err());
        assert!(decode_type2(b"NTLMSSP\0\x02\0\0\0").is_err());
        let mut m = b"NTLMSSP\0\x02\0\0\0".to_vec();
        m.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        m.extend_from_slice(&[0; 40]);
        assert!(decode_type2(&m).is_err());
    }
}
