//! The campaign's logic without I/O: what a run's records say about each ticket check ([`check`]), the
//! remediation tickets those sightings move ([`ticket`]), and who owns an address and whom to tell ([`owner`]),
//! from the offline IP-to-ASN dataset ([`asn`]) and the operator's contacts ([`contacts`]). The store
//! (`exhunt-store`) feeds it records it has read from scan and hunt output and keeps what it returns;
//! notifications and pages read the store. Nothing here opens a file, a socket or a database, so every transition
//! is tested without one: the caller opens the dataset and the contacts file and passes readers or bytes.
//!
//! Why a crate of its own, below the store: the store calls these rules while it ingests, and the notify crate,
//! which sends mail from the store's outbox, sits above the store; the rules cannot live in either without a
//! circle.

pub mod asn;
pub mod check;
pub mod contacts;
pub mod error;
pub mod owner;
pub mod ticket;

pub use asn::{AsnBuilder, AsnInfo, AsnLoad, AsnTable};
pub use check::{Check, Seen};
pub use contacts::{Confidence, Contact, Contacts, Match, Source};
pub use error::{AsnError, AsnRowError, AsnRowProblem, ContactError, ContactProblem};
pub use owner::{Attribution, ContactRef, Fallback, NationalCert, OwnerSource, RdapOwner, attribute};
pub use ticket::{Event, EventKind, FalsePositiveMark, Sighting, State};
