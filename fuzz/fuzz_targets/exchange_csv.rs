//! Exchange CSV logs: any bytes, any Exchange source kind, a small or the default line cap.
#![no_main]

use exhunt_detect::Fields;
use exhunt_hunt::readers::{LogKind, ReadOptions, Record, read_log};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let kinds =
        [LogKind::HttpProxy, LogKind::EcpServer, LogKind::EcpActivity, LogKind::OabGenerator, LogKind::CmdletInfra];
    let kind = kinds[usize::from(selector) % kinds.len()];
    let opts = ReadOptions { max_line: if selector & 0x80 != 0 { 1 + usize::from(selector & 0x3f) } else { 1 << 20 } };
    let mut n = 0u64;
    let stats = read_log(kind, "fuzz.log", body, &opts, &mut |r: &Record<'_>| {
        n += 1;
        for (k, v) in r.fields() {
            assert!(r.get(k).is_some() || v.is_empty());
        }
        assert!(r.get("_raw").is_some());
        let _ = r.evidence();
    });
    assert_eq!(stats.delivered, n);
    assert!(stats.records >= stats.malformed && stats.lines >= stats.records);
});
