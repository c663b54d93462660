//! The `exhunt` command line: tables for people, exit codes, golden diagnostics.

use assert_cmd::Command;
use std::path::Path;

fn exhunt() -> Command {
    Command::cargo_bin("exhunt").expect("binary")
}

fn golden(name: &str, actual: &str) {
    exhunt_testkit::golden(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name), actual);
}

#[test]
fn verdict_table_for_the_issue_examples() {
    let out = exhunt().args(["kb", "verdict", "15.1.2176.2", "15.1.2176.9", "15.1.2176"]).output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    golden("verdict_table.txt", &String::from_utf8(out.stdout).expect("utf-8"));
}

#[test]
fn malformed_builds_get_located_diagnostics_and_exit_2() {
    let out = exhunt().args(["kb", "verdict", "15.1..9", "15.1.2176.9", "15.1.2176.9.1", "abc"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    golden("verdict_malformed.stderr", &String::from_utf8(out.stderr).expect("utf-8"));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert!(stdout.contains("15.1.2176.9 "), "good builds are still judged: {stdout}");
}

#[test]
fn attacker_strings_are_escaped_in_the_table() {
    let out = exhunt().args(["kb", "verdict", "15.1\u{1b}[31m.2176.9"]).output().expect("run");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(!stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'), "raw ESC printed");
    assert!(stdout.contains("\\u{1b}"), "{stdout}");
}

#[test]
fn kb_check_and_test_pass_on_the_shipped_kb() {
    let kb = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb");
    let out = exhunt().args(["kb", "check"]).arg(&kb).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("0 error(s)"), "{stderr}");
    let out = exhunt().args(["kb", "test"]).arg(&kb).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(" 0 failed"), "{stderr}");
    // The built-in copy is the same knowledge base.
    let out = exhunt().args(["kb", "check"]).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_broken_kb_fails_check_with_exit_1_and_is_a_config_error_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("builds")).expect("mkdir");
    std::fs::write(dir.path().join("builds/exchange-builds.csv"), "product\n").expect("write");
    let out = exhunt().args(["kb", "check"]).arg(dir.path()).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[K018]: missing column `name`"));
    let out = exhunt().args(["kb", "verdict", "--kb"]).arg(dir.path()).arg("15.1.2176.9").output().expect("run");
    assert_eq!(out.status.code(), Some(3));
    let out = exhunt().args(["kb", "verdict", "--kb", "/nonexistent/kb", "15.1.2176.9"]).output().expect("run");
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn usage_errors_exit_3_and_help_exits_0() {
    let out = exhunt().args(["kb", "verdict"]).output().expect("run");
    assert_eq!(out.status.code(), Some(3));
    let out = exhunt().args(["kb", "verdict", "--format", "yaml", "15.1.2176.9"]).output().expect("run");
    assert_eq!(out.status.code(), Some(3));
    let out = exhunt().args(["--help"]).output().expect("run");
    assert_eq!(out.status.code(), Some(0));
}
