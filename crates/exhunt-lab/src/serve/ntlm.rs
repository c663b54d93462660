//! An NTLM Type-2 (CHALLENGE_MESSAGE, MS-NLMP 2.2.1.2) carrying a host's AD names, as Exchange sends it in
//! `WWW-Authenticate` after a Type-1.

use super::host::AdNames;

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// The raw Type-2 message.
pub fn type2(names: &AdNames, challenge: [u8; 8]) -> Vec<u8> {
    let target = utf16(&names.netbios_domain);
    let mut info = Vec::new();
    for (id, value) in [
        (2u16, &names.netbios_domain),
        (1, &names.netbios_computer),
        (4, &names.dns_domain),
        (3, &names.dns_computer),
        (5, &names.dns_tree),
    ] {
        let v = utf16(value);
        info.extend_from_slice(&id.to_le_bytes());
        info.extend_from_slice(&(v.len() as u16).to_le_bytes());
        info.extend_from_slice(&v);
    }
    // MsvAvTimestamp: 2021-03-02 00:00 UTC as FILETIME.
    info.extend_from_slice(&7u16.to_le_bytes());
    info.extend_from_slice(&8u16.to_le_bytes());
    info.extend_from_slice(&132_591_168_000_000_000u64.to_le_bytes());
    info.extend_from_slice(&[0, 0, 0, 0]); // MsvAvEOL
    let header = 56u32;
    let target_off = header;
    let info_off = header + target.len() as u32;
    let mut m = Vec::with_capacity(56 + target.len() + info.len());
    m.extend_from_slice(b"NTLMSSP\0");
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&(target.len() as u16).to_le_bytes());
    m.extend_from_slice(&(target.len() as u16).to_le_bytes());
    m.extend_from_slice(&target_off.to_le_bytes());
    // NEGOTIATE_UNICODE | REQUEST_TARGET | NTLM | ALWAYS_SIGN | TARGET_TYPE_DOMAIN | EXTENDED_SESSIONSECURITY |
    // TARGET_INFO | VERSION | 128 | KEY_EXCH | 56
    m.extend_from_slice(&0xE28A_8215u32.to_le_bytes());
    m.extend_from_slice(&challenge);
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&info_off.to_le_bytes());
    // Version: Windows 10.0 build 17763, NTLM revision 15.
    m.extend_from_slice(&[10, 0, 0x63, 0x45, 0, 0, 0, 15]);
    m.extend_from_slice(&target);
    m.extend_from_slice(&info);
    m
}
