//! The Exchange build catalog and the one verdict function that scan and hunt share.
//!
//! `kb/builds/exchange-builds.csv` has one row per Exchange build (2010 SP3 to Exchange SE) with per-CVE-group fix
//! flags. [`Catalog::verdict`] turns any build spelling into a [`BuildVerdict`] per chain:
//!
//! * a four-part build in the catalog: `fixed` or `vulnerable` from its row;
//! * a four-part build not in the catalog but inside a known CU: fixes accumulate within a CU, so a build newer than
//!   a fixed build of its CU is `fixed`, and one older than a vulnerable build is `vulnerable`; otherwise `unknown`;
//! * a three-part (CU-level) build: `fixed` when every build of the CU is fixed, `vulnerable` when none is, otherwise
//!   `indeterminate`;
//! * Exchange 2010 and older: `not-affected`;
//! * anything else: `unknown`, with the reason (malformed, newer than the catalog, not an Exchange version).

use crate::diag::Diagnostic;
use crate::files::KbFiles;
use exhunt_model::{Build, BuildVerdict, Chain, ChainStatus, ChainVerdict, CveStatus};
use std::collections::BTreeMap;

/// Where the catalog lives under the kb root.
pub const CATALOG_PATH: &str = "builds/exchange-builds.csv";

/// A fix flag from the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fix {
    Yes,
    No,
    /// The product is not affected (Exchange 2010).
    NotApplicable,
}

/// The groups of CVEs that the catalog tracks with one flag each, and the chain each belongs to.
pub const FIX_GROUPS: &[(Chain, &str, &[&str])] = &[
    (
        Chain::ProxyLogon,
        "proxylogon_26855_fixed",
        &["CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858", "CVE-2021-27065"],
    ),
    (Chain::ProxyShell, "proxyshell_34473_fixed", &["CVE-2021-34473", "CVE-2021-34523"]),
    (Chain::ProxyShell, "proxyshell_31207_fixed", &["CVE-2021-31207"]),
    (Chain::ProxyNotShell, "proxynotshell_41040_fixed", &["CVE-2022-41040", "CVE-2022-41082"]),
];

/// One row of the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogRow {
    /// `2010`, `2013`, `2016`, `2019`, `SE`.
    pub product: String,
    pub name: String,
    pub release_date: String,
    pub build: Build,
    pub cu: String,
    pub update: String,
    pub kb: String,
    /// One flag per entry of [`FIX_GROUPS`], in that order.
    pub fixes: [Fix; 4],
    pub sources: String,
    pub notes: String,
    /// 1-based line in the CSV file.
    pub line: usize,
}

impl CatalogRow {
    fn chain_fix(&self, chain: Chain) -> Vec<(Fix, &'static [&'static str])> {
        FIX_GROUPS
            .iter()
            .zip(self.fixes.iter())
            .filter(|((c, _, _), _)| *c == chain)
            .map(|((_, _, cves), f)| (*f, *cves))
            .collect()
    }

    /// True when every fix of the chain is in this build.
    pub fn is_fixed(&self, chain: Chain) -> bool {
        self.chain_fix(chain).iter().all(|(f, _)| *f == Fix::Yes)
    }

    /// The chain status of this exact build.
    pub fn status(&self, chain: Chain) -> ChainStatus {
        let fixes = self.chain_fix(chain);
        if fixes.iter().all(|(f, _)| *f == Fix::NotApplicable) {
            ChainStatus::NotAffected
        } else if fixes.iter().all(|(f, _)| *f == Fix::Yes) {
            ChainStatus::Fixed
        } else {
            ChainStatus::Vulnerable
        }
    }

    fn cve_statuses(&self, chain: Chain) -> Vec<CveStatus> {
        let mut out = Vec::new();
        for (fix, cves) in self.chain_fix(chain) {
            let status = match fix {
                Fix::Yes => ChainStatus::Fixed,
                Fix::No => ChainStatus::Vulnerable,
                Fix::NotApplicable => ChainStatus::NotAffected,
            };
            out.extend(cves.iter().map(|c| CveStatus { cve: (*c).to_string(), status }));
        }
        out
    }
}

