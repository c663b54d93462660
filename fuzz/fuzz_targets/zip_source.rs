//! A zip read in place: open, discover, walk, read every entry (never more than its declared size).
#![no_main]

use exhunt_hunt::discover::discover;
use exhunt_hunt::evidence::{EvidenceSource, OpenOptions, ZipSource};
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = ZipSource::from_bytes("fuzz.zip", data.to_vec(), &OpenOptions::default()) else { return };
    let _ = discover(&src);
    for f in src.files().flatten() {
        if let Ok(r) = src.open(&f) {
            let mut out = Vec::new();
            let _ = r.take(1 << 24).read_to_end(&mut out);
            assert!(out.len() as u64 <= f.size);
        }
    }
});
