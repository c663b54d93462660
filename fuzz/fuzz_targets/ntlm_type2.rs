//! Bytes as an NTLM Type-2 (CHALLENGE_MESSAGE) → the scanner's decoder, directly and through a `WWW-Authenticate`
//! header (base64), as `exhunt scan` meets it (the decoder is `exhunt_detect::scan`'s). Offsets and lengths in the message are the server's: none may panic.
#![no_main]

use base64::Engine as _;
use exhunt_detect::scan::{decode_type2, type2_from_headers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // With the signature forced half of the time, so the decoder gets past its first check.
    let mut m = data.to_vec();
    if data.first().is_some_and(|b| b & 1 == 1) && m.len() >= 12 {
        m[..12].copy_from_slice(b"NTLMSSP\0\x02\0\0\0");
    }
    let direct = decode_type2(&m);
    if let Ok(info) = &direct {
        for s in [&info.target_name, &info.netbios_domain, &info.netbios_computer, &info.dns_domain, &info.dns_computer]
            .into_iter()
            .flatten()
        {
            assert!(s.chars().count() <= 256);
        }
    }
    let header = format!("NTLM {}", base64::engine::general_purpose::STANDARD.encode(&m));
    if let Some(raw) = type2_from_headers([&header]) {
        assert_eq!(raw, m);
        assert_eq!(decode_type2(&raw), direct);
    }
    // A header value that is not base64 at all is ignored, not a panic.
    let _ = type2_from_headers([&String::from_utf8_lossy(data).into_owned()]);
});
