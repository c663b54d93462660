//! The build catalog and the verdict function, checked against both build tables:
//! the project's research table (`shared/reference/exchange-builds.csv`) and Microsoft's own
//! (`shared/corpus/fingerprint/builds/microsoft_ExchangeBuildNumbers.csv`), read in place.

use exhunt_kb::{Catalog, Kb};
use exhunt_model::{Build, Chain, ChainStatus};
use exhunt_testkit::shared;
use std::collections::BTreeMap;
use std::path::Path;

fn kb() -> Kb {
    let (kb, diags) = Kb::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb"));
    let errors: Vec<String> = diags.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "shipped kb has errors:\n{}", errors.join("\n"));
    kb
}

fn flag(s: &str) -> Option<bool> {
    match s {
        "yes" => Some(true),
        "no" => Some(false),
        "n/a" => None,
        other => panic!("bad flag {other}"),
    }
}

/// What the reference table says for a chain: None means not affected.
fn expected(row: &csv::StringRecord, h: &csv::StringRecord, chain: Chain) -> ChainStatus {
    let col = |name: &str| flag(&row[h.iter().position(|x| x == name).expect("column")]);
    let flags: Vec<Option<bool>> = match chain {
        Chain::ProxyLogon => vec![col("proxylogon_26855_fixed")],
        Chain::ProxyShell => vec![col("proxyshell_34473_fixed"), col("proxyshell_31207_fixed")],
        Chain::ProxyNotShell => vec![col("proxynotshell_41040_fixed")],
    };
    if flags.iter().all(Option::is_none) {
        ChainStatus::NotAffected
    } else if flags.iter().all(|f| *f == Some(true)) {
        ChainStatus::Fixed
    } else {
        ChainStatus::Vulnerable
    }
}

fn reference() -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut rdr = csv::Reader::from_path(shared().join("reference/exchange-builds.csv")).expect("reference table");
    let h = rdr.headers().expect("headers").clone();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("row")).collect();
    (h, rows)
}

#[test]
fn every_reference_row_gets_its_verdict() {
    let kb = kb();
    let (h, rows) = reference();
    assert_eq!(rows.len(), 362);
    assert_eq!(kb.catalog.rows().len(), 362, "the catalog has every row of the reference table");
    let bl = h.iter().position(|x| x == "build_long").expect("build_long");
    let ms = h.iter().position(|x| x == "build_ms_long_format").expect("ms long");
    for row in &rows {
        for input in [&row[bl], &row[ms]] {
            let v = kb.catalog.verdict_str(input);
            assert_eq!(v.matched, "exact", "{input}");
            for chain in Chain::ALL {
                let got = v.chain(chain).expect("chain").status;
                assert_eq!(got, expected(row, &h, chain), "{input} {chain}");
            }
        }
    }
}

#[test]
fn every_cu_level_build_is_fixed_vulnerable_or_indeterminate_by_its_rows() {
    let kb = kb();
    let (h, rows) = reference();
    let bs = h.iter().position(|x| x == "build_short").expect("build_short");
    let mut by_cu: BTreeMap<String, Vec<&csv::StringRecord>> = BTreeMap::new();
    for r in &rows {
        by_cu.entry(r[bs].to_string()).or_default().push(r);
    }
    let mut seen = [0usize; 3];
    for (cu, rs) in &by_cu {
        let v = kb.catalog.verdict_str(cu);
        assert_eq!(v.matched, "cu", "{cu}");
        for chain in Chain::ALL {
            let each: Vec<ChainStatus> = rs.iter().map(|r| expected(r, &h, chain)).collect();
            let want = if each.iter().all(|s| *s == ChainStatus::NotAffected) {
                ChainStatus::NotAffected
            } else if each.iter().all(|s| *s == ChainStatus::Fixed) {
                seen[0] += 1;
                ChainStatus::Fixed
            } else if each.iter().all(|s| *s == ChainStatus::Vulnerable) {
                seen[1] += 1;
                ChainStatus::Vulnerable
            } else {
                seen[2] += 1;
                ChainStatus::Indeterminate
            };
            // Exchange 2010 CU-level builds are not-affected through the product rule.
            assert_eq!(v.chain(chain).expect("chain").status, want, "{cu} {chain}");
        }
    }
    assert!(seen.iter().all(|n| *n > 0), "all three outcomes occur: {seen:?}");
}

