//! `--format shadowserver` (of `exhunt scan` and `exhunt detect`): observations as rows of Shadowserver's `scan_exchange` report, the CSV that national
//! CERTs and IntelMQ already ingest.
//!
//! Columns, in order, from `The-Shadowserver-Foundation/report_schema` `reports.json` (`scan_exchange`, read at
//! HEAD 2026-03-24; `../shared/reference/notify-anchors.md` §4.1, sample rows in `scan-anchors.md` §5 from IntelMQ's
//! `intelmq/tests/bots/parsers/shadowserver/testdata/scan_exchange.csv`). The 2021 original had `sic` and lacked
//! `severity`, `protocol` and `hostname_source`; IntelMQ parses both by column name.
//!
//! One row per Exchange host with at least one vulnerable chain (`tag` `exchange;` and the chains' CVEs in lower
//! case, e.g. `exchange;cve-2021-26855;…`), and one row per web shell found (`tag` `exchange;webshell`, `url` the
//! shell's URL) — the two tags IntelMQ maps to `vulnerable-exchange-server` and `exchange-server-webshell`. A host
//! whose build cannot tell (indeterminate) is not reported, as Shadowserver reports by build only when it is sure.
//! `asn`, `geo`, `region`, `city`, `naics` and `sector` are left empty: they are enrichment, not observation.
//!
//! Every cell a server chose (certificate names, `X-FEServer`, NTLM names, paths) goes through
//! [`crate::csv_safe`], so a spreadsheet never evaluates it as a formula.

use crate::csv_safe;
use exhunt_model::{Chain, ChainStatus, Class, Observation};
use std::io::{self, Write};

/// The `scan_exchange` columns, in order.
pub const COLUMNS: [&str; 17] = [
    "timestamp",
    "severity",
    "ip",
    "protocol",
    "port",
    "hostname",
    "tag",
    "asn",
    "geo",
    "region",
    "city",
    "naics",
    "hostname_source",
    "sector",
    "version",
    "servername",
    "url",
];

/// `YYYY-MM-DD HH:MM:SS` UTC, Shadowserver's timestamp, from an RFC 3339 time (empty when it is not one).
fn timestamp(rfc3339: &str) -> String {
    exhunt_model::Timestamp::parse_rfc3339(rfc3339).map(|t| t.to_seconds_string()).unwrap_or_default()
}

/// The rows of one observation (none for most).
pub fn rows(obs: &Observation) -> Vec<[String; 17]> {
    let Some(f) = obs.fingerprint.as_ref().filter(|f| f.class == Class::Exchange) else { return Vec::new() };
    let cert_cn = obs.tls.as_ref().and_then(|t| t.cert.as_ref()).and_then(|c| c.subject_cn.clone());
    let (hostname, source) = match (&obs.name, cert_cn) {
        (Some(n), _) => (n.clone(), "target"),
        (None, Some(cn)) => (cn, "certificate"),
        (None, None) => (String::new(), ""),
    };
    let servername =
        f.feserver.clone().or_else(|| f.ntlm.as_ref().and_then(|n| n.netbios_computer.clone())).unwrap_or_default();
    let version = f.build.map(|b| b.cu_prefix().to_string()).unwrap_or_default();
    let row = |severity: &str, tag: String, url: String| -> [String; 17] {
        [
            timestamp(&obs.started),
            severity.to_string(),
            obs.ip.to_string(),
            "tcp".to_string(),
            obs.port.to_string(),
            csv_safe(&hostname),
            tag,
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            source.to_string(),
            String::new(),
            version.clone(),
            csv_safe(&servername),
            csv_safe(&url),
        ]
    };
    let mut out = Vec::new();
    let cves: Vec<String> = Chain::ALL
        .iter()
        .filter(|c| f.chains.get(c.as_str()) == Some(&ChainStatus::Vulnerable))
        .flat_map(|c| c.cves().iter().map(|cve| cve.to_ascii_lowercase()))
        .collect();
    if !cves.is_empty() {
        out.push(row("critical", format!("exchange;{}", cves.join(";")), String::new()));
    }
    let authority = obs.authority();
    for w in &f.webshells {
        out.push(row("critical", "exchange;webshell".to_string(), format!("https://{authority}{}", w.path)));
    }
    out
}

