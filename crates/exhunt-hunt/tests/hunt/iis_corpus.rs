//! The IIS W3C logs of the corpus, read in place; counts pinned.

use crate::common::{corpus, read_all, ts};
use exhunt_hunt::readers::{LogKind, ReadOptions, Record, RecordSink, read_log};

fn read(rel: &str) -> (exhunt_hunt::readers::FileStats, Vec<crate::common::Owned>) {
    let bytes = std::fs::read(corpus(rel)).expect("readable corpus file");
    read_all(LogKind::Iis, rel, &bytes, &ReadOptions::default())
}

#[test]
fn elastic_beats_three_blocks_with_different_fields() {
    let (s, recs) = read("logs/iis/benign/elastic-beats_iis_test.log");
    assert_eq!((s.lines, s.records, s.delivered, s.blocks), (17, 5, 5, 3));
    assert_eq!(s.headers.len(), 3, "three distinct #Fields layouts");
    assert_eq!([s.headers[0].fields.len(), s.headers[1].fields.len(), s.headers[2].fields.len()], [15, 19, 22]);
    // The two Struts probes at the end use the first block's layout under the third block's header.
    assert_eq!((s.malformed, s.malformed_lines.as_slice()), (2, &[16u64, 17][..]));
    assert_eq!(s.first_time, Some(ts("2018-01-01T08:09:10Z")));
    assert_eq!(s.last_time, Some(ts("2018-12-31T12:52:33Z")));
    assert!(s.error.is_none() && s.cut == 0 && s.headerless == 0);

    let first = &recs[0];
    assert_eq!(first.line, 5);
    assert_eq!(first.get("cs-uri-query"), Some("q=100"));
    assert_eq!(first.get("cs-username"), Some(""), "`-` reads as empty");
    assert!(first.raw.contains(" - 81.2.69.143 "), "_raw keeps the `-`");
    assert_eq!(
        first.get("cs(User-Agent)"),
        Some("Mozilla/5.0+(Windows+NT+6.1;+Win64;+x64;+rv:57.0)+Gecko/20100101+Firefox/57.0")
    );
    assert_eq!(first.get("s-sitename"), None, "not a field of the first block");
    assert_eq!(recs[1].get("s-sitename"), Some("W3SVC1"));
    assert_eq!(recs[2].get("s-computername"), Some("MACHINE-NAME"));
    assert_eq!(recs[2].get("cs-version"), Some("HTTP/1.1"));
    let probe = &recs[4];
    assert!(probe.malformed);
    assert_eq!(probe.get("cs-method"), None, "another layout under this header: only _raw");
    assert!(probe.get("_raw").is_some_and(|r| r.contains("java.lang.Runtime")));
    assert_eq!(probe.time, Some(ts("2018-12-31T12:52:33Z")));
}

#[test]
fn iis_7_5_log_with_a_mangled_line() {
    let (s, recs) = read("logs/iis/benign/elastic-beats_iis_test-iis-7.5.log");
    assert_eq!((s.lines, s.records, s.blocks, s.malformed), (8, 4, 1, 1));
    assert_eq!(s.malformed_lines, [5]);
    assert_eq!(s.versions, ["1.0"]);
    let mangled = &recs[0];
    assert!(mangled.malformed);
    assert_eq!(mangled.get("c-ip"), Some("[10.100.118.31](http://10.100.118.31)"), "fields kept as logged");
    assert_eq!(mangled.get("sc-status"), Some("404"));
    let v6 = &recs[3];
    assert!(!v6.malformed);
    assert_eq!(v6.get("c-ip"), Some("2001:cdba:0000:0000:0000:0000:3257:9652"));
    assert_eq!(v6.get("cs(User-Agent)"), Some(""));
    assert_eq!(s.first_time, Some(ts("2018-08-28T18:24:25Z")));
    assert_eq!(s.last_time, Some(ts("2019-03-06T18:43:17Z")));
}

#[test]
fn tunna_tunnel_log() {
    let (s, recs) = read("logs/iis/malicious/sbousseaden_Tunna_rdp_tunnel_IIS.log");
    // 4308 lines: 9 `#` lines (two blocks and the author's comment), one blank line, 4298 requests.
    assert_eq!((s.lines, s.records, s.malformed, s.blocks, s.headers.len()), (4308, 4298, 0, 2, 1));
    assert_eq!(s.headers[0].blocks, 2);
    assert_eq!(s.headers[0].first_line, 4);
    let conn = recs.iter().filter(|r| r.get("cs-uri-stem") == Some("/erp/conn.aspx")).count();
    assert_eq!(conn, 4298);
    let posts = recs.iter().filter(|r| r.get("cs-method") == Some("POST")).count();
    assert_eq!(posts, 1737);
    let opens = recs.iter().filter(|r| r.get("cs-uri-query") == Some("proxy&port=3389&ip=127.0.0.1")).count();
    assert_eq!(opens, 3);
    assert!(recs.iter().all(|r| r.get("c-ip") == Some("10.0.2.17")));
    assert_eq!(recs[0].line, 7);
    assert_eq!(s.first_time, Some(ts("2019-09-03T10:13:36Z")));
    assert_eq!(s.last_time, Some(ts("2019-09-03T11:08:51Z")));
}

/// A sink that wants only the records whose raw line holds a literal, as a rules prefilter would.
struct Literal {
    needle: &'static [u8],
    seen: Vec<u64>,
}

impl RecordSink for Literal {
    fn want(&mut self, kind: LogKind, raw: &[u8]) -> bool {
        assert_eq!(kind, LogKind::Iis);
        memchr::memmem::find(raw, self.needle).is_some()
    }

    fn record(&mut self, r: &Record<'_>) {
        self.seen.push(r.line);
    }
}

#[test]
fn prefilter_sees_raw_bytes_and_skips_records() {
    let bytes = std::fs::read(corpus("logs/iis/malicious/sbousseaden_Tunna_rdp_tunnel_IIS.log")).expect("readable");
    let mut sink = Literal { needle: b" POST ", seen: Vec::new() };
    let s = read_log(LogKind::Iis, "tunna.log", &bytes[..], &ReadOptions::default(), &mut sink);
    assert_eq!((s.records, s.delivered), (4298, 1737));
    assert_eq!(sink.seen.len(), 1737);
    assert!(sink.seen.windows(2).all(|w| w[0] < w[1]), "records come in line order");
    // Statistics do not depend on what the sink wants.
    assert_eq!(s.last_time, Some(ts("2019-09-03T11:08:51Z")));
}
