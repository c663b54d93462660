//! Who owns an address and whom to tell: [`attribute`], a pure function of what is known of the address.
//!
//! The owner, that hosts are grouped under (one notification per owner), is the first of:
//!
//! 1. the name of the operator's contact for the address (the most precise match, [`Contacts::find`]);
//! 2. the RDAP owner's name (RDAP fetching is the caller's; it passes what it has, or `None`);
//! 3. the AS organisation of the IP-to-ASN dataset;
//! 4. the national CERT configured for the address's country;
//! 5. `unattributed`.
//!
//! The recipients, each with its source, time and confidence, are the first non-empty of: the operator's contacts
//! of the most precise match (`high`); the RDAP abuse addresses (`medium`); the national CERT of the address's
//! country (`low`). The country is the operator contact's, else RDAP's.
//!
//! The owner key is [`name_key`] of the owner's name (lower case, runs of white space as one space), so the same
//! organisation groups the same whichever source named it and on every re-run; `unattributed` is the key of the
//! addresses no source names.

use crate::asn::AsnTable;
use crate::contacts::{Confidence, Contact, Contacts, Source, email_problem, name_key};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// The owner key and name of an address no source names.
pub const UNATTRIBUTED: &str = "unattributed";

/// What RDAP said of the address's network. Filled by the caller (RDAP lookups are later work); a plain record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdapOwner {
    /// The registrant organisation's name.
    pub name: Option<String>,
    /// The addresses of the `abuse` entity, as RDAP gave them (invalid ones are left out by [`attribute`]).
    pub abuse_emails: Vec<String>,
    /// The network's `country`, ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Unix seconds: when the answer was fetched.
    pub fetched: i64,
}

/// A national CERT: the recipient of last resort for its country's addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NationalCert {
    pub name: String,
    pub email: String,
    /// Unix seconds: when the configuration naming it was loaded.
    pub configured: i64,
}

/// The national CERTs by country (upper-case ISO 3166-1 alpha-2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    pub by_country: BTreeMap<String, NationalCert>,
}

impl Fallback {
    /// Adds the CERT of `country`, checking the code, the name and the address. A second CERT for one country
    /// replaces the first.
    pub fn add(&mut self, country: &str, name: &str, email: &str, configured: i64) -> Result<(), String> {
        let code = country.trim();
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!(
                "country `{}` is not a two-letter ISO 3166-1 code such as `DE`",
                code.escape_default()
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(format!("the national CERT of `{code}` needs a name without control characters"));
        }
        if let Some(reason) = email_problem(email.trim()) {
            return Err(format!("email `{}` of the national CERT of `{code}` {reason}", email.escape_default()));
        }
        let cert = NationalCert { name: name.to_owned(), email: email.trim().to_owned(), configured };
        self.by_country.insert(code.to_ascii_uppercase(), cert);
        Ok(())
    }

    fn of(&self, country: Option<&str>) -> Option<&NationalCert> {
        self.by_country.get(country?)
    }
}

/// Which source named the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnerSource {
    Operator,
    Rdap,
    Asn,
    NationalCert,
    Unattributed,
}

impl OwnerSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            OwnerSource::Operator => "operator",
            OwnerSource::Rdap => "rdap",
            OwnerSource::Asn => "asn",
            OwnerSource::NationalCert => "national-cert",
            OwnerSource::Unattributed => "unattributed",
        }
    }
}

impl fmt::Display for OwnerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recipient, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRef {
    pub email: String,
    pub source: Source,
    pub confidence: Confidence,
    /// Unix seconds: when the source gave it (the operator's import, the RDAP answer, the configuration).
    pub fetched: i64,
    /// The language to write in, when the source says (operator contacts).
    pub language: Option<String>,
}

/// Who owns an address and whom to tell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// The grouping key: [`name_key`] of `owner_name`, or [`UNATTRIBUTED`].
    pub owner_key: String,
    pub owner_name: String,
    pub owner_source: OwnerSource,
    /// The recipients, in the source's order; empty when no source gives one.
    pub contacts: Vec<ContactRef>,
    pub asn: Option<u32>,
    /// The AS organisation from the IP-to-ASN dataset (CC BY 4.0: an export that shows it carries
    /// [`crate::asn::ATTRIBUTION`]).
    pub asn_org: Option<String>,
    /// The dataset's range that holds the address.
    pub asn_range: Option<(IpAddr, IpAddr)>,
    /// ISO 3166-1 alpha-2, upper case: the operator contact's, else RDAP's.
    pub country: Option<String>,
}

