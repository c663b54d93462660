//! IP address → AS number and organisation, from the offline dataset `@ip-location-db/asn` (npm).
//!
//! The dataset is two headerless CSV files, `asn-ipv4.csv` and `asn-ipv6.csv`, one inclusive range a row:
//!
//! ```text
//! ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization
//! 1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."
//! 2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project
//! ```
//!
//! `tools/fetch-asn-db.sh` installs it. Its data is CC BY 4.0: every export and notification that uses a lookup
//! carries [`ATTRIBUTION`].
//!
//! In memory the table is, per address family, four parallel arrays sorted by start: start, end (`u32` for IPv4,
//! `u128` for IPv6), AS number, and an index into one deduplicated string of organisation names. About 16 bytes a
//! row for IPv4 and 40 for IPv6, plus the names once each (the 2026-06 dataset: ~12 MB for 515,000 rows). A lookup
//! is a binary search.
//!
//! The dataset's ranges are not CIDR prefixes but they do not overlap, so the one range that holds an address is
//! also its most specific one. Where rows do overlap (the 2026-06 IPv4 file has one such pair), each address goes
//! to the **narrowest** row that holds it, and between rows of the same width to the one read first: the load
//! splits the wider row around the narrower one. A lookup then reports the part of the row left to it.

use crate::error::{AsnError, AsnRowError, AsnRowProblem};
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The credit the dataset's licences ask for (CC BY 4.0, with attribution to routeviews.org, db-ip.com and nro.net;
/// the package's `ROUTEVIEWS-LICENSE`, `DBIP-LICENSE`, `NRO_LICENSE`). Every export and notification that shows
/// an AS number or organisation from the table carries it.
pub const ATTRIBUTION: &str = "IP-to-ASN data: ip-location-db (github.com/sapics/ip-location-db) from RouteViews \
                               (routeviews.org), DB-IP (db-ip.com) and the NRO (nro.net), CC BY 4.0 \
                               (creativecommons.org/licenses/by/4.0)";

/// What `DBIP-LICENSE` asks of a web page that displays or uses results from the data: a link back to DB-IP.
pub const ATTRIBUTION_HTML: &str = "IP-to-ASN data: \
     <a href=\"https://github.com/sapics/ip-location-db\">ip-location-db</a> \
     from <a href=\"https://www.routeviews.org/\">RouteViews</a>, <a href='https://db-ip.com'>IP Geolocation by \
     DB-IP</a> and the <a href=\"https://www.nro.net/\">NRO</a>, \
     <a href=\"https://creativecommons.org/licenses/by/4.0/\">CC BY 4.0</a>";

/// The dataset's file names, as the package ships them.
pub const FILES: [&str; 2] = ["asn-ipv4.csv", "asn-ipv6.csv"];

/// Longest organisation name kept (bytes). The dataset's longest is 169; a longer one is a malformed row.
pub const MAX_ORG_LEN: usize = 1024;

/// At most this many malformed rows are kept with their reason; the rest are only counted.
pub const MAX_ROW_ERRORS: usize = 1000;

/// What the table says of one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsnInfo<'a> {
    pub asn: u32,
    /// The AS organisation's name (may be empty when the row had none).
    pub org: &'a str,
    /// The inclusive range of the table entry that holds the address.
    pub range: (IpAddr, IpAddr),
}

/// An address width: `u32` for IPv4, `u128` for IPv6.
trait Bits: Copy + Ord + std::ops::Sub<Output = Self> + std::fmt::Debug {
    fn succ(self) -> Option<Self>;
    fn prev(self) -> Self;
    fn to_ip(self) -> IpAddr;
}

impl Bits for u32 {
    fn succ(self) -> Option<u32> {
        self.checked_add(1)
    }
    fn prev(self) -> u32 {
        self - 1
    }
    fn to_ip(self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self))
    }
}

impl Bits for u128 {
    fn succ(self) -> Option<u128> {
        self.checked_add(1)
    }
    fn prev(self) -> u128 {
        self - 1
    }
    fn to_ip(self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self))
    }
}

