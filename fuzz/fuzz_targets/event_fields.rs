//! The record-to-fields layer: any bytes that parse as JSON, through both flatten functions.
#![no_main]

use exhunt_detect::Fields;
use exhunt_hunt::readers::events::flatten::{from_evtx_json, from_export};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let e = from_evtx_json(&value);
    let _ = (e.event_id(), e.log_source(), e.raw());
    if let Some(t) = e.time {
        assert_eq!(e.get("TimeCreated"), Some(t.to_string().as_str()));
    }
    match from_export(&value) {
        Ok(e) => {
            assert!(e.get("EventID").is_some());
            if let Some(t) = e.time {
                assert_eq!(e.get("TimeCreated"), Some(t.to_string().as_str()));
            }
        }
        Err(why) => assert!(!why.is_empty()),
    }
});