/// The build catalog, sorted by build.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    rows: Vec<CatalogRow>,
    /// CU prefix → indices into `rows`, ascending by build.
    by_cu: BTreeMap<Build, Vec<usize>>,
}

/// Parses the catalog CSV. Problems become diagnostics; good rows are kept.
pub fn load(files: &KbFiles, diags: &mut Vec<Diagnostic>) -> Catalog {
    match files.get(CATALOG_PATH) {
        Some(f) => Catalog::parse(&f.text, &f.display, diags),
        None => {
            diags.push(Diagnostic::error("K018", CATALOG_PATH, "the build catalog is missing"));
            Catalog::default()
        }
    }
}

const COLUMNS: &[&str] = &[
    "product",
    "name",
    "release_date",
    "build_short",
    "build_long",
    "proxylogon_26855_fixed",
    "proxyshell_34473_fixed",
    "proxynotshell_41040_fixed",
    "proxyshell_31207_fixed",
    "cu",
    "update",
    "kb",
    "build_ms_long_format",
    "sources",
    "notes",
];

impl Catalog {
    /// Parses catalog CSV text; `display` names the file in diagnostics.
    pub fn parse(text: &str, display: &str, diags: &mut Vec<Diagnostic>) -> Catalog {
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
        let headers = match rdr.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                diags.push(Diagnostic::error("K018", display, format!("cannot read the header row: {e}")).at(1, 1));
                return Catalog::default();
            }
        };
        let mut idx = BTreeMap::new();
        for col in COLUMNS {
            match headers.iter().position(|h| h == *col) {
                Some(i) => {
                    idx.insert(*col, i);
                }
                None => {
                    diags.push(
                        Diagnostic::error("K018", display, format!("missing column `{col}`"))
                            .at(1, 1)
                            .with_help(format!("the header row must name: {}", COLUMNS.join(", "))),
                    );
                }
            }
        }
        if idx.len() != COLUMNS.len() {
            return Catalog::default();
        }
        let mut rows: Vec<CatalogRow> = Vec::new();
        for rec in rdr.records() {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                    diags.push(Diagnostic::error("K018", display, format!("bad CSV row: {e}")).at(line, 1));
                    continue;
                }
            };
            let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
            let get = |col: &str| rec.get(idx[col]).unwrap_or("").trim().to_string();
            // Column of a field on its line, for diagnostics (1-based, approximate when fields are quoted).
            let col_of = |col: &str| -> usize {
                let i = idx[col];
                1 + (0..i).map(|j| rec.get(j).map(|s| s.chars().count() + 1).unwrap_or(1)).sum::<usize>()
            };
            let short = match Build::parse(&get("build_long")) {
                Ok(b) if b.is_exact() => b,
                Ok(_) => {
                    diags.push(
                        Diagnostic::error("K018", display, "`build_long` must have four parts")
                            .at(line, col_of("build_long")),
                    );
                    continue;
                }
                Err(e) => {
                    diags.push(
                        Diagnostic::error("K018", display, format!("malformed build `{}`: {}", e.input, e.reason))
                            .at(line, col_of("build_long") + e.column.saturating_sub(1)),
                    );
                    continue;
                }
            };
            let mut consistent = true;
            for (col, want) in [("build_short", short.cu_prefix()), ("build_ms_long_format", short)] {
                match Build::parse(&get(col)) {
                    Ok(b) if b == want => {}
                    Ok(b) => {
                        diags.push(
                            Diagnostic::error("K018", display, format!("`{col}` is {b} but `build_long` says {want}"))
                                .at(line, col_of(col)),
                        );
                        consistent = false;
                    }
                    Err(e) => {
                        diags.push(
                            Diagnostic::error("K018", display, format!("malformed build `{}`: {}", e.input, e.reason))
                                .at(line, col_of(col) + e.column.saturating_sub(1)),
                        );
                        consistent = false;
                    }
                }
            }
            let mut fixes = [Fix::No; 4];
            for (i, (_, col, _)) in FIX_GROUPS.iter().enumerate() {
                fixes[i] = match get(col).as_str() {
                    "yes" => Fix::Yes,
                    "no" => Fix::No,
                    "n/a" => Fix::NotApplicable,
                    other => {
                        diags.push(
                            Diagnostic::error("K019", display, format!("`{col}` is `{other}`"))
                                .at(line, col_of(col))
                                .with_help("use yes, no or n/a"),
                        );
                        consistent = false;
                        Fix::No
                    }
                };
            }
            let product = get("product");
            let na = fixes.iter().filter(|f| **f == Fix::NotApplicable).count();
            if (product == "2010") != (na == 4) || (na != 0 && na != 4) {
                diags.push(
                    Diagnostic::error("K018", display, format!("product {product} with {na} of 4 fix flags `n/a`"))
                        .at(line, col_of("product"))
                        .with_help("Exchange 2010 rows are n/a for every chain; other rows are yes or no"),
                );
                consistent = false;
            }
            let expected_product = product_of(&short);
            if expected_product != Some(product.as_str()) {
                diags.push(
                    Diagnostic::error(
                        "K018",
                        display,
                        format!(
                            "build {short} belongs to {}, not `{product}`",
                            expected_product.unwrap_or("no product")
                        ),
                    )
                    .at(line, col_of("product")),
                );
                consistent = false;
            }
            if let Some(prev) = rows.iter().find(|r| r.build == short) {
                diags.push(
                    Diagnostic::error(
                        "K004",
                        display,
                        format!("build {short} is listed twice (first on line {})", prev.line),
                    )
                    .at(line, col_of("build_long")),
                );
                continue;
            }
            if get("sources").is_empty() {
                diags.push(
                    Diagnostic::error("K009", display, format!("build {short} has no source"))
                        .at(line, col_of("sources")),
                );
                consistent = false;
            }
            let date = get("release_date");
            if !valid_date(&date, true) {
                diags.push(
                    Diagnostic::error("K006", display, format!("release date `{date}` is not YYYY-MM-DD or YYYY-MM"))
                        .at(line, col_of("release_date")),
                );
                consistent = false;
            }
            if !consistent {
                continue;
            }
            rows.push(CatalogRow {
                product,
                name: get("name"),
                release_date: date,
                build: short,
                cu: get("cu"),
                update: get("update"),
                kb: get("kb"),
                fixes,
                sources: get("sources"),
                notes: get("notes"),
                line,
            });
        }
        // Fixes accumulate: within a CU, a fixed build must not be followed by a vulnerable one.
        rows.sort_by_key(|r| r.build);
        let mut by_cu: BTreeMap<Build, Vec<usize>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            by_cu.entry(r.build.cu_prefix()).or_default().push(i);
        }
        for ids in by_cu.values() {
            for w in ids.windows(2) {
                let (a, b) = (&rows[w[0]], &rows[w[1]]);
                for (gi, (chain, col, _)) in FIX_GROUPS.iter().enumerate() {
                    if a.fixes[gi] == Fix::Yes && b.fixes[gi] == Fix::No {
                        diags.push(
                            Diagnostic::error(
                                "K018",
                                display,
                                format!(
                                    "{} is not fixed (`{col}`) but the earlier build {} of the same CU is: {chain} fixes accumulate within a CU",
                                    b.build, a.build
                                ),
                            )
                            .at(b.line, 1),
                        );
                    }
                }
            }
        }
        Catalog { rows, by_cu }
    }

    /// Every row, ascending by build.
    pub fn rows(&self) -> &[CatalogRow] {
        &self.rows
    }

    /// The row of an exact build.
    pub fn get(&self, build: &Build) -> Option<&CatalogRow> {
        self.rows.binary_search_by_key(build, |r| r.build).ok().map(|i| &self.rows[i])
    }

    /// The rows of one CU (by three-part prefix), ascending.
    pub fn cu_rows(&self, cu: &Build) -> Vec<&CatalogRow> {
        self.by_cu.get(&cu.cu_prefix()).map(|ids| ids.iter().map(|i| &self.rows[*i]).collect()).unwrap_or_default()
    }

    /// The newest build the catalog knows for a product line (`major.minor`).
    fn newest(&self, major: u32, minor: u32) -> Option<&CatalogRow> {
        self.rows.iter().rev().find(|r| r.build.major == major && r.build.minor == minor)
    }

    /// Parses `input` and gives the verdict per chain. Never fails: a malformed input yields `unknown`.
    pub fn verdict_str(&self, input: &str) -> BuildVerdict {
        match Build::parse(input) {
            Ok(b) => {
                let mut v = self.verdict(&b);
                v.input = input.to_string();
                v
            }
            Err(e) => unknown(input, None, None, &format!("malformed build: {}", e.reason)),
        }
    }

    /// The verdict per chain for a parsed build. See the module documentation for the logic.
    pub fn verdict(&self, build: &Build) -> BuildVerdict {
        let input = build.to_string();
        let Some(product) = product_of(build) else {
            return unknown(&input, Some(*build), None, &not_exchange_reason(build));
        };
        if build.major < 15 {
            return self.not_affected(&input, build, product);
        }
        if build.is_exact() {
            if let Some(row) = self.get(build) {
                return from_row(&input, row, "exact", |chain| {
                    let status = row.status(chain);
                    let reason = match status {
                        ChainStatus::Fixed => format!("{} includes every {chain} fix", row.name),
                        _ => format!("{} lacks {}", row.name, missing_fix_text(row, chain)),
                    };
                    (status, reason, row.cve_statuses(chain))
                });
            }
            return self.inferred(&input, build, product);
        }
        self.cu_level(&input, build, product)
    }

    fn not_affected(&self, input: &str, build: &Build, product: &str) -> BuildVerdict {
        let row = self.get(build);
        let reason = if product == "2010" {
            "Exchange 2010 does not contain the vulnerable code (the affected products are 2013, 2016 and 2019); for \
             CVE-2021-26857 Microsoft shipped a defense-in-depth update for 2010 SP3 (Update Rollup 32, 14.3.513.0)"
        } else {
            "releases older than Exchange 2010 do not contain the vulnerable code (the affected products are 2013, 2016 and 2019)"
        };
        let chains = Chain::ALL
            .iter()
            .map(|c| ChainVerdict {
                chain: *c,
                status: ChainStatus::NotAffected,
                reason: reason.to_string(),
                cves: c
                    .cves()
                    .iter()
                    .map(|cve| CveStatus { cve: (*cve).to_string(), status: ChainStatus::NotAffected })
                    .collect(),
            })
            .collect();
        BuildVerdict {
            input: input.to_string(),
            build: Some(*build),
            product: Some(product.to_string()),
            name: row.map(|r| r.name.clone()).or_else(|| Some(format!("Exchange {product}"))),
            cu: row.map(|r| r.cu.clone()).filter(|s| !s.is_empty()),
            update: row.map(|r| r.update.clone()).filter(|s| !s.is_empty()),
            kb: row.map(|r| r.kb.clone()).filter(|s| !s.is_empty()),
            release_date: row.map(|r| r.release_date.clone()),
            matched: if row.is_some() {
                "exact"
            } else if !build.is_exact() && !self.cu_rows(build).is_empty() {
                "cu"
            } else {
                "product"
            }
            .to_string(),
            chains,
        }
    }

    /// A four-part build that the catalog does not list.
    fn inferred(&self, input: &str, build: &Build, product: &str) -> BuildVerdict {
        let cu_rows = self.cu_rows(build);
        if cu_rows.is_empty() {
            return self.unknown_cu(input, build, product);
        }
        let first = cu_rows[0];
        let chains = Chain::ALL
            .iter()
            .map(|chain| {
                let older_fixed = cu_rows.iter().rfind(|r| r.build < *build && r.is_fixed(*chain));
                let newer_vuln = cu_rows.iter().find(|r| r.build > *build && !r.is_fixed(*chain));
                let (status, reason) = match (older_fixed, newer_vuln) {
                    (Some(r), _) => (
                        ChainStatus::Fixed,
                        format!("not in the catalog, but newer than {} ({}), which includes every {chain} fix; updates within a CU are cumulative", r.build, r.name),
                    ),
                    (None, Some(r)) => (
                        ChainStatus::Vulnerable,
                        format!("not in the catalog, but older than {} ({}), which still lacks {}", r.build, r.name, missing_fix_text(r, *chain)),
                    ),
                    (None, None) => (
                        ChainStatus::Unknown,
                        format!("not in the catalog; no known build of {} brackets it for {chain}", cu_label(first)),
                    ),
                };
                let cves = chain.cves().iter().map(|c| CveStatus { cve: (*c).to_string(), status }).collect();
                ChainVerdict { chain: *chain, status, reason, cves }
            })
            .collect();
        BuildVerdict {
            input: input.to_string(),
            build: Some(*build),
            product: Some(product.to_string()),
            name: Some(cu_label(first)),
            cu: Some(first.cu.clone()),
            update: None,
            kb: None,
            release_date: None,
            matched: "inferred".to_string(),
            chains,
        }
    }

    /// A CU-level (three-part) build.
    fn cu_level(&self, input: &str, build: &Build, product: &str) -> BuildVerdict {
        let cu_rows = self.cu_rows(build);
        if cu_rows.is_empty() {
            return self.unknown_cu(input, build, product);
        }
        let first = cu_rows[0];
        let label = cu_label(first);
        let chains = Chain::ALL
            .iter()
            .map(|chain| {
                let fixed: Vec<&&CatalogRow> = cu_rows.iter().filter(|r| r.is_fixed(*chain)).collect();
                let (status, reason) = if fixed.len() == cu_rows.len() {
                    (ChainStatus::Fixed, format!("every known build of {label} includes every {chain} fix"))
                } else if fixed.is_empty() {
                    (
                        ChainStatus::Vulnerable,
                        format!("no build of {label} includes every {chain} fix; {}", upgrade_hint(*chain)),
                    )
                } else {
                    let f = fixed[0];
                    (
                        ChainStatus::Indeterminate,
                        format!(
                            "builds of {label} from {} ({}) on are fixed, earlier ones are not; the CU-level build does not say which is installed",
                            f.build,
                            if f.update.is_empty() { f.name.as_str() } else { f.update.as_str() }
                        ),
                    )
                };
                let cves = per_cve_cu(&cu_rows, *chain);
                ChainVerdict { chain: *chain, status, reason, cves }
            })
            .collect();
        BuildVerdict {
            input: input.to_string(),
            build: Some(*build),
            product: Some(product.to_string()),
            name: Some(label),
            cu: Some(first.cu.clone()).filter(|s| !s.is_empty()),
            update: None,
            kb: None,
            release_date: Some(first.release_date.clone()),
            matched: "cu".to_string(),
            chains,
        }
    }

    /// An Exchange 2013+ build whose CU the catalog does not know.
    fn unknown_cu(&self, input: &str, build: &Build, product: &str) -> BuildVerdict {
        let reason = match self.newest(build.major, build.minor) {
            Some(n) if build.cu_prefix() > n.build.cu_prefix() => {
                let all_fixed = Chain::ALL.iter().all(|c| n.is_fixed(*c));
                format!(
                    "newer than the catalog (its newest {} build is {}, {}){}; update exhunt's knowledge base",
                    product_label(product),
                    n.build,
                    n.release_date,
                    if all_fixed {
                        ", and every newer CU carries the earlier fixes, so it is very likely fixed"
                    } else {
                        ""
                    }
                )
            }
            Some(_) => format!("{} is not a known CU of {}", build.cu_prefix(), product_label(product)),
            None => format!("the catalog has no {} builds", product_label(product)),
        };
        unknown(input, Some(*build), Some(product), &reason)
    }
}

