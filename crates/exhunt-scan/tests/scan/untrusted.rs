//! What servers send is untrusted: responses of every framing, split anywhere, with lying lengths, and NTLM
//! challenges with lying offsets, go through the scanner's own readers (no socket: `exhunt_scan::replay`). The
//! fuzz targets `http_observation` and `ntlm_type2` do the same with coverage guidance; these run in `cargo test`.

use exhunt_detect::scan::{decode_type2, type2_from_headers};
use exhunt_report::to_line;
use exhunt_scan::http::Limits;
use exhunt_scan::replay;
use exhunt_scan::scan::from_line;
use proptest::prelude::*;

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime"))
}

fn kb() -> &'static exhunt_kb::Kb {
    static C: std::sync::OnceLock<exhunt_kb::Kb> = std::sync::OnceLock::new();
    C.get_or_init(exhunt_kb::Kb::builtin)
}

/// A response head and body in one of the framings a server may choose, some of them lying.
fn response() -> impl Strategy<Value = Vec<u8>> {
    let status = prop_oneof![Just(200u16), Just(401), Just(302), Just(404), Just(204), Just(100), 0u16..1000];
    let body = proptest::collection::vec(any::<u8>(), 0..2048);
    let framing = 0u8..6;
    let length_lie = prop_oneof![Just(None), any::<u64>().prop_map(Some), (0u64..4096).prop_map(Some)];
    let extra = proptest::collection::vec(
        prop_oneof![
            Just("X-OWA-Version: 15.1.2176.9".to_string()),
            Just("X-FEServer: EX01".to_string()),
            Just("WWW-Authenticate: NTLM TlRMTVNTUAACAAAA".to_string()),
            Just("Location: /owa/auth/logon.aspx".to_string()),
            Just("Connection: close".to_string()),
            "[ -~]{0,64}".prop_map(|v| format!("X-Any: {v}")),
        ],
        0..5,
    );
    (status, body, framing, length_lie, extra).prop_map(|(status, body, framing, lie, extra)| {
        let mut head = format!("HTTP/1.1 {status} Whatever\r\n");
        for h in extra {
            head.push_str(&h);
            head.push_str("\r\n");
        }
        let mut payload = body.clone();
        match framing {
            0 => head.push_str(&format!("Content-Length: {}\r\n", lie.unwrap_or(body.len() as u64))),
            1 | 2 => {
                head.push_str("Transfer-Encoding: chunked\r\n");
                payload.clear();
                for c in body.chunks(97) {
                    let size = if framing == 2 { lie.unwrap_or(c.len() as u64) } else { c.len() as u64 };
                    payload.extend_from_slice(format!("{size:x}\r\n").as_bytes());
                    payload.extend_from_slice(c);
                    payload.extend_from_slice(b"\r\n");
                }
                payload.extend_from_slice(b"0\r\n\r\n");
            }
            3 => {
                head.push_str("Content-Encoding: gzip\r\n");
                use std::io::Write as _;
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                let _ = e.write_all(&body);
                let _ = e.write_all(&vec![0u8; 300_000]);
                payload = e.finish().unwrap_or_default();
                head.push_str(&format!("Content-Length: {}\r\n", payload.len()));
            }
            4 => {}                                // until the connection closes
            _ => payload.truncate(body.len() / 2), // a head that promises more than comes
        }
        head.push_str("\r\n");
        let mut raw = head.into_bytes();
        raw.extend_from_slice(&payload);
        raw
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_response_split_anywhere_becomes_a_bounded_observation(
        raw in response(),
        cut in any::<prop::sample::Index>(),
        chunk in 1usize..300,
        small in any::<bool>(),
    ) {
        let raw = if cut.index(4) == 0 { raw[..cut.index(raw.len() + 1)].to_vec() } else { raw };
        let mut limits = Limits::default();
        if small {
            limits.max_head = 128;
            limits.max_body = 256;
        }
        let obs = rt().block_on(replay::observation(&raw, chunk, &limits, kb()));
        for p in &obs.probes {
            prop_assert!(p.body_len <= limits.max_body as u64);
            prop_assert!(p.status.is_some() != p.error.is_some());
        }
        let back = from_line(to_line(&obs).trim_end()).expect("line").expect("observation");
        prop_assert_eq!(back, obs);
    }

    #[test]
    fn a_type2_with_any_bytes_changed_decodes_or_errs(
        edits in proptest::collection::vec((0usize..200, any::<u8>()), 0..8),
        cut in 0usize..220,
    ) {
        let mut m = exhunt_type2();
        for (at, b) in edits {
            if at < m.len() {
                m[at] = b;
            }
        }
        m.truncate(cut.max(1));
        let direct = decode_type2(&m);
        use base64::Engine as _;
        let header = format!("Negotiate {}", base64::engine::general_purpose::STANDARD.encode(&m));
        if let Some(raw) = type2_from_headers([&header]) {
            prop_assert_eq!(decode_type2(&raw), direct);
        }
    }
}

/// A well-formed Type-2 naming CONTOSO / EX01, as the lab serves it.
fn exhunt_type2() -> Vec<u8> {
    let names = exhunt_lab::serve::host::AdNames {
        netbios_domain: "CONTOSO".into(),
        netbios_computer: "EX01".into(),
        dns_domain: "contoso.corp".into(),
        dns_computer: "ex01.contoso.corp".into(),
        dns_tree: "contoso.corp".into(),
    };
    exhunt_lab::serve::ntlm::type2(&names, [7; 8])
}

#[test]
fn the_well_formed_type2_decodes() {
    let n = decode_type2(&exhunt_type2()).expect("decodes");
    assert_eq!(n.netbios_domain.as_deref(), Some("CONTOSO"));
    assert_eq!(n.dns_computer.as_deref(), Some("ex01.contoso.corp"));
}
