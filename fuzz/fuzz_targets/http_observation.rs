//! Bytes as a server's raw HTTP response (head and body, any framing, gzip or not) → the scanner's HTTP reader →
//! the probes of one observation → the fingerprint and verdict. The first byte picks how the bytes arrive (1 to 256
//! per read) and whether the caps are small, so that splitting and every cap are exercised. Nothing touches a socket.
#![no_main]

use exhunt_scan::http::Limits;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct World {
    rt: tokio::runtime::Runtime,
    kb: exhunt_kb::Kb,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| World {
        rt: tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime"),
        kb: exhunt_kb::Kb::builtin(),
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, raw)) = data.split_first() else { return };
    let chunk = 1 + usize::from(selector);
    let mut limits = Limits::default();
    if selector & 1 == 1 {
        limits.max_head = 256;
        limits.max_body = 512;
    }
    let w = world();
    let obs = w.rt.block_on(exhunt_scan::replay::observation(raw, chunk, &limits, &w.kb));
    for p in &obs.probes {
        assert!(p.body_len <= limits.max_body as u64, "body over the cap: {}", p.body_len);
        assert!(p.snippets.len() <= 12 && p.snippets.iter().all(|s| s.chars().count() <= 240));
        assert!(p.status.is_some() != p.error.is_some());
    }
    // What is written is what `exhunt detect --from` reads back.
    let line = exhunt_report::to_line(&obs);
    let back = exhunt_scan::scan::from_line(line.trim_end()).expect("own line").expect("an observation");
    assert_eq!(back, obs);
    let _ = exhunt_report::shadowserver::rows(&obs);
    let _ = exhunt_detect::scan::findings(&obs);
});
