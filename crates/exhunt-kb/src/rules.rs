//! Rules (`kb/rules/**/*.toml`). Stub: filled in by the rule-format work.
use crate::diag::Diagnostic;
use crate::files::KbFiles;
use std::collections::BTreeSet;

#[derive(Clone, Debug)]
pub struct Rule {}

#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// Relative paths (under the kb root) of every sample file a rule names.
    pub sample_files: BTreeSet<String>,
}

pub fn load(_files: &KbFiles, _diags: &mut Vec<Diagnostic>) -> RuleSet {
    RuleSet::default()
}
