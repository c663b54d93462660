//! IIS W3C logs: any bytes, a small or the default line cap.
#![no_main]

use exhunt_detect::Fields;
use exhunt_hunt::readers::{LogKind, ReadOptions, Record, read_log};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let opts = ReadOptions { max_line: if selector & 0x80 != 0 { 1 + usize::from(selector & 0x3f) } else { 1 << 20 } };
    let mut n = 0u64;
    let stats = read_log(LogKind::Iis, "u_ex.log", body, &opts, &mut |r: &Record<'_>| {
        n += 1;
        for (k, _) in r.fields() {
            let _ = r.get(k);
        }
        let _ = r.evidence();
    });
    assert_eq!(stats.delivered, n);
    assert!(stats.records >= stats.malformed && stats.lines >= stats.records);
});