fn per_cve_cu(cu_rows: &[&CatalogRow], chain: Chain) -> Vec<CveStatus> {
    let mut out = Vec::new();
    for (gi, (c, _, cves)) in FIX_GROUPS.iter().enumerate() {
        if *c != chain {
            continue;
        }
        let n = cu_rows.iter().filter(|r| r.fixes[gi] == Fix::Yes).count();
        let status = if n == cu_rows.len() {
            ChainStatus::Fixed
        } else if n == 0 {
            ChainStatus::Vulnerable
        } else {
            ChainStatus::Indeterminate
        };
        out.extend(cves.iter().map(|cve| CveStatus { cve: (*cve).to_string(), status }));
    }
    out
}

fn from_row(
    input: &str,
    row: &CatalogRow,
    matched: &str,
    f: impl Fn(Chain) -> (ChainStatus, String, Vec<CveStatus>),
) -> BuildVerdict {
    let chains = Chain::ALL
        .iter()
        .map(|c| {
            let (status, reason, cves) = f(*c);
            ChainVerdict { chain: *c, status, reason, cves }
        })
        .collect();
    let nonempty = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
    BuildVerdict {
        input: input.to_string(),
        build: Some(row.build),
        product: Some(row.product.clone()),
        name: Some(row.name.clone()),
        cu: nonempty(&row.cu),
        update: nonempty(&row.update),
        kb: nonempty(&row.kb),
        release_date: nonempty(&row.release_date),
        matched: matched.to_string(),
        chains,
    }
}

