//! The three real `applicationHost.config` files of the corpus, read in place.

use crate::common::corpus;
use exhunt_hunt::discover::apphost::{self, Env, IisConfig, Site};

fn load(name: &str) -> IisConfig {
    let path = corpus(&format!("benign/exchange/iis_config/{name}"));
    let f = std::fs::File::open(&path).expect("readable corpus file");
    apphost::parse(name, f).expect("parses")
}

fn env() -> Env {
    Env { system_drive: 'C', exchange_install: None }
}

/// (url, resolved physical path) of every virtual directory of a site.
fn vdirs(site: &Site) -> Vec<(String, String)> {
    site.applications
        .iter()
        .flat_map(|a| {
            a.virtual_directories.iter().map(move |v| (Site::url_path(a, v), env().expand(&v.physical_path).0))
        })
        .collect()
}

const FE: &str = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy";
const BE: &str = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess";

fn common_checks(cfg: &IisConfig, front_apps: usize, back_apps: usize) {
    let names: Vec<(&str, u32)> = cfg.sites.iter().map(|s| (s.name.as_str(), s.id)).collect();
    assert_eq!(names, [("Default Web Site", 1), ("Exchange Back End", 2)]);
    let (front, back) = (&cfg.sites[0], &cfg.sites[1]);
    assert_eq!((front.applications.len(), back.applications.len()), (front_apps, back_apps));
    assert_eq!(
        cfg.sites
            .iter()
            .map(|s| s.applications.iter().map(|a| a.virtual_directories.len()).sum::<usize>())
            .sum::<usize>(),
        34
    );
    let fb: Vec<(&str, &str)> = front.bindings.iter().map(|b| (b.protocol.as_str(), b.information.as_str())).collect();
    assert_eq!(fb.len(), 8);
    assert!(
        fb.contains(&("https", ":443:"))
            && fb.contains(&("http", "*:80:"))
            && fb.contains(&("https", "127.0.0.1:443:"))
    );
    let bb: Vec<(&str, &str)> = back.bindings.iter().map(|b| (b.protocol.as_str(), b.information.as_str())).collect();
    assert_eq!(bb, [("http", "*:81:"), ("https", "*:444:"), ("net.pipe", "*")]);

    let fv = vdirs(front);
    assert_eq!(fv[0], ("/".to_string(), "C:\\inetpub\\wwwroot".to_string()), "%SystemDrive% expanded");
    assert!(fv.contains(&("/owa".into(), format!("{FE}\\owa"))));
    assert!(fv.contains(&("/ecp".into(), format!("{FE}\\ecp"))));
    assert!(fv.contains(&("/Microsoft-Server-ActiveSync".into(), format!("{FE}\\sync"))));
    assert!(fv.contains(&("/Rpc".into(), format!("{FE}\\rpc"))));
    let bv = vdirs(back);
    assert_eq!(bv[0], ("/".to_string(), BE.to_string()));
    assert!(bv.contains(&("/Exchange".into(), format!("{BE}\\owa"))));
    assert!(bv.contains(&("/mapi/emsmdb".into(), format!("{BE}\\mapi\\emsmdb"))));
    assert!(bv.contains(&("/PowerShell".into(), format!("{BE}\\PowerShell-Proxy"))));
    assert!(bv.contains(&("/EWS".into(), format!("{BE}\\exchweb\\EWS"))));
    assert!(bv.contains(&("/Rpc".into(), "C:\\Windows\\System32\\RpcProxy".into())), "%windir% expanded");
    assert_eq!(
        back.applications.iter().find(|a| a.path == "/ecp").and_then(|a| a.pool.as_deref()),
        Some("MSExchangeECPAppPool")
    );

    assert_eq!(cfg.default_log_directory, "%SystemDrive%\\inetpub\\logs\\LogFiles");
    assert_eq!(cfg.central_w3c_directory, None);
    let logs: Vec<String> = cfg.sites.iter().map(|s| env().expand(&s.log_folder(cfg)).0).collect();
    assert_eq!(logs, ["C:\\inetpub\\logs\\LogFiles\\W3SVC1", "C:\\inetpub\\logs\\LogFiles\\W3SVC2"]);
}

#[test]
fn exchange_2013_config() {
    let cfg = load("E15_NotConfigured_Both_ApplicationHost.config");
    common_checks(&cfg, 13, 17);
    let back = &cfg.sites[1];
    assert!(back.applications.iter().any(|a| a.path == "/Autodiscover/help"));
    assert!(!cfg.sites[0].applications.iter().any(|a| a.path == "/API"), "no REST API before Exchange 2016");
}

#[test]
fn exchange_2016_config() {
    let cfg = load("E16_NotConfigured_ApplicationHost.config");
    common_checks(&cfg, 14, 16);
    assert!(vdirs(&cfg.sites[0]).contains(&("/API".into(), format!("{FE}\\Rest"))));
    assert!(vdirs(&cfg.sites[1]).contains(&("/API".into(), format!("{BE}\\rest"))));
}

#[test]
fn exchange_2019_config() {
    let cfg = load("E19_NotConfigured_ApplicationHost.config");
    common_checks(&cfg, 14, 16);
    assert_eq!(cfg, load("E16_NotConfigured_ApplicationHost.config"), "the same sites as the Exchange 2016 capture");
}
