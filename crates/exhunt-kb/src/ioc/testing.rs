//! Helpers of the loading and validation tests: a pack header and a loader over one text.

use super::IocSet;
use super::load::load;
use crate::diag::Diagnostic;
use crate::files::{KbFile, KbFiles};

pub(super) fn file(text: &str) -> KbFile {
    KbFile { rel: "ioc/test-pack.toml".into(), display: "kb/ioc/test-pack.toml".into(), text: text.into() }
}

pub(super) const HEADER: &str = r#"[pack]
id = "test-pack"
title = "test"
source = "https://example.invalid/report"
published = "2021-03-02"
license = "test data"
description = "test"
"#;

pub(super) fn load_text(body: &str) -> (IocSet, Vec<Diagnostic>) {
    let text = format!("{HEADER}{body}");
    let files = KbFiles { root: None, files: vec![file(&text)] };
    let mut diags = Vec::new();
    let set = load(&files, &mut diags);
    (set, diags)
}

pub(super) fn render(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}
