//! `exhunt hunt` over many hosts at once: a folder of collections is one host per entry, every host gets its own
//! report and incident, and activity groups join the hosts that share an actor's traces — not the clean ones.

use assert_cmd::Command;
use std::path::Path;

fn exhunt() -> Command {
    Command::cargo_bin("exhunt").expect("binary")
}

fn lab(root: &Path, scenario: &str, seed: u64, host: &str) {
    let out = exhunt()
        .args(["lab", "evidence"])
        .arg(root.join(host))
        .args(["--seed", &seed.to_string(), "--size", "300000", "--scenario", scenario])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

fn records(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout).lines().map(|l| serde_json::from_str(l).expect("jsonl")).collect()
}

#[test]
fn a_folder_of_collections_gives_one_verdict_per_host_and_activity_groups() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cases = tmp.path().join("cases");
    lab(&cases, "used", 11, "ex-a");
    lab(&cases, "used", 12, "ex-b");
    lab(&cases, "backdoored", 13, "ex-c");
    lab(&cases, "probed", 14, "ex-d");
    let out =
        exhunt().args(["hunt", "--json", "--no-progress", "--since", "2021-01-01"]).arg(&cases).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out.stdout);
    let reports: Vec<&serde_json::Value> = recs.iter().filter(|r| r["type"] == "host-report").collect();
    assert_eq!(reports.len(), 4, "one host-report per collection");
    let verdict = |evidence_end: &str| {
        reports
            .iter()
            .find(|r| r["data"]["evidence"][0].as_str().is_some_and(|e| e.ends_with(evidence_end)))
            .map(|r| r["data"]["verdict"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("no report for {evidence_end}"))
    };
    assert_eq!(verdict("ex-a"), "backdoor-used");
    assert_eq!(verdict("ex-b"), "backdoor-used");
    assert_eq!(verdict("ex-c"), "compromised");
    assert_eq!(verdict("ex-d"), "exploitation-attempted");

    // Each host tells its story; only the compromised ones have a back door in it.
    let incidents: Vec<&serde_json::Value> = recs.iter().filter(|r| r["type"] == "incident").collect();
    assert_eq!(incidents.len(), 4, "{incidents:#?}");
    let planted =
        |i: &&&serde_json::Value| i["data"]["stages"].as_array().is_some_and(|s| s.iter().any(|x| x == "file-written"));
    assert_eq!(incidents.iter().filter(planted).count(), 3);
    for inc in incidents.iter().filter(planted) {
        let steps = inc["data"]["steps"].as_array().expect("steps");
        let stages: Vec<&str> = steps.iter().filter_map(|s| s["stage"].as_str()).collect();
        assert!(stages.contains(&"exploit") && stages.contains(&"file-written"), "{stages:?}");
        let times: Vec<&str> = steps.iter().filter_map(|s| s["time"].as_str()).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "steps are in time order");
    }
    let used: Vec<bool> = incidents.iter().map(|i| i["data"]["used"].as_bool().expect("used")).collect();
    assert_eq!(used.iter().filter(|u| **u).count(), 2, "the two `used` hosts show use, the backdoored one not");

    // Groups: the probed host (mass scanners only) is in none; every link is a trace that the lab's truth gives to
    // each host it names (actor address, actor user agent, shell file name); ex-a and ex-b share the antSword agent
    // in their truth, so they are grouped. Two lab hosts share a name: groups tell them apart by evidence folder.
    let truth = |host: &str| -> serde_json::Value {
        let t = std::fs::read_to_string(cases.join(host).join("truth.jsonl")).expect("truth");
        serde_json::from_str(t.lines().next().expect("scenario line")).expect("json")
    };
    let groups: Vec<&serde_json::Value> = recs.iter().filter(|r| r["type"] == "activity-group").collect();
    assert!(!groups.is_empty(), "{groups:#?}");
    let folder =
        |label: &str| ["ex-a", "ex-b", "ex-c", "ex-d"].into_iter().find(|f| label.contains(f)).map(str::to_string);
    let mut grouped_with_a = Vec::new();
    for g in &groups {
        let hosts: Vec<String> =
            g["data"]["hosts"].as_array().expect("hosts").iter().filter_map(|h| h.as_str().and_then(folder)).collect();
        assert!(!hosts.iter().any(|h| h == "ex-d"), "{hosts:?}");
        if hosts.iter().any(|h| h == "ex-a") {
            grouped_with_a = hosts.clone();
        }
        for l in g["data"]["links"].as_array().expect("links") {
            let value = l["value"].as_str().expect("value").replace('+', " ");
            let members: Vec<String> =
                l["hosts"].as_array().expect("hosts").iter().filter_map(|h| h.as_str().and_then(folder)).collect();
            assert!(members.len() >= 2, "{l}");
            for m in &members {
                let t = truth(m);
                let has = |key: &str| {
                    t[key]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|v| v.as_str().is_some_and(|s| s.replace('+', " ") == value)))
                };
                let ok = match l["kind"].as_str() {
                    Some("client-ip") => has("actor_ips"),
                    Some("user-agent") => has("actor_user_agents"),
                    Some("shell-name") => t["shells"].as_array().is_some_and(|a| {
                        a.iter().any(|s| {
                            s["path"].as_str().is_some_and(|p| p.to_lowercase().ends_with(&format!("/{value}")))
                        })
                    }),
                    _ => true,
                };
                assert!(ok, "link {l} is not in the truth of {m}");
            }
        }
    }
    assert!(grouped_with_a.contains(&"ex-b".to_string()), "{groups:#?}");

    // The terminal form says the same.
    let out = exhunt().args(["hunt", "--no-progress", "--since", "2021-01-01"]).arg(&cases).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Activity groups across the 4 hosts hunted:"), "{text}");
    assert!(text.contains("The attack, step by step"), "{text}");
}

#[test]
fn one_collection_is_not_split() {
    let tmp = tempfile::tempdir().expect("tmp");
    lab(tmp.path(), "probed", 3, "single");
    let out = exhunt()
        .args(["hunt", "--json", "--no-progress", "--since", "2021-01-01"])
        .arg(tmp.path().join("single"))
        .output()
        .expect("run");
    let recs = records(&out.stdout);
    assert_eq!(recs.iter().filter(|r| r["type"] == "host-report").count(), 1);
    assert_eq!(recs.iter().filter(|r| r["type"] == "activity-group").count(), 0);
}
