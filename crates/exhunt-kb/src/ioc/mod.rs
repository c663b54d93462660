//! IOC packs (`kb/ioc/*.toml`): indicators of compromise as data, each with the source that published it.
//!
//! One pack per source (a vendor report, a government alert, a community list). A pack is a `[pack]` header and
//! entries of six kinds: `[[path]]`, `[[file_name]]`, `[[hash]]`, `[[ip]]`, `[[user_agent]]` and `[[domain]]`. The
//! format, every key, and how to add a pack are in `docs/ioc-packs.md`.
//!
//! * `types.rs`: the data — [`IocKind`], [`IocEntry`] with its provenance, [`IocPack`], [`IocSet`] (all packs),
//!   [`IocHit`] (an entry with its pack, citable as `kb/ioc/<pack>.toml:<line>`).
//! * `load.rs`: [`load`] and [`parse_pack`] read the TOML, dispatch tables by kind, drop duplicates.
//! * `validate.rs`: every entry checked for its kind, each problem a coded [`Diagnostic`](crate::Diagnostic) at its
//!   line and column. A bad entry is dropped and the rest of its pack is kept; a pack whose header is bad is
//!   dropped whole, because its entries inherit the header's source and date.
//! * `pattern.rs`: the path pattern language ([`compile_path`], [`compile_file_name`]), which validation checks and
//!   matching compiles.
//!
//! Matching ("is this known bad?") is detection: `exhunt_detect::ioc::IocIndex` indexes an [`IocSet`] once and
//! answers for paths, file names, hashes, addresses, user agents and domains, without I/O.

mod load;
mod pattern;
#[cfg(test)]
mod testing;
mod types;
mod validate;

pub use load::{load, parse_pack};
pub use pattern::{PathKey, PatternError, compile_file_name, compile_path};
pub use types::{HashAlgo, IocDetail, IocEntry, IocHit, IocKind, IocPack, IocSet, UaMatch, normalize_user_agent};

/// Where IOC packs live under the kb root.
pub const IOC_DIR: &str = "ioc/";
