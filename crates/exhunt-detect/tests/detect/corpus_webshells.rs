//! The shipped file rules over every web shell and every benign file of the shared corpus: each `manifest.jsonl`
//! entry whose `dest` starts with `webshells/` or `benign/`, read in place (`../shared/corpus`, or
//! `$EXHUNT_SHARED/corpus`; a missing corpus fails the test, it never skips).
//!
//! What each entry must give follows its `expect`: a web shell is matched at `high` or above by a rule of the family
//! the manifest names; the manifest's borderline and component entries are decided one by one in [`WEBSHELLS`]; a
//! benign file (pages, the Exchange baseline CSVs, the applicationHost.config captures) is matched by nothing above
//! `info`. The test prints a table of every file's result (`cargo test --test corpus_webshells -- --nocapture`).

use exhunt_detect::{FileRules, FileScanner};
use exhunt_kb::Kb;
use exhunt_model::Severity;
use exhunt_testkit::shared;
use std::collections::BTreeSet;
use std::path::Path;

/// What a `webshells/` entry must give.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// A web shell: some rule matches at `high` or above, and one of the matching rules carries this family.
    Shell(&'static str),
    /// Not a shell that runs on the server by itself: a rule may report it, but at no more than this severity and
    /// with no family (it is not an instance of a web-shell family).
    AtMost(Severity),
}

/// The decision for every `webshells/` entry of the manifest: manifest `dest` → what the scan must give. A manifest
/// entry without a row here fails the test, so a new corpus file needs a decision.
const WEBSHELLS: &[(&str, Want)] = &[
    // "China Chopper (JScript eval/unsafe); note GIF89a header before page directive"
    ("webshells/chopper/tennc_caidao-shell_ice.aspx", Want::Shell("china-chopper")),
    // "China Chopper (canonical one-liner)"
    ("webshells/chopper/tennc_aspx_editor.aspx", Want::Shell("china-chopper")),
    // "obfuscated China Chopper-style JScript eval (no plain 'Request.Item' string) - hard case": eval of a
    // GetEncoding(936)/FromBase64String string with char() arithmetic (EXH-FILE-0002).
    ("webshells/chopper/tennc_asp_2022-08-12.aspx", Want::Shell("china-chopper")),
    // "China Chopper customize handler (ASHX)"
    ("webshells/chopper/tennc_caidao-shell_customize.ashx", Want::Shell("china-chopper")),
    // "China Chopper customize (ASMX web service)"
    ("webshells/chopper/tennc_caidao-shell_customize.asmx", Want::Shell("china-chopper")),
    // "dropper (ASHX) embedding China Chopper string": the dropper runs when requested and writes the one-liner, so
    // it is reported as the family it plants.
    ("webshells/chopper/xl7dev_Ashx_write_aspx_file.ashx", Want::Shell("china-chopper")),
    // "ASPXSpy"
    ("webshells/aspxspy/tennc_aspx_ASPXspy2.aspx", Want::Shell("aspxspy")),
    // "ASPXSpy"
    ("webshells/aspxspy/tennc_net-friend_aspx_aspxspy.aspx", Want::Shell("aspxspy")),
    // "ASPXSpy (DCVI.NET build)": the stray 'v' before <%@ Page does not matter to content rules.
    ("webshells/aspxspy/blackarch_aspx_shell.aspx", Want::Shell("aspxspy")),
    // "webshell/tunnel: reGeorg"
    ("webshells/tunnels/sensepost_reGeorg_tunnel.aspx", Want::Shell("regeorg")),
    // "webshell/tunnel: reGeorg"
    ("webshells/tunnels/sensepost_reGeorg_tunnel.ashx", Want::Shell("regeorg")),
    // "Neo-reGeorg (template form; generated shells are encoded with a per-key table)": the template is matched by
    // its placeholders; EXH-FILE-0006's own samples cover the generated form.
    ("webshells/tunnels/neoregeorg_templates_tunnel.aspx", Want::Shell("neo-regeorg")),
    // "Godzilla"
    ("webshells/other_aspx/tennc_Godzilla_123.aspx", Want::Shell("godzilla")),
    // "Godzilla (ASHX)"
    ("webshells/other_aspx/tennc_Godzilla_123.ashx", Want::Shell("godzilla")),
    // "Antak (Nishang)"
    ("webshells/other_aspx/tennc_nishang_antak.aspx", Want::Shell("antak")),
    // "generic cmd.aspx (Process.Start)": VB, program and arguments from text boxes.
    ("webshells/other_aspx/tennc_fuzzdb_cmd.aspx", Want::Shell("cmd-shell")),
    // "cmdexec.aspx": cmd.exe with "/c " + text box.
    ("webshells/other_aspx/tennc_aspnet-backdoors_cmdexec.aspx", Want::Shell("cmd-shell")),
    // "file upload backdoor": posted bytes written with FileStream beside the page under the client's name.
    ("webshells/other_aspx/tennc_aspnet-backdoors_fileupload.aspx", Want::Shell("upload-backdoor")),
    // "ASHX cmd executor": request value written to cmd.exe's standard input.
    ("webshells/other_aspx/tennc_aspx_as.ashx", Want::Shell("cmd-shell")),
    // "web.config handler abuse": *.config mapped to asp.dll, web.config un-hidden, ASP code in a comment.
    ("webshells/config/tennc_aspx_web.config", Want::Shell("webconfig-abuse")),
    // "webshell source: Chopper-compatible HttpHandler (C#)": source that needs compiling and registering, but
    // ASP.NET compiles App_Code by itself and one web.config line registers it, so it counts as a shell of the
    // family whose protocol it speaks.
    ("webshells/other_aspx/tennc_httpHandlers_backdoor_Customize.cs", Want::Shell("china-chopper")),
    // "ASPX Shell (LT)": a named tool with no rule of its own; a command shell with a file manager, so the family
    // expected is the generic command-shell one.
    ("webshells/other_aspx/blackarch_aspx_aspxshell.aspx", Want::Shell("cmd-shell")),
    // "cmdasp.aspx": named tool, generic command-shell family.
    ("webshells/other_aspx/blackarch_aspx_cmdasp.aspx", Want::Shell("cmd-shell")),
    // "borderline: client-side attacker tool … not executable on the server": an HTML form that posts code to a
    // one-liner elsewhere. It must not be reported as a web shell (high or above) nor given a family; a low/medium
    // note would be acceptable, none is required.
    ("webshells/other_aspx/xl7dev_ASPX_one_line_client_amxku.html", Want::AtMost(Severity::Medium)),
    // "ASPXSpy variant" (NightRunner)
    ("webshells/aspxspy/xl7dev_ASPXspy_by_NightRunner.aspx", Want::Shell("aspxspy")),
    // "classic ASP cmd": WScript.Shell runs "cmd.exe /c " & request("cmd").
    ("webshells/classic_asp/tennc_fuzzdb_cmd.asp", Want::Shell("cmd-shell")),
    // "ASPXSpy"
    ("webshells/aspxspy/tennc_asp_ASPXspy2.aspx", Want::Shell("aspxspy")),
    // "webshell component: XSLT msxsl:script payload (not an ASP.NET page by itself)": the stylesheet runs its
    // eval(Request.Item['a'],'unsafe') wherever a loader transforms with it, and sits in a web folder under an
    // .aspx name, so it is reported like a shell, as the XSLT family (EXH-FILE-0001 also names the Chopper call).
    ("webshells/other_aspx/xl7dev_xml_xml.aspx", Want::Shell("xslt-shell")),
];

