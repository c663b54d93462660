//! Every reader of untrusted input fed a few thousand random, mutated and truncated inputs (fixed seed): no panic,
//! and the counters stay consistent. The fuzz targets under `fuzz/` do the same without bounds.

use crate::common::corpus;
use crate::exchange_csv::httpproxy_log;
use exhunt_hunt::discover::{apphost, discover};
use exhunt_hunt::evidence::{EvidenceSource, OpenOptions, ZipSource};
use exhunt_hunt::readers::{LogKind, ReadOptions, Record, read_log};
use std::io::{Read, Write};

/// xorshift64*: small, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u8] = b"\",\n\r# -%\0\xff\xef\xbb\xbf:T.Z";

/// A random input: noise, or a sample with bytes changed, inserted and cut.
fn input(rng: &mut Rng, samples: &[Vec<u8>]) -> Vec<u8> {
    if rng.below(5) == 0 {
        let n = rng.below(2000);
        return (0..n).map(|_| rng.next() as u8).collect();
    }
    let mut v = samples[rng.below(samples.len())].clone();
    for _ in 0..rng.below(12) {
        if v.is_empty() {
            break;
        }
        let at = rng.below(v.len());
        match rng.below(3) {
            0 => v[at] = INTERESTING[rng.below(INTERESTING.len())],
            1 => v.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            _ => v[at] = rng.next() as u8,
        }
    }
    if rng.below(3) == 0 {
        let cut = rng.below(v.len() + 1);
        v.truncate(cut);
    }
    v
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).expect("in memory");
    e.finish().expect("in memory")
}

fn check_reader(kind: LogKind, samples: &[Vec<u8>], seed: u64, rounds: usize) {
    let mut rng = Rng(seed);
    for round in 0..rounds {
        let mut data = input(&mut rng, samples);
        if rng.below(8) == 0 {
            data = gzip(&data);
            if rng.below(2) == 0 {
                let cut = rng.below(data.len());
                data.truncate(cut);
            }
        }
        let opts = ReadOptions { max_line: if rng.below(4) == 0 { 1 + rng.below(80) } else { 1 << 20 } };
        let mut n = 0u64;
        let stats = read_log(kind, "fuzz.log", &data[..], &opts, &mut |r: &Record<'_>| {
            n += 1;
            for (k, v) in r.fields() {
                assert!(exhunt_detect::Fields::get(r, k).is_some() || v.is_empty());
            }
            // The cap is on bytes read; each invalid UTF-8 byte becomes a 3-byte U+FFFD.
            assert!(r.raw.len() <= 3 * opts.max_line, "round {round}");
            let _ = r.evidence();
        });
        assert_eq!(stats.delivered, n, "round {round}");
        assert!(stats.records >= stats.delivered && stats.records >= stats.malformed, "round {round}");
        assert!(stats.lines >= stats.records, "round {round}");
    }
}

fn iis_samples() -> Vec<Vec<u8>> {
    ["logs/iis/benign/elastic-beats_iis_test.log", "logs/iis/benign/elastic-beats_iis_test-iis-7.5.log"]
        .iter()
        .map(|p| std::fs::read(corpus(p)).expect("corpus"))
        .chain(std::iter::once(
            std::fs::read(corpus("logs/iis/malicious/sbousseaden_Tunna_rdp_tunnel_IIS.log")).expect("corpus")[..3000]
                .to_vec(),
        ))
        .collect()
}

#[test]
fn iis_reader_survives_garbage() {
    check_reader(LogKind::Iis, &iis_samples(), 0x1155_2021, 3000);
}

#[test]
fn exchange_csv_reader_survives_garbage() {
    let samples = vec![
        httpproxy_log().into_bytes(),
        b"#Fields: TimeStamp,ServerName,EventId,EventData\n2021-03-03T01:14:02.331Z,EX01,ECP.Request,\"a,\"\"b\"\"\nc\"\n"
            .to_vec(),
        b"DateTime,X\n2021-03-07T15:04:04Z,\"unterminated\n2021-03-07T15:04:05Z,ok\n".to_vec(),
    ];
    for (i, kind) in [LogKind::HttpProxy, LogKind::EcpServer, LogKind::OabGenerator].into_iter().enumerate() {
        check_reader(kind, &samples, 0xC5F0 + i as u64, 1500);
    }
}

#[test]
fn app_host_config_parser_survives_garbage() {
    let full = std::fs::read(corpus("benign/exchange/iis_config/E15_NotConfigured_Both_ApplicationHost.config"))
        .expect("corpus");
    let start = full.windows(7).position(|w| w == b"<sites>").expect("sites");
    let mut small = b"<configuration><system.applicationHost>".to_vec();
    small.extend_from_slice(&full[start..start + 6000]);
    let samples = vec![small, full[..4000].to_vec(), b"<configuration/>".to_vec()];
    let mut rng = Rng(0xA99_0057);
    for _ in 0..3000 {
        let data = input(&mut rng, &samples);
        let _ = apphost::parse("applicationHost.config", &data[..]);
    }
}

#[test]
fn zip_source_survives_garbage() {
    let t = tempfile::tempdir().expect("tempdir");
    crate::evidence::velociraptor(t.path());
    let good = crate::evidence::zip_folder(t.path());
    let samples = vec![good.clone()];
    let mut rng = Rng(0x21B_B0B);
    let mut opened = 0;
    for _ in 0..3000 {
        let data = input(&mut rng, &samples);
        let Ok(src) = ZipSource::from_bytes("fuzz.zip", data, &OpenOptions::default()) else { continue };
        opened += 1;
        let _ = discover(&src);
        for f in src.files().flatten() {
            if let Ok(mut r) = src.open(&f) {
                let mut sink = Vec::new();
                let _ = r.read_to_end(&mut sink);
                assert!(sink.len() as u64 <= f.size, "never more than the declared size");
            }
        }
    }
    assert!(opened > 100, "mutations leave many archives readable ({opened})");
}