/// Writes the header, then rows as observations come.
pub struct Writer<W: Write> {
    csv: csv::Writer<W>,
    pub rows: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> io::Result<Writer<W>> {
        let mut csv = csv::WriterBuilder::new().quote_style(csv::QuoteStyle::Necessary).from_writer(out);
        csv.write_record(COLUMNS).map_err(io::Error::other)?;
        Ok(Writer { csv, rows: 0 })
    }

    /// Writes the rows of one observation and flushes them.
    pub fn write(&mut self, obs: &Observation) -> io::Result<()> {
        for r in rows(obs) {
            self.csv.write_record(&r).map_err(io::Error::other)?;
            self.rows += 1;
        }
        self.csv.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exhunt_model::{Build, CertInfo, Fingerprint, ScanStatus, TlsInfo, WebShellHit};

    fn exchange(chains: &[(&str, ChainStatus)], shells: &[&str], feserver: &str) -> Observation {
        Observation {
            seq: Some(0),
            ip: "127.0.0.9".parse().expect("ip"),
            port: 8443,
            name: None,
            status: ScanStatus::Success,
            phase: None,
            error: None,
            started: "2021-03-09T10:11:12.345Z".into(),
            elapsed_ms: 1,
            tls: Some(TlsInfo {
                cert: Some(CertInfo { subject_cn: Some("=HYPERLINK(\"http://x\")".into()), ..Default::default() }),
                ..Default::default()
            }),
            probes: Vec::new(),
            fingerprint: Some(Fingerprint {
                class: Class::Exchange,
                build: Some(Build::new(15, 1, 2176, 2)),
                build_source: None,
                product: None,
                chains: chains.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                verdict: None,
                feserver: Some(feserver.into()),
                ntlm: None,
                webshells: shells
                    .iter()
                    .map(|p| WebShellHit { path: p.to_string(), confidence: "confirmed".into() })
                    .collect(),
            }),
        }
    }

    #[test]
    fn vulnerable_hosts_and_web_shells_become_scan_exchange_rows() {
        let o = exchange(
            &[("proxylogon", ChainStatus::Vulnerable), ("proxyshell", ChainStatus::Indeterminate)],
            &["/aspnet_client/shell.aspx"],
            "EX01",
        );
        let mut w = Writer::new(Vec::new()).expect("w");
        w.write(&o).expect("row");
        let text = String::from_utf8(w.csv.into_inner().expect("inner")).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], COLUMNS.join(","));
        assert_eq!(
            lines[1],
            "2021-03-09 10:11:12,critical,127.0.0.9,tcp,8443,\"'=HYPERLINK(\"\"http://x\"\")\",\
             exchange;cve-2021-26855;cve-2021-26857;cve-2021-26858;cve-2021-27065,,,,,,certificate,,15.1.2176,EX01,"
        );
        assert_eq!(
            lines[2],
            "2021-03-09 10:11:12,critical,127.0.0.9,tcp,8443,\"'=HYPERLINK(\"\"http://x\"\")\",exchange;webshell,,,,,,\
             certificate,,15.1.2176,EX01,https://127.0.0.9:8443/aspnet_client/shell.aspx"
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn fixed_and_indeterminate_hosts_and_formula_servernames() {
        let o = exchange(&[("proxylogon", ChainStatus::Fixed), ("proxyshell", ChainStatus::Indeterminate)], &[], "x");
        assert!(rows(&o).is_empty());
        let o = exchange(&[("proxynotshell", ChainStatus::Vulnerable)], &[], "+cmd|' /C calc'!A0");
        let r = rows(&o);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0][6], "exchange;cve-2022-41040;cve-2022-41082");
        assert_eq!(r[0][15], "'+cmd|' /C calc'!A0");
    }
}