/// Attributes `ip`, known by the host `names` (TLS certificate names, reverse DNS), from the IP-to-ASN table, the
/// operator's contacts, what RDAP said (if anything yet) and the national CERTs.
pub fn attribute(
    ip: IpAddr,
    names: &[&str],
    asns: &AsnTable,
    contacts: &Contacts,
    rdap: Option<&RdapOwner>,
    fallback: &Fallback,
) -> Attribution {
    let hit = asns.lookup(ip);
    let asn = hit.map(|h| h.asn);
    let asn_org = hit.map(|h| h.org.trim()).filter(|o| !o.is_empty()).map(str::to_owned);
    let rdap_name = rdap.and_then(|r| clean_name(r.name.as_deref()));
    let orgs: Vec<&str> = rdap_name.as_deref().into_iter().chain(asn_org.as_deref()).collect();

    // The operator's contacts of the most precise match: all rows of that match, none of the less precise ones.
    let found = contacts.find(ip, asn, names, &orgs);
    let best: Vec<&Contact> = match found.first() {
        Some(first) => found.iter().copied().filter(|c| c.matcher == first.matcher).collect(),
        None => Vec::new(),
    };

    let country =
        best.iter().find_map(|c| c.country.clone()).or_else(|| rdap.and_then(|r| country_code(r.country.as_deref())));
    let cert = fallback.of(country.as_deref());

    let (owner_name, owner_source) = if let Some(name) = best.iter().find_map(|c| clean_name(c.name.as_deref())) {
        (name, OwnerSource::Operator)
    } else if let Some(name) = rdap_name.clone() {
        (name, OwnerSource::Rdap)
    } else if let Some(org) = clean_name(asn_org.as_deref()) {
        (org, OwnerSource::Asn)
    } else if let Some(name) = cert.and_then(|c| clean_name(Some(&c.name))) {
        (name, OwnerSource::NationalCert)
    } else {
        (UNATTRIBUTED.to_owned(), OwnerSource::Unattributed)
    };
    let owner_key =
        if owner_source == OwnerSource::Unattributed { UNATTRIBUTED.to_owned() } else { name_key(&owner_name) };

    let mut refs: Vec<ContactRef> = best
        .iter()
        .map(|c| ContactRef {
            email: c.email.clone(),
            source: c.source,
            confidence: c.confidence,
            fetched: c.imported,
            language: c.language.clone(),
        })
        .collect();
    if refs.is_empty()
        && let Some(r) = rdap
    {
        for e in &r.abuse_emails {
            let e = e.trim();
            if email_problem(e).is_none() && !refs.iter().any(|x| x.email.eq_ignore_ascii_case(e)) {
                refs.push(ContactRef {
                    email: e.to_owned(),
                    source: Source::Rdap,
                    confidence: Confidence::Medium,
                    fetched: r.fetched,
                    language: None,
                });
            }
        }
    }
    if refs.is_empty()
        && let Some(cert) = cert
    {
        refs.push(ContactRef {
            email: cert.email.clone(),
            source: Source::NationalCert,
            confidence: Confidence::Low,
            fetched: cert.configured,
            language: None,
        });
    }

    Attribution {
        owner_key,
        owner_name,
        owner_source,
        contacts: refs,
        asn,
        asn_org,
        asn_range: hit.map(|h| h.range),
        country,
    }
}

/// A name as an owner's name: runs of white space (tabs, line breaks) as one space, trimmed; none when empty or
/// when another control character is left (the name goes into mail).
fn clean_name(s: Option<&str>) -> Option<String> {
    let name = s?.split_whitespace().collect::<Vec<_>>().join(" ");
    (!name.is_empty() && !name.chars().any(char::is_control)).then_some(name)
}

