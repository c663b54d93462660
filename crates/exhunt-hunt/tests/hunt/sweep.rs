//! What the file sweep reads: of the .NET framework folders only `Temporary ASP.NET Files` (compiled pages), never
//! the framework's own DLLs.

use exhunt_hunt::evidence::{self, OpenOptions};
use exhunt_hunt::hunt::{Engines, HuntOptions, hunt_host};
use exhunt_kb::Kb;

#[test]
fn only_compiled_pages_are_swept_in_the_framework_folders() {
    let tmp = tempfile::tempdir().expect("tmp");
    let fw = tmp.path().join("C/Windows/Microsoft.NET/Framework64/v4.0.30319");
    let temp = fw.join("Temporary ASP.NET Files/root/1a2b3c4d/5e6f7a8b");
    std::fs::create_dir_all(&temp).expect("mkdir");
    for i in 0..20 {
        std::fs::write(fw.join(format!("System.Lib{i}.dll")), b"MZ framework").expect("dll");
    }
    std::fs::write(temp.join("App_Web_x1y2z3.dll"), b"MZ compiled page").expect("page");
    let kb = Kb::builtin();
    let (engines, _) = Engines::new(&kb);
    let source = evidence::open(tmp.path(), &OpenOptions::default()).expect("open");
    let r = hunt_host(source.as_ref(), &engines, &HuntOptions::default(), &|_| {});
    let files = r.report.coverage.iter().find(|c| c.source == "files").expect("files coverage");
    assert_eq!(files.files, 1, "only the compiled page is swept: {:?}", files.note);
    assert!(
        r.findings.iter().any(|f| f.rule == "EXH-PATH-0010" || f.rule == "EXH-PATH-0011"),
        "the App_Web dll is seen"
    );
}
