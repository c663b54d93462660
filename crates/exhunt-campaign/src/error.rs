//! Errors of the campaign's inputs: the IP-to-ASN dataset ([`AsnError`], [`AsnRowError`]) and the operator's
//! contacts file ([`ContactError`]).
//!
//! A malformed dataset row never stops a load: it is collected with its file and line, and the load goes on. A
//! contacts file with any error imports nothing (the operator's overrides must be exactly what the file says), but
//! every error in it is reported at once, each with its line.

use std::fmt;

/// What stopped the IP-to-ASN dataset from loading at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsnError {
    /// A source could not be read to its end.
    #[error("cannot read `{source_name}` after line {line}: {message}")]
    Read { source_name: String, line: u64, message: String },
    /// The builder was finished without a source.
    #[error("no IP-to-ASN file given; pass `asn-ipv4.csv` and/or `asn-ipv6.csv` (see tools/fetch-asn-db.sh)")]
    NoSource,
    /// The sources held no usable row.
    #[error(
        "no usable row in {sources}: {failed} malformed; check the files are `asn-ipv4.csv`/`asn-ipv6.csv` of \
         `@ip-location-db/asn`"
    )]
    Empty { sources: String, failed: u64 },
}

/// One dataset row that was left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{source_name}` line {line}: {problem}")]
pub struct AsnRowError {
    /// The name the caller gave the source (the file name).
    pub source_name: String,
    /// 1-based line of the row.
    pub line: u64,
    pub problem: AsnRowProblem,
}

/// What is wrong with a dataset row.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AsnRowProblem {
    /// Not the four fields `ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization`.
    FieldCount { found: usize },
    /// A range bound is not an IPv4 or IPv6 address (`field` is `start` or `end`).
    Address { field: &'static str, text: String },
    /// The start and end are of different address families.
    MixedFamilies,
    /// The end comes before the start.
    Reversed,
    /// The AS number is not a number from 0 to 4294967295.
    Asn { text: String },
    /// The organisation name is not UTF-8, holds a control character, or is longer than the cap.
    Organisation { reason: &'static str },
    /// The CSV reader could not split the row.
    Csv { message: String },
}

impl fmt::Display for AsnRowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsnRowProblem::FieldCount { found } => write!(
                f,
                "{found} fields, expected 4 (`ip_range_start,ip_range_end,autonomous_system_number,\
                 autonomous_system_organization`)"
            ),
            AsnRowProblem::Address { field, text } if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                write!(
                    f,
                    "{field} `{text}` is a number, not an address; the `-num` files are not read, pass \
                     `asn-ipv4.csv`/`asn-ipv6.csv`"
                )
            }
            AsnRowProblem::Address { field, text } => write!(f, "{field} `{text}` is not an IPv4 or IPv6 address"),
            AsnRowProblem::MixedFamilies => f.write_str("the range starts and ends in different address families"),
            AsnRowProblem::Reversed => f.write_str("the range ends before it starts"),
            AsnRowProblem::Asn { text } => write!(f, "AS number `{text}` is not a number from 0 to 4294967295"),
            AsnRowProblem::Organisation { reason } => write!(f, "organisation name {reason}"),
            AsnRowProblem::Csv { message } => write!(f, "{message}"),
        }
    }
}

/// One problem in an operator contacts file, at a line of it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct ContactError {
    /// 1-based line of the row (CSV) or of the offending key (TOML); 0 when the file as a whole is wrong.
    pub line: u64,
    pub problem: ContactProblem,
}

/// What is wrong in a contacts file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContactProblem {
    /// The bytes are not UTF-8.
    Utf8,
    /// The TOML does not parse, or holds a key or type the format does not have.
    Toml { message: String },
    /// The CSV header lacks a required column, repeats one, or has one the format does not know.
    Header { message: String },
    /// A CSV row has more or fewer fields than the header.
    FieldCount { expected: usize, found: usize },
    /// A required field is missing or empty (`match`, `email`).
    Missing { field: &'static str },
    /// A field is longer than its cap (in bytes).
    TooLong { field: &'static str, max: usize },
    /// A field holds a control character (a line break, a NUL, an escape).
    Control { field: &'static str },
    /// `match` is none of the four kinds, or a malformed one of them.
    Match { text: String, reason: String },
    /// `email` is not an address exhunt will send to.
    Email { text: String, reason: &'static str },
    /// `language` is not a language tag such as `en`, `de` or `pt-BR`.
    Language { text: String },
    /// `country` is not a two-letter ISO 3166-1 code.
    Country { text: String },
    /// The same match and address were given before.
    Duplicate { first_line: u64 },
    /// The same match was given a different name before: the owner would depend on row order.
    NameConflict { first_line: u64, first: String },
    /// More errors than are listed; the count of the rest.
    More { count: u64 },
}

impl fmt::Display for ContactProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactProblem::Utf8 => f.write_str("not UTF-8; save the file as UTF-8"),
            ContactProblem::Toml { message } => write!(f, "{message}"),
            ContactProblem::Header { message } => write!(f, "{message}"),
            ContactProblem::FieldCount { expected, found } => {
                write!(f, "{found} fields, the header has {expected}; quote a field that holds a comma")
            }
            ContactProblem::Missing { field } => write!(f, "`{field}` is missing or empty"),
            ContactProblem::TooLong { field, max } => write!(f, "`{field}` is longer than {max} bytes"),
            ContactProblem::Control { field } => write!(f, "`{field}` holds a control character"),
            ContactProblem::Match { text, reason } => write!(f, "match `{text}` {reason}"),
            ContactProblem::Email { text, reason } => write!(f, "email `{text}` {reason}"),
            ContactProblem::Language { text } => {
                write!(f, "language `{text}` is not a language tag such as `en`, `de` or `pt-BR`")
            }
            ContactProblem::Country { text } => {
                write!(f, "country `{text}` is not a two-letter ISO 3166-1 code such as `DE`")
            }
            ContactProblem::Duplicate { first_line } => {
                write!(f, "the same match and email as line {first_line}; remove one of them")
            }
            ContactProblem::NameConflict { first_line, first } => write!(
                f,
                "the same match as line {first_line} with another name (`{first}` there); give one name per match"
            ),
            ContactProblem::More { count } => write!(f, "{count} more errors not listed"),
        }
    }
}

/// Text of the input quoted in an error: at most 64 characters, control characters escaped, so that a hostile
/// field cannot flood or forge the message.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