fn shipped() -> Kb {
    let (kb, diags) = Kb::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb"));
    let errors: Vec<String> = diags.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "shipped kb has errors:\n{}", errors.join("\n"));
    kb
}

struct Entry {
    dest: String,
    expect: String,
    size: u64,
}

/// The manifest entries under `webshells/` and `benign/`, in manifest order.
fn entries(corpus: &Path) -> Vec<Entry> {
    let path = corpus.join("manifest.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("manifest.jsonl:{}: {e}", i + 1));
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
        let dest = field("dest");
        if dest.starts_with("webshells/") || dest.starts_with("benign/") {
            let size = v.get("size").and_then(|x| x.as_u64()).unwrap_or_else(|| panic!("{dest}: no size"));
            out.push(Entry { dest, expect: field("expect"), size });
        }
    }
    out
}

/// One file's scan result, summarised.
struct Scanned {
    rules: Vec<String>,
    families: BTreeSet<String>,
    max: Option<Severity>,
    /// Highest severity among the rules that carry a family.
    max_family: Option<Severity>,
}

fn scan(scanner: &mut FileScanner<'_>, kb: &Kb, corpus: &Path, e: &Entry) -> Scanned {
    let path = corpus.join(&e.dest);
    let data = std::fs::read(&path).unwrap_or_else(|err| panic!("corpus file {}: {err}", path.display()));
    assert_eq!(data.len() as u64, e.size, "{}: size differs from the manifest", e.dest);
    let hits = scanner.scan(Some(&e.dest), &data).unwrap_or_else(|err| panic!("{}: {err}", e.dest));
    let mut s = Scanned { rules: Vec::new(), families: BTreeSet::new(), max: None, max_family: None };
    for h in &hits {
        let rule = kb.rules.get(h.rule).unwrap_or_else(|| panic!("{}: hit of unknown rule {}", e.dest, h.rule));
        s.rules.push(rule.id.clone());
        s.max = s.max.max(Some(rule.severity));
        if let Some(f) = &rule.family {
            s.families.insert(f.clone());
            s.max_family = s.max_family.max(Some(rule.severity));
        }
    }
    s
}

fn sev(s: Option<Severity>) -> &'static str {
    s.map_or("-", |s| s.as_str())
}