/// The rows of one address family, as parallel arrays sorted by start.
#[derive(Debug, Default)]
struct Family<A> {
    start: Vec<A>,
    end: Vec<A>,
    asn: Vec<u32>,
    org: Vec<u32>,
    /// Every row so far starts after the previous one ends: no sort or split needed.
    disjoint: bool,
}

impl<A: Bits> Family<A> {
    fn new() -> Self {
        Family { start: Vec::new(), end: Vec::new(), asn: Vec::new(), org: Vec::new(), disjoint: true }
    }

    fn len(&self) -> usize {
        self.start.len()
    }

    fn push(&mut self, start: A, end: A, asn: u32, org: u32) {
        if let Some(&last) = self.end.last()
            && start <= last
        {
            self.disjoint = false;
        }
        self.start.push(start);
        self.end.push(end);
        self.asn.push(asn);
        self.org.push(org);
    }

    /// Sorts the rows and splits overlapping ones so that every address belongs to the narrowest row holding it
    /// (the first read of equal widths). A sweep over the rows' bounds with the rows open at each point.
    fn normalise(&mut self) {
        if !self.disjoint {
            self.split_overlaps();
        }
        self.start.shrink_to_fit();
        self.end.shrink_to_fit();
        self.asn.shrink_to_fit();
        self.org.shrink_to_fit();
        self.disjoint = true;
    }

    fn split_overlaps(&mut self) {
        // Events: a row opens at its start and closes after its end. Closing sorts before opening at one point.
        let n = self.len();
        let mut events: Vec<(A, bool, u32)> = Vec::with_capacity(2 * n);
        for i in 0..n {
            let row = u32::try_from(i).expect("invariant: fewer than 2^32 rows");
            events.push((self.start[i], true, row));
            if let Some(after) = self.end[i].succ() {
                events.push((after, false, row));
            }
        }
        events.sort_unstable();
        // Open rows by (width, row): the first is the narrowest, then the first read.
        let mut open: BTreeSet<(A, u32)> = BTreeSet::new();
        let (mut start, mut end, mut asn, mut org) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut last_winner: Option<u32> = None;
        let mut i = 0;
        while i < events.len() {
            let point = events[i].0;
            while i < events.len() && events[i].0 == point {
                let (_, opens, row) = events[i];
                let r = row as usize;
                let key = (self.end[r] - self.start[r], row);
                if opens {
                    open.insert(key);
                } else {
                    open.remove(&key);
                }
                i += 1;
            }
            let Some(&(_, winner)) = open.first() else {
                last_winner = None;
                continue;
            };
            // The segment runs to the point before the next event, or to the end of the address space.
            let seg_end = events.get(i).map(|e| e.0.prev()).unwrap_or(self.end[winner as usize]);
            let w = winner as usize;
            if last_winner == Some(winner) {
                *end.last_mut().expect("invariant: a winner was pushed") = seg_end;
            } else {
                start.push(point);
                end.push(seg_end);
                asn.push(self.asn[w]);
                org.push(self.org[w]);
            }
            last_winner = Some(winner);
        }
        self.start = start;
        self.end = end;
        self.asn = asn;
        self.org = org;
    }

    fn find(&self, x: A) -> Option<usize> {
        let i = self.start.partition_point(|&s| s <= x).checked_sub(1)?;
        (self.end[i] >= x).then_some(i)
    }

    fn heap_bytes(&self) -> usize {
        self.start.capacity() * size_of::<A>()
            + self.end.capacity() * size_of::<A>()
            + (self.asn.capacity() + self.org.capacity()) * size_of::<u32>()
    }
}

/// The IP-to-ASN table. Build it with [`AsnBuilder`].
#[derive(Debug)]
pub struct AsnTable {
    v4: Family<u32>,
    v6: Family<u128>,
    /// All organisation names, each once, back to back; name `i` is `names[offsets[i]..offsets[i + 1]]`.
    names: String,
    offsets: Vec<u32>,
}