fn country_code(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic())).map(str::to_ascii_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asn::AsnBuilder;
    use crate::contacts::Format;

    const IMPORTED: i64 = 1_767_225_600;
    const FETCHED: i64 = 1_767_312_000;

    fn table() -> AsnTable {
        let text = "\
192.0.2.0,192.0.2.255,64500,\"Example ISP, Inc.\"
198.51.100.0,198.51.100.255,64501,Example Hosting Ltd
203.0.113.0,203.0.113.255,64502,
2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64503,Example Six GmbH
";
        let mut b = AsnBuilder::new();
        b.read_csv("fixture.csv", text.as_bytes()).expect("reads");
        b.finish().expect("loads").table
    }

    fn contacts(text: &str) -> Contacts {
        Contacts::parse(text.as_bytes(), Format::Csv, IMPORTED).expect("valid contacts")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn certs() -> Fallback {
        let mut f = Fallback::default();
        f.add("de", "CERT-Bund", "certbund@bsi.example", 42).expect("valid");
        f
    }

    fn rdap(name: Option<&str>, emails: &[&str], country: Option<&str>) -> RdapOwner {
        RdapOwner {
            name: name.map(str::to_owned),
            abuse_emails: emails.iter().map(|e| e.to_string()).collect(),
            country: country.map(str::to_owned),
            fetched: FETCHED,
        }
    }

    fn emails(a: &Attribution) -> Vec<(&str, Source, Confidence, i64)> {
        a.contacts.iter().map(|c| (c.email.as_str(), c.source, c.confidence, c.fetched)).collect()
    }

    #[test]
    fn the_operator_overrides_rdap_and_the_asn() {
        let c = contacts("match,email,name,language,country\n192.0.2.0/25,it@cu.example,Example Credit Union,en,US\n");
        let r = rdap(Some("Example ISP Customer"), &["abuse@isp.example"], Some("DE"));
        let a = attribute(ip("192.0.2.10"), &[], &table(), &c, Some(&r), &certs());
        assert_eq!((a.owner_key.as_str(), a.owner_name.as_str()), ("example credit union", "Example Credit Union"));
        assert_eq!(a.owner_source, OwnerSource::Operator);
        assert_eq!(emails(&a), [("it@cu.example", Source::Operator, Confidence::High, IMPORTED)]);
        assert_eq!(a.contacts[0].language.as_deref(), Some("en"));
        assert_eq!((a.asn, a.asn_org.as_deref()), (Some(64500), Some("Example ISP, Inc.")));
        assert_eq!(a.asn_range, Some((ip("192.0.2.0"), ip("192.0.2.255"))));
        assert_eq!(a.country.as_deref(), Some("US"));
    }

    #[test]
    fn an_operator_contact_without_a_name_gives_the_recipients_not_the_owner() {
        let c = contacts("match,email\nAS64500,noc@isp.example\n");
        let r = rdap(Some("Example ISP Customer"), &["abuse@isp.example"], None);
        let a = attribute(ip("192.0.2.10"), &[], &table(), &c, Some(&r), &certs());
        assert_eq!((a.owner_name.as_str(), a.owner_source), ("Example ISP Customer", OwnerSource::Rdap));
        assert_eq!(emails(&a), [("noc@isp.example", Source::Operator, Confidence::High, IMPORTED)]);
    }

    #[test]
    fn only_the_most_precise_operator_match_is_told() {
        let c = contacts(
            "match,email,name\n192.0.2.0/24,noc@isp.example,Example ISP\n192.0.2.0/28,a@cu.example,Example CU\n\
             192.0.2.0/28,b@cu.example,\nAS64500,abuse@isp.example,Example ISP\n",
        );
        let a = attribute(ip("192.0.2.3"), &[], &table(), &c, None, &certs());
        assert_eq!(a.owner_name, "Example CU");
        let got: Vec<&str> = a.contacts.iter().map(|c| c.email.as_str()).collect();
        assert_eq!(got, ["a@cu.example", "b@cu.example"]);
        let a = attribute(ip("192.0.2.200"), &[], &table(), &c, None, &certs());
        assert_eq!((a.owner_name.as_str(), a.contacts[0].email.as_str()), ("Example ISP", "noc@isp.example"));
    }

    #[test]
    fn a_host_name_and_an_organisation_match_too() {
        let c = contacts(
            "match,email,name\ntown.example,it@town.example,Town of Example\norg:Example Hosting Ltd,noc@hosting.example,\n",
        );
        let a = attribute(ip("198.51.100.7"), &["mail.town.example"], &table(), &c, None, &certs());
        assert_eq!((a.owner_key.as_str(), a.contacts[0].email.as_str()), ("town of example", "it@town.example"));
        // The AS organisation from the dataset matches `org:`; the contact has no name, so the owner is that org.
        let a = attribute(ip("198.51.100.7"), &["other.example"], &table(), &c, None, &certs());
        assert_eq!((a.owner_name.as_str(), a.owner_source), ("Example Hosting Ltd", OwnerSource::Asn));
        assert_eq!(emails(&a), [("noc@hosting.example", Source::Operator, Confidence::High, IMPORTED)]);
    }

    #[test]
    fn rdap_names_the_owner_and_gives_its_valid_abuse_addresses_once() {
        let r = rdap(
            Some("  Example   Customer GmbH "),
            &["abuse@isp.example", "ABUSE@ISP.EXAMPLE", "Abuse Desk <x@isp.example>", "", "second@isp.example"],
            Some("de"),
        );
        let a = attribute(ip("192.0.2.10"), &[], &table(), &Contacts::default(), Some(&r), &certs());
        assert_eq!((a.owner_key.as_str(), a.owner_source), ("example customer gmbh", OwnerSource::Rdap));
        assert_eq!(a.owner_name, "Example Customer GmbH");
        assert_eq!(
            emails(&a),
            [
                ("abuse@isp.example", Source::Rdap, Confidence::Medium, FETCHED),
                ("second@isp.example", Source::Rdap, Confidence::Medium, FETCHED)
            ]
        );
        assert_eq!(a.country.as_deref(), Some("DE"));
    }

    #[test]
    fn the_asn_org_names_the_owner_and_the_national_cert_is_told() {
        let r = rdap(None, &["not an address"], Some("DE"));
        let a = attribute(ip("2001:db8::25"), &[], &table(), &Contacts::default(), Some(&r), &certs());
        assert_eq!((a.owner_key.as_str(), a.owner_source), ("example six gmbh", OwnerSource::Asn));
        assert_eq!(emails(&a), [("certbund@bsi.example", Source::NationalCert, Confidence::Low, 42)]);
        // Without a country there is no one to tell.
        let a = attribute(ip("2001:db8::25"), &[], &table(), &Contacts::default(), None, &certs());
        assert!(a.contacts.is_empty());
        assert_eq!(a.owner_key, "example six gmbh");
    }

    #[test]
    fn with_no_name_the_owner_is_the_national_cert_or_unattributed() {
        // 203.0.113.0/24 has an AS but no organisation name; 100.64.0.1 is in no range at all.
        let r = rdap(None, &[], Some("DE"));
        let a = attribute(ip("203.0.113.5"), &[], &table(), &Contacts::default(), Some(&r), &certs());
        assert_eq!((a.owner_key.as_str(), a.owner_name.as_str()), ("cert-bund", "CERT-Bund"));
        assert_eq!((a.owner_source, a.asn, a.asn_org.as_deref()), (OwnerSource::NationalCert, Some(64502), None));
        assert_eq!(emails(&a), [("certbund@bsi.example", Source::NationalCert, Confidence::Low, 42)]);
        let r = rdap(None, &[], Some("FR"));
        let a = attribute(ip("100.64.0.1"), &[], &table(), &Contacts::default(), Some(&r), &certs());
        assert_eq!((a.owner_key.as_str(), a.owner_source), (UNATTRIBUTED, OwnerSource::Unattributed));
        assert_eq!((a.asn, a.asn_range, a.contacts.len()), (None, None, 0));
        assert_eq!(a.country.as_deref(), Some("FR"));
    }

    #[test]
    fn owner_keys_are_stable_across_sources_and_runs() {
        let c = contacts("match,email,name\n192.0.2.0/24,it@isp.example,EXAMPLE  ISP INC.\n");
        let by_operator = attribute(ip("192.0.2.1"), &[], &table(), &c, None, &certs());
        let r = rdap(Some("Example\tISP Inc."), &[], None);
        let by_rdap = attribute(ip("203.0.113.1"), &[], &table(), &Contacts::default(), Some(&r), &certs());
        assert_eq!(by_operator.owner_key, "example isp inc.");
        assert_eq!(by_rdap.owner_key, by_operator.owner_key);
        // Same inputs, same attribution.
        assert_eq!(attribute(ip("192.0.2.1"), &[], &table(), &c, None, &certs()), by_operator);
    }

    #[test]
    fn the_fallback_checks_what_it_is_given() {
        let mut f = Fallback::default();
        assert!(f.add("DEU", "CERT-Bund", "a@b.example", 0).is_err());
        assert!(f.add("DE", "", "a@b.example", 0).is_err());
        assert!(f.add("DE", "CERT-Bund", "CERT-Bund <a@b.example>", 0).is_err());
        f.add("de", "CERT-Bund", "a@b.example", 0).expect("valid");
        assert!(f.by_country.contains_key("DE"));
    }

    #[test]
    fn an_attribution_serialises_with_its_provenance() {
        let c = contacts("match,email,name,language\n192.0.2.0/24,it@cu.example,Example CU,de\n");
        let a = attribute(ip("192.0.2.1"), &[], &table(), &c, None, &certs());
        let json = serde_json::to_string(&a).expect("serialises");
        assert_eq!(
            json,
            r#"{"owner_key":"example cu","owner_name":"Example CU","owner_source":"operator","contacts":[{"email":"it@cu.example","source":"operator","confidence":"high","fetched":1767225600,"language":"de"}],"asn":64500,"asn_org":"Example ISP, Inc.","asn_range":["192.0.2.0","192.0.2.255"],"country":null}"#
        );
        let back: Attribution = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, a);
    }
}
