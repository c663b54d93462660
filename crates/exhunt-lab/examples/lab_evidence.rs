//! Writes one lab folder: `cargo run --release -p exhunt-lab --example lab_evidence -- DIR SEED SIZE SCENARIO`.

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: lab_evidence DIR [SEED] [SIZE] [SCENARIO]")?);
    let seed = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let size = args.next().map(|s| s.parse()).transpose()?.unwrap_or(exhunt_lab::DEFAULT_SIZE);
    let scenario = args.next().map(|s| s.parse()).transpose()?.unwrap_or(exhunt_lab::Scenario::Used);
    let opts = exhunt_lab::EvidenceOptions { seed, size, scenario, host: None, actor: None };
    let start = Instant::now();
    let s = exhunt_lab::generate(&dir, &opts)?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{} files, {} bytes ({} of logs), {} lines, {} expects, verdict {} in {secs:.2} s ({:.0} MB/s)",
        s.files,
        s.bytes,
        s.log_bytes,
        s.lines,
        s.expects,
        s.verdict,
        s.bytes as f64 / 1e6 / secs
    );
    Ok(())
}
