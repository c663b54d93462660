//! The HTML report in a real browser (headless Chromium, `/usr/bin/chromium`; `.ci/run` installs it): the page
//! renders, the verdict is the first thing in it, no script runs, and hostile strings arrive as text.

use assert_cmd::Command;
use std::path::Path;

fn chromium() -> &'static str {
    let p = "/usr/bin/chromium";
    assert!(Path::new(p).exists(), "headless Chromium is needed: apt-get install chromium (the CI script does)");
    p
}

fn dump_dom(html: &Path, profile: &Path) -> String {
    let out = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_report_renders_in_chromium_with_hostile_strings_inert() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("host");
    let web = root.join("C/inetpub/wwwroot/aspnet_client");
    std::fs::create_dir_all(&web).expect("mkdir");
    // A file name that would run script if it were pasted into the page unescaped.
    std::fs::write(
        web.join("a<img src=x onerror=document.title='pwned'>.aspx"),
        "<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"z\"],\"unsafe\");%>",
    )
    .expect("shell");
    let html = tmp.path().join("report.html");
    let out = Command::cargo_bin("exhunt")
        .expect("binary")
        .args(["hunt", "--no-progress", "--host", "MAIL<b>01</b>"])
        .arg(&root)
        .arg("--html")
        .arg(&html)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let dom = dump_dom(&html, &tmp.path().join("profile"));
    // The verdict box comes before the findings, and says compromised.
    let v = dom.find("id=\"verdict\"").expect("verdict box");
    let f = dom.find("id=\"findings\"").expect("findings");
    assert!(v < f);
    assert!(dom.contains("compromised"), "verdict text");
    // Nothing the attacker wrote became an element: the title was not changed by an onerror handler,
    // and the host name's <b> is text.
    assert!(!dom.contains("<title>pwned</title>"), "script ran");
    assert!(!dom.contains("<img"), "attacker markup became an element");
    assert!(dom.contains("MAIL&lt;b&gt;01&lt;/b&gt;"), "host name shown as text");
    assert!(dom.contains("onerror=document.title"), "the hostile name is shown, as text");
}
