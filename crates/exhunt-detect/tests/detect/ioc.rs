//! The shipped IOC packs match the public indicator files they transcribe, read in place from
//! `../shared/corpus/ioc` (never copied into the repository): every hash, path, address, user agent and web-shell
//! name of each source is found by [`IocIndex`], in the spellings the evidence uses.

use exhunt_detect::ioc::IocIndex;
use exhunt_kb::Kb;
use exhunt_kb::ioc::{HashAlgo, IocDetail};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus/ioc` relative to the repository root, read in place.
fn corpus(rel: &str) -> PathBuf {
    manifest().join("../../../shared/corpus/ioc").join(rel)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn shipped() -> Kb {
    let (kb, diags) = Kb::load_dir(&manifest().join("../../kb"));
    assert!(diags.iter().all(|d| !d.file.contains("/ioc/")), "the IOC packs load clean: {diags:?}");
    kb
}

#[test]
fn every_mstic_sha256_and_path_is_matched() {
    let kb = shipped();
    let set = IocIndex::new(&kb.iocs);
    let dir = corpus("mstic_azure-sentinel");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let (mut hashes, mut paths) = (0, 0);
    for f in files {
        let text = read(&f);
        let mut rdr = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        for rec in rdr.records() {
            let rec = rec.expect("csv row");
            let (indicator, kind) = (&rec[2], &rec[3]);
            match kind {
                "sha256" => {
                    let hits = set.match_hash(indicator);
                    assert!(hits.iter().any(|h| h.pack_id() == "mstic-exchange-2021-03"), "sha256 {indicator}");
                    // The feed's FirstSeen survives as the entry's date.
                    let first_seen = &rec[1][..10];
                    assert!(hits.iter().any(|h| h.date() == first_seen), "{indicator} first seen {first_seen}");
                    hashes += 1;
                }
                "filepath" => {
                    assert!(
                        set.match_path(indicator).iter().any(|h| h.pack_id() == "mstic-exchange-2021-03"),
                        "path {indicator}"
                    );
                    // A triage folder keeps the drive as a folder, sometimes URL-encoded.
                    let triage = indicator.replacen(':', "", 1).replace('\\', "/");
                    assert!(!set.match_path(&triage).is_empty(), "{triage}");
                    assert!(!set.match_path(&indicator.replacen(':', "%3A", 1)).is_empty(), "{indicator} as %3A");
                    paths += 1;
                }
                other => panic!("unexpected indicator type {other}"),
            }
        }
    }
    assert_eq!((hashes, paths), (14, 47), "rows in the feed; five paths are listed twice");
}

#[test]
fn every_volexity_ip_is_matched() {
    let kb = shipped();
    let set = IocIndex::new(&kb.iocs);
    let text = read(&corpus("volexity_exchange_marauder/indicators.csv"));
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let mut n = 0;
    for rec in rdr.records() {
        let rec = rec.expect("csv row");
        assert_eq!(&rec[1], "ipaddress");
        let ip: IpAddr = rec[0].parse().expect("corpus IP parses");
        let packs: Vec<&str> = set.match_ip(ip).iter().map(|h| h.pack_id()).collect();
        assert!(packs.contains(&"volexity-exchange-marauder"), "{ip}: {packs:?}");
        // The same address as an IPv4-mapped IPv6 client address.
        let IpAddr::V4(v4) = ip else { panic!("Volexity listed IPv4 only") };
        assert!(!set.match_ip(IpAddr::V6(v4.to_ipv6_mapped())).is_empty());
        n += 1;
    }
    assert_eq!(n, 13);
}

#[test]
fn every_chirp_and_scs_indicator_is_matched() {
    let kb = shipped();
    let set = IocIndex::new(&kb.iocs);
    let chirp = read(&corpus("cisa_chirp_AA21-062A/AA21062A.yaml"));
    let ips: Vec<&str> = chirp
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "ips: |")
        .skip(1)
        .take_while(|l| l.parse::<IpAddr>().is_ok())
        .collect();
    assert_eq!(ips.len(), 15);
    for ip in ips {
        let hits = set.match_ip(ip.parse().expect("ip"));
        assert!(hits.iter().any(|h| h.pack_id() == "cisa-aa21-062a"), "{ip}");
    }
    let uas: Vec<&str> = chirp
        .lines()
        .filter_map(|l| l.trim().split_once("= \""))
        .filter(|(k, _)| k.starts_with("$ua"))
        .map(|(_, v)| v.trim_end_matches('"'))
        .collect();
    assert_eq!(uas.len(), 15);
    for ua in &uas {
        let hits = set.match_user_agent(ua);
        assert!(hits.iter().any(|h| h.pack_id() == "cisa-aa21-062a"), "{ua}");
    }
    // As IIS logs them in full, and as the HttpProxy logs write them (spaces, not `+`).
    let full = "Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html)";
    assert_eq!(set.match_user_agent(full).len(), 3, "one contains-entry in each of three packs");
    assert!(
        !set.match_user_agent("Mozilla/5.0 (compatible; Bingbot/2.0; +http://www.bing.com/bingbot.htm)").is_empty()
    );
    assert!(set.match_user_agent("Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)").is_empty());

    for ip in read(&corpus("scs-labs_hafnium/ip-addresses")).split_whitespace() {
        assert!(set.match_ip(ip.parse().expect("ip")).iter().any(|h| h.pack_id() == "scs-labs-hafnium"), "{ip}");
    }
    for h in read(&corpus("scs-labs_hafnium/hashes")).split_whitespace() {
        assert!(set.match_hash(h).iter().any(|x| x.pack_id() == "scs-labs-hafnium"), "{h}");
    }
    for ua in read(&corpus("scs-labs_hafnium/useragents")).lines().filter(|l| !l.is_empty()) {
        assert!(set.match_user_agent(ua).iter().any(|x| x.pack_id() == "scs-labs-hafnium"), "{ua}");
    }
    for name in read(&corpus("scs-labs_hafnium/webshell_names")).split_whitespace() {
        let name = name.replace("\\_", "_");
        assert!(set.match_file_name(&name).iter().any(|x| x.pack_id() == "scs-labs-hafnium"), "{name}");
    }
}

#[test]
fn every_eset_and_ar21_072d_hash_is_matched() {
    let kb = shipped();
    let set = IocIndex::new(&kb.iocs);
    for (file, algo, n) in [
        ("samples.sha256", HashAlgo::Sha256, 23),
        ("samples.sha1", HashAlgo::Sha1, 23),
        ("samples.md5", HashAlgo::Md5, 23),
    ] {
        let text = read(&corpus(&format!("eset_exchange_exploitation/{file}")));
        let hashes: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(hashes.len(), n);
        for h in hashes {
            let hits = set.match_hash(h);
            let hit = hits.iter().find(|x| x.pack_id() == "eset-exchange-siege").unwrap_or_else(|| panic!("{h}"));
            assert!(matches!(hit.entry.detail, IocDetail::Hash { algo: a, .. } if a == algo));
        }
    }
    let text = read(&corpus("cisa_ar21-072d/oab_vd_webshell_hashes.txt"));
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        for h in &cols[2..5] {
            let hits = set.match_hash(&h.to_uppercase());
            let hit = hits.iter().find(|x| x.pack_id() == "cisa-ar21-072d").unwrap_or_else(|| panic!("{h}"));
            assert!(matches!(&hit.entry.detail, IocDetail::Hash { file_name: Some(n), .. } if n == cols[0]));
        }
        assert!(!set.match_file_name(cols[0]).is_empty());
    }
}

#[test]
fn locations_and_exceptions_in_the_shipped_packs() {
    let kb = shipped();
    let set = IocIndex::new(&kb.iocs);
    // A legitimate Exchange page in a drop location is a candidate, never a plain indicator.
    let hits = set.match_path(r"C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\logon.aspx");
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h.is_location()), "{:?}", hits.iter().map(|h| h.cite()).collect::<Vec<_>>());
    // The one file that belongs in ecp\auth.
    let ecp = r"D:\Exchange\V15\FrontEnd\HttpProxy\ecp\auth\TimeoutLogoff.aspx";
    assert!(set.match_path(ecp).is_empty());
    assert!(!set.match_path(&ecp.replace("TimeoutLogoff", "x")).is_empty());
    // An OAB-export shell written through the admin share (CVE-2021-27065), as the OAB generator log records it.
    let hits = set.match_path(r"\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\shell.aspx");
    assert!(hits.iter().any(|h| !h.is_location() && h.pack_id() == "mstic-exchange-2021-03"));
    assert!(hits.iter().any(|h| h.is_location() && h.pack_id() == "scs-labs-hafnium"));
    // ESET's names anywhere under aspnet_client\system_web.
    assert!(
        set.match_path("E/inetpub/wwwroot/aspnet_client/system_web/OutlookEN.aspx")
            .iter()
            .any(|h| h.pack_id() == "eset-exchange-siege")
    );
    // C2 domains match their subdomains.
    assert!(!set.match_domain("www.yolkish.com").is_empty());
}