/// The result of a load: the table, and the rows it left out.
#[derive(Debug)]
pub struct AsnLoad {
    pub table: AsnTable,
    /// Rows read into the table.
    pub rows: u64,
    /// Rows left out as malformed.
    pub failed: u64,
    /// The first [`MAX_ROW_ERRORS`] of them, with file and line.
    pub errors: Vec<AsnRowError>,
}

/// Reads the dataset's CSV files, one after the other, into an [`AsnTable`]. Either file may be left out, not
/// both. Rows go by the family of their addresses, whichever file they are in.
///
/// ```
/// use exhunt_campaign::asn::AsnBuilder;
/// let mut b = AsnBuilder::new();
/// b.read_csv("asn-ipv4.csv", &b"1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n"[..])?;
/// let load = b.finish()?;
/// let hit = load.table.lookup("1.0.0.7".parse()?).expect("in the range");
/// assert_eq!((hit.asn, hit.org), (13335, "Cloudflare, Inc."));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AsnBuilder {
    v4: Family<u32>,
    v6: Family<u128>,
    names: String,
    offsets: Vec<u32>,
    index: HashMap<Box<str>, u32>,
    sources: Vec<String>,
    rows: u64,
    failed: u64,
    errors: Vec<AsnRowError>,
}

impl Default for AsnBuilder {
    fn default() -> Self {
        AsnBuilder::new()
    }
}

impl AsnBuilder {
    pub fn new() -> Self {
        AsnBuilder {
            v4: Family::new(),
            v6: Family::new(),
            names: String::new(),
            offsets: vec![0],
            index: HashMap::new(),
            sources: Vec::new(),
            rows: 0,
            failed: 0,
            errors: Vec::new(),
        }
    }

    /// Reads one CSV file, row by row (one row in memory at a time). `source_name` names it in errors. A
    /// malformed row is recorded and skipped; only a read error stops the file.
    pub fn read_csv(&mut self, source_name: &str, input: impl BufRead) -> Result<(), AsnError> {
        self.sources.push(source_name.to_owned());
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
        let mut record = csv::ByteRecord::new();
        loop {
            let line = reader.position().line();
            match reader.read_byte_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {
                    let line = record.position().map_or(line, |p| p.line());
                    match parse_row(&record) {
                        Ok(row) => self.add(row),
                        Err(problem) => self.reject(source_name, line, problem),
                    }
                }
                Err(e) => match e.kind() {
                    csv::ErrorKind::Io(io) => {
                        return Err(AsnError::Read {
                            source_name: source_name.to_owned(),
                            line,
                            message: io.to_string(),
                        });
                    }
                    _ => {
                        let line = e.position().map_or(line, |p| p.line());
                        self.reject(source_name, line, AsnRowProblem::Csv { message: e.to_string() });
                    }
                },
            }
        }
    }

    fn reject(&mut self, source_name: &str, line: u64, problem: AsnRowProblem) {
        self.failed += 1;
        if self.errors.len() < MAX_ROW_ERRORS {
            self.errors.push(AsnRowError { source_name: source_name.to_owned(), line, problem });
        }
    }

    fn add(&mut self, row: Row<'_>) {
        let org = match self.index.get(row.org) {
            Some(&i) => i,
            None => {
                let i = u32::try_from(self.offsets.len() - 1).expect("invariant: fewer than 2^32 names");
                self.names.push_str(row.org);
                // At most 2^32 bytes of names: 4 million names of the longest kind; beyond that the table would
                // not be this dataset.
                let end = u32::try_from(self.names.len()).expect("invariant: under 4 GiB of organisation names");
                self.offsets.push(end);
                self.index.insert(row.org.into(), i);
                i
            }
        };
        match row.range {
            Range::V4(s, e) => self.v4.push(s, e, row.asn, org),
            Range::V6(s, e) => self.v6.push(s, e, row.asn, org),
        }
        self.rows += 1;
    }

    /// The table, with overlapping rows resolved. An error when no source was read or none had a usable row.
    pub fn finish(self) -> Result<AsnLoad, AsnError> {
        if self.sources.is_empty() {
            return Err(AsnError::NoSource);
        }
        if self.rows == 0 {
            return Err(AsnError::Empty { sources: self.sources.join(", "), failed: self.failed });
        }
        let AsnBuilder { mut v4, mut v6, mut names, mut offsets, rows, failed, errors, .. } = self;
        v4.normalise();
        v6.normalise();
        names.shrink_to_fit();
        offsets.shrink_to_fit();
        Ok(AsnLoad { table: AsnTable { v4, v6, names, offsets }, rows, failed, errors })
    }
}