fn unknown(input: &str, build: Option<Build>, product: Option<&str>, reason: &str) -> BuildVerdict {
    BuildVerdict {
        input: input.to_string(),
        build,
        product: product.map(str::to_string),
        name: None,
        cu: None,
        update: None,
        kb: None,
        release_date: None,
        matched: "none".to_string(),
        chains: Chain::ALL
            .iter()
            .map(|c| ChainVerdict {
                chain: *c,
                status: ChainStatus::Unknown,
                reason: reason.to_string(),
                cves: c
                    .cves()
                    .iter()
                    .map(|cve| CveStatus { cve: (*cve).to_string(), status: ChainStatus::Unknown })
                    .collect(),
            })
            .collect(),
    }
}

fn missing_fix_text(row: &CatalogRow, chain: Chain) -> String {
    let missing: Vec<&str> = FIX_GROUPS
        .iter()
        .zip(row.fixes.iter())
        .filter(|((c, _, _), f)| *c == chain && **f != Fix::Yes)
        .flat_map(|((_, _, cves), _)| cves.iter().copied())
        .collect();
    format!("the fix for {}; {}", missing.join(", "), upgrade_hint(chain))
}

fn upgrade_hint(chain: Chain) -> &'static str {
    match chain {
        Chain::ProxyLogon => "install the March 2021 security update (KB5000871) or a later CU",
        Chain::ProxyShell => "install the May 2021 security update or a later CU",
        Chain::ProxyNotShell => "install the November 2022 security update or a later CU",
    }
}

