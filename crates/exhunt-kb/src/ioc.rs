//! IOC packs (`kb/ioc/*.toml`). Stub: filled in by the IOC work.
use crate::diag::Diagnostic;
use crate::files::KbFiles;

#[derive(Clone, Debug, Default)]
pub struct IocSet {}

pub fn load(_files: &KbFiles, _diags: &mut Vec<Diagnostic>) -> IocSet {
    IocSet::default()
}
