//! The IP-to-ASN dataset's CSV (`@ip-location-db/asn`): any bytes, cut into an IPv4 and an IPv6 source at a
//! point the first byte picks; then the table's entries must be sorted and disjoint, each must look up to itself,
//! and any address the input spells looks up to an entry that holds it.
#![no_main]

use exhunt_campaign::asn::{AsnBuilder, MAX_ROW_ERRORS};
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let (v4, v6) = body.split_at(usize::from(selector) * body.len() / 255);
    let mut builder = AsnBuilder::new();
    builder.read_csv("asn-ipv4.csv", v4).expect("invariant: in-memory input reads");
    builder.read_csv("asn-ipv6.csv", v6).expect("invariant: in-memory input reads");
    let Ok(load) = builder.finish() else { return };
    assert_eq!(load.errors.len() as u64, load.failed.min(MAX_ROW_ERRORS as u64));
    let t = &load.table;
    let (n4, n6) = t.entries();
    assert!(n4 + n6 >= 1 && (n4 + n6) as u64 <= 2 * load.rows);
    let mut previous: Option<(IpAddr, IpAddr)> = None;
    for e in t.iter() {
        assert!(e.range.0 <= e.range.1);
        if let Some(p) = previous
            && p.0.is_ipv4() == e.range.0.is_ipv4()
        {
            assert!(p.1 < e.range.0, "entries overlap or are out of order: {p:?} {:?}", e.range);
        }
        // An IPv6 entry over `::ffff:0:0/96` is shadowed there: those addresses are looked up as IPv4.
        for bound in [e.range.0, e.range.1] {
            if bound.to_canonical() == bound {
                assert_eq!(t.lookup(bound), Some(e));
            }
        }
        previous = Some(e.range);
    }
    for word in body.split(|b| matches!(b, b',' | b'\n' | b'"')) {
        let Some(ip) = std::str::from_utf8(word).ok().and_then(|w| w.trim().parse::<IpAddr>().ok()) else {
            continue;
        };
        if let Some(hit) = t.lookup(ip) {
            let ip = ip.to_canonical();
            assert!(hit.range.0 <= ip && ip <= hit.range.1, "{ip} is not in {:?}", hit.range);
        }
    }
});
