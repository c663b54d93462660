//! Microsoft's known-good hash lists (`shared/corpus/benign/exchange/baselines`, read in place): a changed stock file
//! and a new script file under Exchange's web roots are reported; the comparison uses the build the logs show.

use exhunt_hunt::evidence::{self, OpenOptions};
use exhunt_hunt::hunt::{BaselineSet, Engines, HuntOptions, hunt_host};
use exhunt_kb::Kb;
use exhunt_testkit::shared;

#[test]
fn changed_and_new_exchange_files_are_reported_against_the_servers_build() {
    let tmp = tempfile::tempdir().expect("tmp");
    let x = tmp.path().join("C/Program Files/Microsoft/Exchange Server/V15");
    let auth = x.join("FrontEnd/HttpProxy/owa/auth");
    std::fs::create_dir_all(&auth).expect("mkdir");
    // A logon page someone edited (the project's own text; its hash is not Microsoft's).
    std::fs::write(
        auth.join("logon.aspx"),
        "<%@ Page language=\"c#\" %>\n<!-- edited: sends the password elsewhere -->\n",
    )
    .expect("write");
    std::fs::write(auth.join("helper.aspx"), "<%@ Page language=\"c#\" %>\n<html><body>hello</body></html>\n")
        .expect("write");
    let hp = x.join("Logging/HttpProxy/Owa");
    std::fs::create_dir_all(&hp).expect("mkdir");
    std::fs::write(
        hp.join("HttpProxy_2021031001-1.LOG"),
        "#Software: Microsoft Exchange Server\n#Version: 15.01.2176.009\n#Log-type: HttpProxy Logs\n#Date: 2021-03-10T01:00:00.000Z\n\
         #Fields: DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,UrlStem,AnchorMailbox,UserAgent,ClientIpAddress,HttpStatus\n\
         2021-03-10T01:00:01.000Z,r1,15,1,2176,9,c1,Owa,mail.contoso.example,/owa/,SMTP:alice@contoso.example,Mozilla/5.0,10.0.0.9,200\n",
    )
    .expect("write");
    let (baselines, errors) = BaselineSet::load(&[shared().join("corpus/benign/exchange/baselines")]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(baselines.baselines.len(), 4, "four builds");
    let kb = Kb::builtin();
    let (engines, _) = Engines::new(&kb);
    let source = evidence::open(tmp.path(), &OpenOptions::default()).expect("open");
    let opts = HuntOptions { baselines, ..HuntOptions::default() };
    let r = hunt_host(source.as_ref(), &engines, &opts, &|_| {});
    let rules: Vec<(&str, &str)> = r
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.details.get("windows_path").and_then(|v| v.as_str()).unwrap_or("")))
        .collect();
    assert!(
        rules.iter().any(|(r, p)| *r == "EXH-BASELINE-MODIFIED" && p.ends_with("owa\\auth\\logon.aspx")),
        "{rules:?}"
    );
    assert!(rules.iter().any(|(r, p)| *r == "EXH-BASELINE-NEW" && p.ends_with("owa\\auth\\helper.aspx")), "{rules:?}");
    let files = r.report.coverage.iter().find(|c| c.source == "files").expect("files coverage");
    assert!(files.note.as_deref().is_some_and(|n| n.contains("known-good hashes for 15.1.2176.9")), "{:?}", files.note);
}
