//! IOC packs: the shipped packs load clean with provenance on every entry, and malformed packs give the diagnostics
//! pinned in `tests/fixtures/ioc/*.expected` (`UPDATE_GOLDEN=1` rewrites them). That the packs match the public
//! indicator files they transcribe is tested where matching is: `exhunt-detect`'s `tests/ioc.rs`.

use exhunt_kb::ioc::{self, IocKind, IocSet};
use exhunt_kb::{Diagnostic, Kb, KbFile, KbFiles};
use std::path::{Path, PathBuf};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn render(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

fn shipped() -> (IocSet, Vec<Diagnostic>) {
    let (kb, diags) = Kb::load_dir(&manifest().join("../../kb"));
    let ioc_diags = diags.into_iter().filter(|d| d.file.contains("/ioc/")).collect();
    (kb.iocs, ioc_diags)
}

#[test]
fn shipped_packs_load_without_diagnostics() {
    let (set, diags) = shipped();
    assert!(diags.is_empty(), "diagnostics in kb/ioc:\n{}", render(&diags));
    let ids: Vec<&str> = set.packs().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "cisa-aa21-062a",
            "cisa-ar21-072d",
            "eset-exchange-siege",
            "mstic-exchange-2021-03",
            "scs-labs-hafnium",
            "volexity-exchange-marauder"
        ]
    );
    // Every pack and entry carries provenance.
    for hit in set.entries() {
        assert!(!hit.source().is_empty() && !hit.date().is_empty(), "{}", hit.cite());
        assert!(hit.entry.line > 0);
    }
}

#[test]
fn the_builtin_copy_is_the_same_as_the_folder() {
    let builtin = Kb::builtin().iocs;
    let (dir, _) = shipped();
    assert_eq!(builtin.len(), dir.len());
    assert_eq!(builtin.packs().len(), dir.packs().len());
}

#[test]
fn entry_lines_point_at_their_value() {
    let (set, _) = shipped();
    let root = manifest().join("../../kb");
    for hit in set.entries() {
        let text = read(&root.join(&hit.pack.file));
        let line = text.lines().nth(hit.entry.line - 1).unwrap_or_default();
        assert!(line.starts_with("value = "), "{} is `{line}`", hit.cite());
        let v = hit.value();
        assert!(
            line.to_lowercase().contains(&v.to_lowercase()) || hit.kind() == IocKind::Ip,
            "{}: `{line}` does not hold `{v}`",
            hit.cite()
        );
    }
}

/// Each `tests/fixtures/ioc/X.toml` is loaded alone; its diagnostics must equal `X.expected`.
#[test]
fn golden_diagnostics_for_malformed_packs() {
    let dir = manifest().join("tests/fixtures/ioc");
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 6);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for path in fixtures {
        let name = path.file_name().expect("file name").to_string_lossy().into_owned();
        let files = KbFiles {
            root: None,
            files: vec![KbFile {
                rel: format!("ioc/{name}"),
                display: format!("tests/fixtures/ioc/{name}"),
                text: read(&path),
            }],
        };
        let mut diags = Vec::new();
        let set = ioc::load(&files, &mut diags);
        assert!(diags.iter().any(Diagnostic::is_error) || name == "duplicates.toml", "{name} gave no error");
        let got = format!("{}\n# packs loaded: {}, entries kept: {}\n", render(&diags), set.packs().len(), set.len());
        let expected_path = path.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &got).expect("write golden file");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!("{name}:\n--- expected\n{want}--- got\n{got}")),
            Err(_) => failures.push(format!("{name}: no {} (run with UPDATE_GOLDEN=1)", expected_path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