enum Range {
    V4(u32, u32),
    V6(u128, u128),
}

struct Row<'a> {
    range: Range,
    asn: u32,
    org: &'a str,
}

fn parse_row(record: &csv::ByteRecord) -> Result<Row<'_>, AsnRowProblem> {
    if record.len() != 4 {
        return Err(AsnRowProblem::FieldCount { found: record.len() });
    }
    let start = parse_addr(&record[0], "start")?;
    let end = parse_addr(&record[1], "end")?;
    let range = match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => Range::V4(s.into(), e.into()),
        (IpAddr::V6(s), IpAddr::V6(e)) => Range::V6(s.into(), e.into()),
        _ => return Err(AsnRowProblem::MixedFamilies),
    };
    let reversed = match range {
        Range::V4(s, e) => e < s,
        Range::V6(s, e) => e < s,
    };
    if reversed {
        return Err(AsnRowProblem::Reversed);
    }
    let asn_text = &record[2];
    let asn = std::str::from_utf8(asn_text)
        .ok()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| AsnRowProblem::Asn { text: crate::error::quote(&String::from_utf8_lossy(asn_text)) })?;
    let org_bytes = &record[3];
    if org_bytes.len() > MAX_ORG_LEN {
        return Err(AsnRowProblem::Organisation { reason: "is longer than 1024 bytes" });
    }
    let org = std::str::from_utf8(org_bytes).map_err(|_| AsnRowProblem::Organisation { reason: "is not UTF-8" })?;
    if org.chars().any(char::is_control) {
        return Err(AsnRowProblem::Organisation { reason: "holds a control character" });
    }
    Ok(Row { range, asn, org: org.trim() })
}

/// An address as the dataset writes it; an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is the IPv4 address.
fn parse_addr(bytes: &[u8], field: &'static str) -> Result<IpAddr, AsnRowProblem> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| t.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .ok_or_else(|| AsnRowProblem::Address { field, text: crate::error::quote(&String::from_utf8_lossy(bytes)) })
}