#[test]
fn corpus_webshells_and_benign_files_give_what_the_manifest_expects() {
    let corpus = shared().join("corpus");
    let kb = shipped();
    let (rules, diags) = FileRules::new(&kb);
    assert!(diags.iter().all(|d| !d.is_error()), "file rules do not compile: {diags:?}");

    let all = entries(&corpus);
    let shells: Vec<&Entry> = all.iter().filter(|e| e.dest.starts_with("webshells/")).collect();
    let benign: Vec<&Entry> = all.iter().filter(|e| e.dest.starts_with("benign/")).collect();
    assert!(shells.len() >= 28 && benign.len() >= 18, "{} web shells, {} benign files", shells.len(), benign.len());

    // The decision table and the manifest name the same files.
    let dests: BTreeSet<&str> = shells.iter().map(|e| e.dest.as_str()).collect();
    let decided: BTreeSet<&str> = WEBSHELLS.iter().map(|(d, _)| *d).collect();
    assert_eq!(decided.len(), WEBSHELLS.len(), "a file is decided twice in WEBSHELLS");
    let undecided: Vec<&&str> = dests.difference(&decided).collect();
    let stale: Vec<&&str> = decided.difference(&dests).collect();
    assert!(undecided.is_empty(), "manifest web shells with no row in WEBSHELLS: {undecided:?}");
    assert!(stale.is_empty(), "WEBSHELLS rows for files not in the manifest: {stale:?}");

    let mut failures = Vec::new();
    let mut table = vec![format!("{:<62} {:<6} {:<34} {:<8}  rules", "file", "found", "family", "max")];
    let mut scanner = rules.scanner();
    for e in shells.iter().chain(benign.iter()) {
        let s = scan(&mut scanner, &kb, &corpus, e);
        let families = if s.families.is_empty() {
            "-".to_string()
        } else {
            s.families.iter().cloned().collect::<Vec<_>>().join(",")
        };
        table.push(format!(
            "{:<62} {:<6} {:<34} {:<8}  {}",
            e.dest,
            if s.rules.is_empty() { "no" } else { "yes" },
            families,
            sev(s.max),
            s.rules.join(",")
        ));
        if e.dest.starts_with("benign/") {
            if s.max > Some(Severity::Info) {
                failures.push(format!(
                    "{}: benign ({}) but matched at {} by {:?}",
                    e.dest,
                    e.expect,
                    sev(s.max),
                    s.rules
                ));
            }
            continue;
        }
        let want = WEBSHELLS.iter().find(|(d, _)| *d == e.dest).map(|(_, w)| *w).expect("decided above");
        match want {
            Want::Shell(family) => {
                if s.max < Some(Severity::High) {
                    failures.push(format!(
                        "{}: {} — max severity {} (want high or above)",
                        e.dest,
                        e.expect,
                        sev(s.max)
                    ));
                }
                if !s.families.contains(family) {
                    failures.push(format!("{}: {} — families {:?} (want {family})", e.dest, e.expect, s.families));
                }
                if s.max_family < Some(Severity::High) {
                    failures.push(format!("{}: no family rule matched at high or above", e.dest));
                }
            }
            Want::AtMost(limit) => {
                if s.max > Some(limit) || !s.families.is_empty() {
                    failures.push(format!(
                        "{}: {} — matched at {} with families {:?} (allowed: at most {}, no family)",
                        e.dest,
                        e.expect,
                        sev(s.max),
                        s.families,
                        limit.as_str()
                    ));
                }
            }
        }
    }
    table.push(format!(
        "{} file rules over {} files (speed is measured by bench/, not here)",
        rules.len(),
        shells.len() + benign.len()
    ));
    println!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{} corpus expectation(s) not met:\n{}", failures.len(), failures.join("\n"));
}

/// `FileRules::wants` scoping: content rules have no extension scope, so a shell saved as `.txt` or without an
/// extension is still scanned, while the web.config rule only sees `.config` files.
#[test]
fn web_shell_rules_apply_to_any_file_name() {
    let corpus = shared().join("corpus");
    let kb = shipped();
    let (rules, _) = FileRules::new(&kb);
    let data = std::fs::read(corpus.join("webshells/chopper/tennc_aspx_editor.aspx")).expect("corpus file");
    for name in [
        r"C:\inetpub\wwwroot\aspnet_client\system_web\readme.txt",
        r"C:\inetpub\wwwroot\aspnet_client\logo.gif",
        r"C:\inetpub\wwwroot\aspnet_client\shell",
    ] {
        assert!(rules.wants(Some(name), data.len() as u64), "{name}");
        let hits = rules.scan(Some(name), &data).expect("scan");
        assert!(hits.iter().any(|h| h.rule == "EXH-FILE-0001"), "{name}: {hits:?}");
    }
    let config = std::fs::read(corpus.join("webshells/config/tennc_aspx_web.config")).expect("corpus file");
    let as_config = rules.scan(Some(r"C:\inetpub\wwwroot\aspnet_client\web.config"), &config).expect("scan");
    assert!(as_config.iter().any(|h| h.rule == "EXH-FILE-0015"), "{as_config:?}");
    let as_text = rules.scan(Some(r"C:\inetpub\wwwroot\aspnet_client\web.config.txt"), &config).expect("scan");
    assert!(as_text.iter().all(|h| h.rule != "EXH-FILE-0015"), "{as_text:?}");
}
