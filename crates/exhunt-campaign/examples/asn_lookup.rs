//! The IP-to-ASN table on the real dataset (a benchmark, not a test; no test needs the dataset): loads
//! `asn-ipv4.csv` and `asn-ipv6.csv` from DIR (default `$EXHUNT_ASN_DIR`, else `~/.cache/exhunt/asn`, where
//! `tools/fetch-asn-db.sh` installs them), then prints the load time, the rows, the table's heap and the process's
//! resident memory, a few lookups, and the lookup rate.
//!
//!   tools/fetch-asn-db.sh
//!   cargo run --release -p exhunt-campaign --example asn_lookup -- [DIR] [ADDRESS...]
//!
//! Exits 2 when rows were malformed, 3 when the files cannot be read.

use exhunt_campaign::asn::{ATTRIBUTION, AsnBuilder, FILES};
use std::io::BufReader;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Resident and peak resident memory of this process, in KiB (Linux; zero elsewhere).
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| match std::env::var_os("EXHUNT_ASN_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/exhunt/asn"),
    });
    let mut addresses: Vec<String> = args.collect();
    if addresses.is_empty() {
        addresses = [
            "1.1.1.1",
            "8.8.8.8",
            "193.0.6.139",
            "215.0.0.1",
            "10.0.0.1",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:9.9.9.9",
        ]
        .map(String::from)
        .to_vec();
    }

    let (rss_before, _) = rss_kib();
    let t0 = Instant::now();
    let mut builder = AsnBuilder::new();
    for name in FILES {
        let path = dir.join(name);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: cannot open `{}`: {e}; run tools/fetch-asn-db.sh or pass the folder", path.display());
                return ExitCode::from(3);
            }
        };
        if let Err(e) = builder.read_csv(name, BufReader::with_capacity(1 << 16, file)) {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    }
    let load = match builder.finish() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let elapsed = t0.elapsed();
    let (rss_after, peak) = rss_kib();
    let t = &load.table;
    let (e4, e6) = t.entries();
    println!("dataset: {}", dir.display());
    println!("load: {:.3} s, {} rows ({} malformed)", elapsed.as_secs_f64(), load.rows, load.failed);
    println!("entries: {e4} IPv4 + {e6} IPv6, {} organisation names", t.organisations());
    println!(
        "memory: table heap {:.1} MiB; process RSS {:.1} MiB after load ({:+.1} MiB for the load), peak {:.1} MiB",
        t.heap_bytes() as f64 / (1 << 20) as f64,
        rss_after as f64 / 1024.0,
        (rss_after as f64 - rss_before as f64) / 1024.0,
        peak as f64 / 1024.0
    );
    for e in load.errors.iter().take(10) {
        println!("malformed: {e}");
    }
    for a in &addresses {
        match a.parse::<IpAddr>() {
            Ok(ip) => match t.lookup(ip) {
                Some(i) => println!("{a} -> AS{} {:?} ({} - {})", i.asn, i.org, i.range.0, i.range.1),
                None => println!("{a} -> none"),
            },
            Err(_) => println!("{a} -> not an address"),
        }
    }

    // Lookup rate over addresses spread across both families (a fixed xorshift walk, so runs compare).
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut probes: Vec<IpAddr> = Vec::with_capacity(1 << 20);
    for i in 0..(1u32 << 20) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        probes.push(if i % 4 == 0 {
            IpAddr::V6(((u128::from(0x2000u16 | (x as u16 & 0x0fff)) << 112) | u128::from(x)).into())
        } else {
            IpAddr::V4((x as u32).into())
        });
    }
    let t1 = Instant::now();
    let hits = probes.iter().filter(|ip| t.lookup(**ip).is_some()).count();
    let dt = t1.elapsed().as_secs_f64();
    println!(
        "lookups: {} in {:.3} s = {:.1} M/s, {} in a range",
        probes.len(),
        dt,
        probes.len() as f64 / dt / 1e6,
        hits
    );
    println!("{ATTRIBUTION}");
    if load.failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS }
}
