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
fn a_campaign_folder_gives_one_verdict_per_host_and_exactly_its_activity_groups() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cases = tmp.path().join("cases");
    let out = exhunt()
        .args(["lab", "campaign"])
        .arg(&cases)
        .args(["--hosts", "9", "--groups", "2", "--seed", "7", "--size", "262144"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let truth: Vec<serde_json::Value> = std::fs::read_to_string(cases.join("campaign.jsonl"))
        .expect("campaign.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(truth.len(), 9);

    let out =
        exhunt().args(["hunt", "--json", "--no-progress", "--since", "2021-01-01"]).arg(&cases).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out.stdout);

    // One host-report per server, with the verdict its truth gives.
    let reports: Vec<&serde_json::Value> = recs.iter().filter(|r| r["type"] == "host-report").collect();
    assert_eq!(reports.len(), 9, "one host-report per collection");
    for t in &truth {
        let host = t["host"].as_str().expect("host");
        let r = reports.iter().find(|r| r["data"]["host"] == host).unwrap_or_else(|| panic!("no report for {host}"));
        assert_eq!(r["data"]["verdict"], t["verdict"], "{host}");
    }

    // Each attacked server tells its story in time order; `used` exactly where the truth says the shell was used.
    for t in truth.iter().filter(|t| t["group"].is_u64()) {
        let host = t["host"].as_str().expect("host");
        let inc = recs
            .iter()
            .find(|r| r["type"] == "incident" && r["data"]["host"] == host)
            .unwrap_or_else(|| panic!("no incident for {host}"));
        let steps = inc["data"]["steps"].as_array().expect("steps");
        let stages: Vec<&str> = steps.iter().filter_map(|s| s["stage"].as_str()).collect();
        assert!(stages.contains(&"exploit") && stages.contains(&"plant"), "{host}: {stages:?}");
        let times: Vec<&str> = steps.iter().filter_map(|s| s["time"].as_str()).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "{host}: steps are in time order");
        assert_eq!(inc["data"]["used"], t["verdict"] == "backdoor-used", "{host}");
    }

    // Activity groups: exactly the planted groups (those with two servers or more), nothing across groups, no
    // server that no group attacked.
    let mut want: Vec<Vec<String>> = (0..2)
        .map(|g| {
            truth
                .iter()
                .filter(|t| t["group"] == g)
                .map(|t| t["host"].as_str().expect("host").to_string())
                .collect::<Vec<String>>()
        })
        .filter(|hs| hs.len() >= 2)
        .collect();
    want.sort();
    let mut got: Vec<Vec<String>> = recs
        .iter()
        .filter(|r| r["type"] == "activity-group")
        .map(|g| {
            g["data"]["hosts"].as_array().expect("hosts").iter().map(|h| h.as_str().expect("str").to_string()).collect()
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
    for g in recs.iter().filter(|r| r["type"] == "activity-group") {
        let links = g["data"]["links"].as_array().expect("links");
        assert!(links.iter().any(|l| l["kind"] == "client-ip"), "{links:#?}");
        for l in links {
            assert!(l["hosts"].as_array().is_some_and(|h| h.len() >= 2), "a link joins two hosts or more: {l}");
        }
    }

    // The terminal form says the same.
    let out = exhunt().args(["hunt", "--no-progress", "--since", "2021-01-01"]).arg(&cases).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Activity groups across the 9 hosts hunted:"), "{text}");
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
