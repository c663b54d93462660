//! Operator contacts files: any bytes as CSV or TOML (the first byte picks). A file that parses holds only valid
//! contacts: each address passes the address check, each match prints as text that parses back to it, and each
//! contact is found by what it matches. A file that does not parse says why, at most `MAX_ERRORS` times and a
//! count.
#![no_main]

use exhunt_campaign::contacts::{Contacts, Format, MAX_ERRORS, Match, email_problem};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let format = if selector & 1 == 0 { Format::Csv } else { Format::Toml };
    let contacts = match Contacts::parse(body, format, 1_767_225_600) {
        Ok(c) => c,
        Err(errors) => {
            assert!(!errors.is_empty() && errors.len() <= MAX_ERRORS + 1);
            return;
        }
    };
    let elsewhere = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    for c in contacts.iter() {
        assert_eq!(email_problem(&c.email), None, "{:?}", c.email);
        assert_eq!(Match::parse(&c.matcher.to_string()).as_ref(), Ok(&c.matcher));
        let found = match &c.matcher {
            Match::Net(n) => contacts.find(n.first(), None, &[], &[]),
            Match::Domain(d) => contacts.find(elsewhere, None, &[d.as_str()], &[]),
            Match::Asn(n) => contacts.find(elsewhere, Some(*n), &[], &[]),
            Match::Organisation { name, .. } => contacts.find(elsewhere, None, &[], &[name.as_str()]),
        };
        assert!(found.contains(&c), "{} does not find its contact", c.matcher);
    }
});
