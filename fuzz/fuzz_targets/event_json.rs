//! JSON exports of Windows events: any bytes, a small or the default line cap.
#![no_main]

use exhunt_detect::{Event, Fields};
use exhunt_hunt::readers::events::{EventOptions, json};
use exhunt_model::Locator;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let opts = EventOptions {
        max_line: if selector & 0x80 != 0 { 1 + usize::from(selector & 0x3f) } else { 1 << 20 },
        ..EventOptions::default()
    };
    let mut n = 0u64;
    let stats = json::read("fuzz.jsonl", body, &opts, &mut |e: &Event, l: Locator| {
        n += 1;
        assert!(matches!(l, Locator::Line(_)));
        assert!(e.get("EventID").is_some());
        for (k, _) in &e.fields {
            assert!(e.get(k).is_some());
        }
    });
    assert_eq!(stats.records, n);
    assert!(stats.skipped >= stats.cut);
    assert!(stats.warnings.len() as u64 <= stats.warnings_total);
    assert_eq!(stats.channels.values().sum::<u64>(), n);
});