#[test]
fn every_row_of_microsofts_table_matches_the_catalog() {
    let kb = kb();
    let (h, rows) = reference();
    let bl = h.iter().position(|x| x == "build_long").expect("build_long");
    let by_build: BTreeMap<Build, &csv::StringRecord> =
        rows.iter().map(|r| (Build::parse(&r[bl]).expect("reference build"), r)).collect();
    let mut rdr = csv::Reader::from_path(shared().join("corpus/fingerprint/builds/microsoft_ExchangeBuildNumbers.csv"))
        .expect("microsoft table");
    let mut counts = BTreeMap::<&str, usize>::new();
    for rec in rdr.records() {
        let rec = rec.expect("row");
        let (name, build) = (&rec[0], &rec[1]);
        let b = Build::parse(build).unwrap_or_else(|e| panic!("{name}: {e}"));
        let v = kb.catalog.verdict(&b);
        if b.major >= 15 {
            let row = by_build.get(&b).unwrap_or_else(|| panic!("{name} {build} is not in the catalog"));
            assert_eq!(v.matched, "exact");
            for chain in Chain::ALL {
                assert_eq!(v.chain(chain).expect("chain").status, expected(row, &h, chain), "{name} {chain}");
            }
            *counts.entry("2013+").or_default() += 1;
        } else {
            for c in &v.chains {
                assert_eq!(c.status, ChainStatus::NotAffected, "{name} {build}");
            }
            *counts.entry(if b.major == 14 { "2010" } else { "older" }).or_default() += 1;
        }
    }
    assert_eq!(counts.values().sum::<usize>(), 340, "every row of Microsoft's table: {counts:?}");
}

#[test]
fn the_issue_examples() {
    let kb = kb();
    let s = |b: &str, c: Chain| kb.catalog.verdict_str(b).chain(c).expect("chain").status;
    assert_eq!(s("15.1.2176.2", Chain::ProxyLogon), ChainStatus::Vulnerable);
    assert_eq!(s("15.1.2176.9", Chain::ProxyLogon), ChainStatus::Fixed);
    assert_eq!(s("15.1.2176.9", Chain::ProxyShell), ChainStatus::Vulnerable);
    assert_eq!(s("15.01.2176.009", Chain::ProxyLogon), ChainStatus::Fixed);
    assert_eq!(s("15.1.2176", Chain::ProxyLogon), ChainStatus::Indeterminate);
    assert_eq!(s("14.3.123.4", Chain::ProxyLogon), ChainStatus::NotAffected);
    assert_eq!(s("14.2.247.5", Chain::ProxyShell), ChainStatus::NotAffected);
}

#[test]
fn unknown_builds_say_why() {
    let kb = kb();
    let reason = |b: &str| {
        let v = kb.catalog.verdict_str(b);
        let c = v.chain(Chain::ProxyLogon).expect("chain");
        assert_eq!(c.status, ChainStatus::Unknown, "{b}");
        c.reason.clone()
    };
    assert!(reason("15.x.2176.9").starts_with("malformed build"));
    assert!(reason("15.1.9999.1").starts_with("newer than the catalog"));
    assert!(reason("15.2.9999").starts_with("newer than the catalog"));
    assert!(reason("3.1.2.4").contains("not an Exchange version"));
    assert!(reason("16.0.1.1").contains("not an Exchange version"));
    assert!(reason("15.1.1000").contains("not a known CU"));
}

#[test]
fn builds_missing_from_a_known_cu_are_inferred_from_their_neighbours() {
    let kb = kb();
    // 15.1.2176.10 lies between the March 2021 SU (.9, ProxyLogon fixed) and the April SU (.12).
    let v = kb.catalog.verdict_str("15.1.2176.10");
    assert_eq!(v.matched, "inferred");
    assert_eq!(v.chain(Chain::ProxyLogon).expect("c").status, ChainStatus::Fixed);
    assert_eq!(v.chain(Chain::ProxyShell).expect("c").status, ChainStatus::Vulnerable);
    // Newer than the newest SU of Exchange 2019 CU14: every chain fixed by accumulation.
    let v = kb.catalog.verdict_str("15.2.1544.99");
    assert!(v.chains.iter().all(|c| c.status == ChainStatus::Fixed));
}

fn golden(name: &str, actual: &str) {
    exhunt_testkit::golden(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catalog").join(name), actual);
}

#[test]
fn malformed_catalog_rows_get_located_diagnostics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catalog/bad.csv");
    let text = std::fs::read_to_string(&path).expect("fixture");
    let mut diags = Vec::new();
    let cat = Catalog::parse(&text, "fixtures/catalog/bad.csv", &mut diags);
    let rendered: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    golden("bad.expected", &(rendered.join("\n\n") + "\n"));
    // The two good rows and the "regressed" one (its error is about its relation to another row) are kept.
    assert_eq!(cat.rows().len(), 3);
}
