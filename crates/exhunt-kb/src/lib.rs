//! The knowledge base as data.
//!
//! Everything exhunt knows about Exchange and the 2021 campaigns lives in the `kb/` folder as plain files, not in
//! code: the build catalog (`builds/exchange-builds.csv`), IOC packs (`ioc/*.toml`), scan packs (`scan/*.toml`: web-shell URL paths, fingerprint markers) and rules (`rules/**/*.toml`, each
//! with its own positive and negative samples). This crate loads, validates and lints them, reporting every problem
//! as a coded [`Diagnostic`] with file, line and column. The format is specified in `docs/kb-format.md`.
//!
//! The copy of `kb/` in the source tree is embedded in the binary ([`Kb::builtin`]); `--kb DIR` loads another.

pub mod catalog;
pub mod diag;
pub mod files;
pub mod ioc;
pub mod rules;
pub mod scan;

pub use catalog::{Catalog, CatalogRow, Fix};
pub use diag::{Diagnostic, Level};
pub use files::{KbFile, KbFiles};
pub use ioc::IocSet;
pub use rules::{Rule, RuleSet};
pub use scan::ScanPack;

/// A loaded knowledge base.
#[derive(Clone, Debug)]
pub struct Kb {
    pub catalog: Catalog,
    pub iocs: IocSet,
    pub rules: RuleSet,
    /// What the scanner probes and its fingerprint reads (`scan/`).
    pub scan: ScanPack,
    /// The files it was loaded from (rule samples are read from here).
    pub files: KbFiles,
}

impl Kb {
    /// Loads and validates a knowledge base; every problem found is returned, none stops the load.
    pub fn load(files: KbFiles) -> (Kb, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let catalog = catalog::load(&files, &mut diags);
        let iocs = ioc::load(&files, &mut diags);
        let rules = rules::load(&files, &mut diags);
        let scan = scan::load(&files, &mut diags);
        check_stray_files(&files, &rules, &mut diags);
        (Kb { catalog, iocs, rules, scan, files }, diags)
    }

    /// Loads the knowledge base folder at `root`.
    pub fn load_dir(root: &std::path::Path) -> (Kb, Vec<Diagnostic>) {
        let (files, mut read_diags) = KbFiles::read_dir(root);
        let (kb, diags) = Kb::load(files);
        read_diags.extend(diags);
        (kb, read_diags)
    }

    /// The knowledge base shipped in the binary. Its cleanliness is pinned by tests (`kb check` over `kb/`).
    pub fn builtin() -> Kb {
        Kb::load(KbFiles::embedded()).0
    }

    /// What reports and scan metadata name the knowledge base by: the first 16 hex digits of SHA-256 over every file
    /// (`kb` first, each file's text after a 0 byte, in load order). The same files give the same hash anywhere.
    pub fn content_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"kb");
        for f in &self.files.files {
            h.update([0u8]);
            h.update(f.text.as_bytes());
        }
        hex::encode(&h.finalize()[..8])
    }
}

/// Warns about files that no loader reads (a typo in a folder name would otherwise silently drop a rule).
fn check_stray_files(files: &KbFiles, rules: &RuleSet, diags: &mut Vec<Diagnostic>) {
    for f in &files.files {
        let claimed = f.rel == "builds/exchange-builds.csv"
            || f.rel.ends_with("README.md")
            || (f.rel.starts_with("ioc/") && f.rel.ends_with(".toml"))
            || (f.rel.starts_with("rules/") && f.rel.ends_with(".toml"))
            || f.rel == scan::WEBSHELL_PATHS
            || f.rel == scan::FINGERPRINT
            || rules.sample_files.contains(&f.rel);
        if !claimed {
            diags.push(
                Diagnostic::warning("K024", &f.display, "no loader reads this file")
                    .with_help("catalog rows go in `builds/exchange-builds.csv`, IOC packs in `ioc/*.toml`, rules in `rules/**/*.toml`, scan packs in `scan/`, and a sample file must be named by a rule"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_hash_names_the_files() {
        let kb = Kb::builtin();
        let h = kb.content_hash();
        assert_eq!(h.len(), 16);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(Kb::builtin().content_hash(), h, "stable");
        let mut changed = Kb::builtin();
        changed.files.files[0].text.push(' ');
        assert_ne!(changed.content_hash(), h, "one changed byte changes it");
    }
}