fn cu_label(row: &CatalogRow) -> String {
    let p = product_label(&row.product);
    if row.cu.is_empty() || row.cu == "?" {
        format!("{p} {}", row.build.cu_prefix())
    } else {
        format!("{p} {}", row.cu)
    }
}

fn product_label(product: &str) -> String {
    if product == "SE" { "Exchange Server SE".to_string() } else { format!("Exchange {product}") }
}

/// The product line of a build by its major and minor version, or `None` when no Exchange release had that number.
pub fn product_of(b: &Build) -> Option<&'static str> {
    match (b.major, b.minor) {
        (15, 2) if b.build >= 2562 => Some("SE"),
        (15, 2) => Some("2019"),
        (15, 1) => Some("2016"),
        (15, 0) => Some("2013"),
        (14, 0..=3) => Some("2010"),
        (8, 0..=3) => Some("2007"),
        (6, 5) => Some("2003"),
        (6, 0) => Some("2000"),
        (5, 5) => Some("5.5"),
        _ => None,
    }
}

fn not_exchange_reason(b: &Build) -> String {
    if b.major > 15 || (b.major == 15 && b.minor > 2) {
        format!(
            "{}.{} is not an Exchange version exhunt knows (newer than the catalog, or not Exchange)",
            b.major, b.minor
        )
    } else {
        format!("{}.{} is not an Exchange version", b.major, b.minor)
    }
}

/// `YYYY-MM-DD`, or `YYYY-MM` when `month_ok`.
pub fn valid_date(s: &str, month_ok: bool) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let month = |r: std::ops::Range<usize>| s[r].parse::<u8>().map(|m| (1..=12).contains(&m)).unwrap_or(false);
    match b.len() {
        7 if month_ok => digits(0..4) && b[4] == b'-' && digits(5..7) && month(5..7),
        10 => {
            digits(0..4)
                && b[4] == b'-'
                && digits(5..7)
                && b[7] == b'-'
                && digits(8..10)
                && month(5..7)
                && s[8..10].parse::<u8>().map(|d| (1..=31).contains(&d)).unwrap_or(false)
        }
        _ => false,
    }
}