impl AsnTable {
    /// The entry that holds `ip`. An IPv4-mapped IPv6 address is looked up as IPv4.
    pub fn lookup(&self, ip: IpAddr) -> Option<AsnInfo<'_>> {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let i = self.v4.find(u32::from(a))?;
                Some(self.info(self.v4.asn[i], self.v4.org[i], self.v4.start[i].to_ip(), self.v4.end[i].to_ip()))
            }
            IpAddr::V6(a) => {
                let i = self.v6.find(u128::from(a))?;
                Some(self.info(self.v6.asn[i], self.v6.org[i], self.v6.start[i].to_ip(), self.v6.end[i].to_ip()))
            }
        }
    }

    fn info(&self, asn: u32, org: u32, start: IpAddr, end: IpAddr) -> AsnInfo<'_> {
        let i = org as usize;
        let org = &self.names[self.offsets[i] as usize..self.offsets[i + 1] as usize];
        AsnInfo { asn, org, range: (start, end) }
    }

    /// Every entry, IPv4 then IPv6, each family in address order; entries do not overlap.
    pub fn iter(&self) -> impl Iterator<Item = AsnInfo<'_>> {
        let v4 = (0..self.v4.len())
            .map(|i| self.info(self.v4.asn[i], self.v4.org[i], self.v4.start[i].to_ip(), self.v4.end[i].to_ip()));
        let v6 = (0..self.v6.len())
            .map(|i| self.info(self.v6.asn[i], self.v6.org[i], self.v6.start[i].to_ip(), self.v6.end[i].to_ip()));
        v4.chain(v6)
    }

    /// Entries (IPv4, IPv6) after overlaps were resolved.
    pub fn entries(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// Distinct organisation names.
    pub fn organisations(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The heap the table holds, in bytes (its arrays' capacities; allocator overhead not counted).
    pub fn heap_bytes(&self) -> usize {
        self.v4.heap_bytes() + self.v6.heap_bytes() + self.names.capacity() + self.offsets.capacity() * size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: &str = "\
1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"
1.0.1.0,1.0.3.255,4134,CHINANET-BACKBONE
1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd
1.1.1.0,1.1.1.255,13335,\"Cloudflare, Inc.\"
2.26.200.0,2.26.215.255,201907,\"LLC \"\"SPUTNIK\"\"\"
";
    const V6: &str = "\
2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC
2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project
2606:4700::,2606:4700:ffff:ffff:ffff:ffff:ffff:ffff,13335,\"Cloudflare, Inc.\"
";

    fn load(sources: &[(&str, &str)]) -> AsnLoad {
        let mut b = AsnBuilder::new();
        for (name, text) in sources {
            b.read_csv(name, text.as_bytes()).expect("in-memory input reads");
        }
        b.finish().expect("rows load")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn asn_of(t: &AsnTable, s: &str) -> Option<(u32, String)> {
        t.lookup(ip(s)).map(|i| (i.asn, i.org.to_owned()))
    }

    #[test]
    fn documented_rows_look_up_with_their_range() {
        let l = load(&[("asn-ipv4.csv", V4), ("asn-ipv6.csv", V6)]);
        assert_eq!((l.rows, l.failed, l.table.entries()), (8, 0, (5, 3)));
        let hit = l.table.lookup(ip("1.0.0.77")).expect("in 1.0.0.0-1.0.0.255");
        assert_eq!(hit, AsnInfo { asn: 13335, org: "Cloudflare, Inc.", range: (ip("1.0.0.0"), ip("1.0.0.255")) });
        assert_eq!(asn_of(&l.table, "2.26.201.1"), Some((201907, "LLC \"SPUTNIK\"".into())));
        assert_eq!(asn_of(&l.table, "2001:200:1b9::1"), Some((2500, "WIDE Project".into())));
        assert_eq!(asn_of(&l.table, "2606:4700:4700::1111"), Some((13335, "Cloudflare, Inc.".into())));
        // One name, stored once for the three rows that carry it.
        assert_eq!(l.table.organisations(), 6);
    }

    #[test]
    fn first_and_last_address_of_a_range_and_adjacent_ranges() {
        let l = load(&[("v4", V4), ("v6", V6)]);
        let t = &l.table;
        assert_eq!(asn_of(t, "1.0.0.0").map(|a| a.0), Some(13335));
        assert_eq!(asn_of(t, "1.0.0.255").map(|a| a.0), Some(13335));
        // 1.0.1.0 starts the next row, adjacent to the first.
        assert_eq!(asn_of(t, "1.0.1.0").map(|a| a.0), Some(4134));
        assert_eq!(asn_of(t, "1.0.3.255").map(|a| a.0), Some(4134));
        assert_eq!(asn_of(t, "1.0.4.0").map(|a| a.0), Some(38803));
        assert_eq!(asn_of(t, "2001::").map(|a| a.0), Some(6939));
        assert_eq!(asn_of(t, "2001::ffff:ffff:ffff:ffff:ffff:ffff").map(|a| a.0), Some(6939));
    }

    #[test]
    fn an_address_in_no_range_has_no_entry() {
        let l = load(&[("v4", V4), ("v6", V6)]);
        for a in ["0.0.0.0", "0.255.255.255", "1.0.8.0", "1.1.0.255", "1.1.2.0", "255.255.255.255", "::", "2001:1::"] {
            assert_eq!(l.table.lookup(ip(a)), None, "{a}");
        }
        assert_eq!(l.table.lookup(ip("2001:200:1ba::")), None);
        assert_eq!(l.table.lookup(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), None);
    }

    #[test]
    fn an_ipv4_mapped_ipv6_address_is_looked_up_as_ipv4() {
        let l = load(&[("v4", V4)]);
        assert_eq!(asn_of(&l.table, "::ffff:1.1.1.1").map(|a| a.0), Some(13335));
    }

    #[test]
    fn either_file_alone_loads_and_none_is_an_error() {
        let l = load(&[("asn-ipv6.csv", V6)]);
        assert_eq!(l.table.entries(), (0, 3));
        assert_eq!(l.table.lookup(ip("1.1.1.1")), None);
        assert!(matches!(AsnBuilder::new().finish(), Err(AsnError::NoSource)));
        let mut b = AsnBuilder::new();
        b.read_csv("empty.csv", &b""[..]).expect("reads");
        assert!(matches!(b.finish(), Err(AsnError::Empty { failed: 0, .. })));
    }

    #[test]
    fn malformed_rows_are_collected_with_their_line_and_the_rest_loads() {
        let text: &[u8] = b"\
1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"
1.0.1.0,1.0.1.255,4134
16777216,16777471,13335,Cloudflare
1.0.2.0,1.0.1.0,1,Backwards
1.0.3.0,2001::,1,Mixed
1.0.4.0,1.0.4.255,AS38803,Gtelecom
1.0.5.0,1.0.5.255,4294967296,Too big
1.0.6.0,1.0.6.255,1,\"Line\nbreak\"
1.0.7.0,1.0.7.255,1,\xff\xfe
1.0.8.0,1.0.8.255,64500,Fine
";
        let mut b = AsnBuilder::new();
        b.read_csv("asn-ipv4.csv", text).expect("reads");
        let l = b.finish().expect("two rows load");
        assert_eq!((l.rows, l.failed), (2, 8));
        let got: Vec<(u64, String)> = l.errors.iter().map(|e| (e.line, e.problem.to_string())).collect();
        let lines: Vec<u64> = got.iter().map(|g| g.0).collect();
        // The quoted field with a line break spans lines 8-9: the row is reported at its first line.
        assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8, 10]);
        assert!(got[0].1.starts_with("3 fields, expected 4"), "{}", got[0].1);
        assert!(got[1].1.contains("the `-num` files are not read"), "{}", got[1].1);
        assert_eq!(got[2].1, "the range ends before it starts");
        assert_eq!(got[3].1, "the range starts and ends in different address families");
        assert_eq!(got[4].1, "AS number `AS38803` is not a number from 0 to 4294967295");
        assert_eq!(got[5].1, "AS number `4294967296` is not a number from 0 to 4294967295");
        assert_eq!(got[6].1, "organisation name holds a control character");
        assert_eq!(got[7].1, "organisation name is not UTF-8");
        assert_eq!(
            l.errors[0].to_string(),
            "`asn-ipv4.csv` line 2: 3 fields, expected 4 (`ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization`)"
        );
        assert_eq!(asn_of(&l.table, "1.0.8.1").map(|a| a.0), Some(64500));
    }

    #[test]
    fn malformed_rows_past_the_cap_are_counted_not_kept() {
        let text = "x,y,z,w\n".repeat(MAX_ROW_ERRORS + 5) + "10.0.0.0,10.0.0.255,64500,Fine\n";
        let mut b = AsnBuilder::new();
        b.read_csv("asn-ipv4.csv", text.as_bytes()).expect("reads");
        let l = b.finish().expect("one row loads");
        assert_eq!((l.rows, l.failed, l.errors.len()), (1, MAX_ROW_ERRORS as u64 + 5, MAX_ROW_ERRORS));
    }

    #[test]
    fn an_organisation_name_over_the_cap_is_a_malformed_row() {
        let text = format!("10.0.0.0,10.0.0.255,64500,{}\n", "a".repeat(MAX_ORG_LEN + 1));
        let mut b = AsnBuilder::new();
        b.read_csv("v4", text.as_bytes()).expect("reads");
        assert!(matches!(b.finish(), Err(AsnError::Empty { failed: 1, .. })));
    }

    #[test]
    fn overlapping_rows_the_narrowest_wins() {
        // The 2026-06 dataset's one overlap: AS749's wide range and AS721's narrower one that starts inside it.
        let text = "\
214.95.0.0,215.0.255.255,749,United States Department of Defense (DoD)
215.0.0.0,215.1.3.255,721,DoD Network Information Center
";
        let t = load(&[("v4", text)]).table;
        assert_eq!(asn_of(&t, "214.95.0.0").map(|a| a.0), Some(749));
        assert_eq!(asn_of(&t, "214.255.255.255").map(|a| a.0), Some(749));
        assert_eq!(asn_of(&t, "215.0.0.0").map(|a| a.0), Some(721));
        assert_eq!(asn_of(&t, "215.1.3.255").map(|a| a.0), Some(721));
        assert_eq!(t.lookup(ip("215.1.4.0")), None);
        // The wider row keeps the part the narrower does not cover.
        let wide = t.lookup(ip("214.100.0.0")).expect("in AS749's part");
        assert_eq!(wide.range, (ip("214.95.0.0"), ip("214.255.255.255")));
    }

    #[test]
    fn a_nested_row_splits_the_one_around_it_in_any_order() {
        // The wide row after the narrow one in the file: the load sorts.
        let text = "\
10.0.1.0,10.0.1.255,64501,Customer
10.0.0.0,10.0.3.255,64500,Provider
10.0.1.128,10.0.1.128,64502,One host
";
        let t = load(&[("v4", text)]).table;
        assert_eq!(t.entries(), (5, 0));
        let ranges: Vec<(IpAddr, IpAddr)> = t.iter().map(|i| i.range).collect();
        assert_eq!(ranges.len(), 5);
        assert!(ranges.windows(2).all(|w| w[0].1 < w[1].0), "sorted and disjoint: {ranges:?}");
        let got: Vec<(u32, (IpAddr, IpAddr))> = ["10.0.0.0", "10.0.1.0", "10.0.1.128", "10.0.1.129", "10.0.2.0"]
            .iter()
            .map(|a| t.lookup(ip(a)).map(|i| (i.asn, i.range)).expect("covered"))
            .collect();
        assert_eq!(
            got,
            [
                (64500, (ip("10.0.0.0"), ip("10.0.0.255"))),
                (64501, (ip("10.0.1.0"), ip("10.0.1.127"))),
                (64502, (ip("10.0.1.128"), ip("10.0.1.128"))),
                (64501, (ip("10.0.1.129"), ip("10.0.1.255"))),
                (64500, (ip("10.0.2.0"), ip("10.0.3.255"))),
            ]
        );
    }

    #[test]
    fn equal_overlapping_widths_go_to_the_row_read_first() {
        let text =
            "10.0.0.0,10.0.0.255,64500,First\n10.0.0.128,10.0.1.127,64501,Second\n10.0.0.0,10.0.0.255,64502,Again\n";
        let t = load(&[("v4", text)]).table;
        assert_eq!(asn_of(&t, "10.0.0.200").map(|a| a.0), Some(64500));
        assert_eq!(asn_of(&t, "10.0.1.0").map(|a| a.0), Some(64501));
    }

    #[test]
    fn overlap_resolution_matches_a_naive_reference() {
        // Random rows over 10.0.0.0/24; every address of the /24 (and one each side) must go to the narrowest row
        // that holds it, the first read of equal widths, exactly as a scan of all rows says.
        let mut x: u64 = 0x853c_49e6_748f_ea9b;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..200 {
            let rows: Vec<(u32, u32)> = (0..1 + next(12))
                .map(|_| {
                    let a = next(256) as u32;
                    let b = next(256) as u32;
                    (a.min(b), a.max(b))
                })
                .collect();
            let text: String =
                rows.iter().enumerate().map(|(i, (s, e))| format!("10.0.0.{s},10.0.0.{e},{i},row {i}\n")).collect();
            let t = load(&[("v4", &text)]).table;
            let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
            for a in base - 1..=base + 256 {
                let naive = rows
                    .iter()
                    .enumerate()
                    .filter(|(_, (s, e))| (base + s..=base + e).contains(&a))
                    .min_by_key(|(i, (s, e))| (e - s, *i))
                    .map(|(i, _)| i as u32);
                let got = t.lookup(IpAddr::V4(a.into()));
                assert_eq!(got.map(|g| g.asn), naive, "{} in {text}", Ipv4Addr::from(a));
                if let Some(g) = got {
                    assert!(g.range.0 <= IpAddr::V4(a.into()) && IpAddr::V4(a.into()) <= g.range.1);
                }
            }
            let ranges: Vec<(IpAddr, IpAddr)> = t.iter().map(|i| i.range).collect();
            assert!(ranges.windows(2).all(|w| w[0].1 < w[1].0), "sorted and disjoint: {ranges:?}");
        }
    }

    #[test]
    fn ranges_at_the_ends_of_the_address_space() {
        let text = "0.0.0.0,255.255.255.255,1,Everything\n255.255.255.0,255.255.255.255,2,Top\n\
                    ::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,3,All six\n";
        let t = load(&[("all", text)]).table;
        assert_eq!(asn_of(&t, "0.0.0.0").map(|a| a.0), Some(1));
        assert_eq!(asn_of(&t, "255.255.254.255").map(|a| a.0), Some(1));
        assert_eq!(asn_of(&t, "255.255.255.255").map(|a| a.0), Some(2));
        assert_eq!(asn_of(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").map(|a| a.0), Some(3));
        assert_eq!(asn_of(&t, "::").map(|a| a.0), Some(3));
    }

    #[test]
    fn adjacent_rows_of_one_as_stay_apart() {
        let text = "10.0.0.0,10.0.0.255,64500,Same\n10.0.1.0,10.0.1.255,64500,Same\n";
        let t = load(&[("v4", text)]).table;
        assert_eq!(t.entries(), (2, 0));
        assert_eq!(t.lookup(ip("10.0.1.0")).map(|i| i.range.0), Some(ip("10.0.1.0")));
    }

    #[test]
    fn heap_estimate_counts_the_arrays_and_names() {
        let t = load(&[("v4", V4), ("v6", V6)]).table;
        let names: usize = ["Cloudflare, Inc.", "CHINANET-BACKBONE", "Gtelecom Pty Ltd", "LLC \"SPUTNIK\""]
            .iter()
            .chain(&["Hurricane Electric LLC", "WIDE Project"])
            .map(|n| n.len())
            .sum();
        assert!(t.heap_bytes() >= 5 * 16 + 3 * 40 + names + 7 * 4, "{}", t.heap_bytes());
    }

    #[test]
    fn hostile_bytes_never_panic() {
        // A fixed pseudo-random walk over bytes that matter to the parser; the fuzz target does the real search.
        let alphabet = b"0123456789abcdef.:,\"\n\r\xff /";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..300 {
            let mut input = Vec::new();
            for _ in 0..(x % 200) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                input.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let mut b = AsnBuilder::new();
            b.read_csv("fuzz", &input[..]).expect("in-memory input reads");
            if let Ok(l) = b.finish() {
                let _ = l.table.lookup(ip("1.2.3.4"));
            }
        }
    }
}
