//! The files of the triage folder that are not logs: web roots with stock-looking pages (written for the lab; they
//! are not Microsoft's files), IIS configuration, and the planted web shells.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use super::clock::ts;
use super::out::set_mtime;
use super::world::World;
use crate::LabError;

/// The Exchange install folder inside the triage folder.
pub const EXCHANGE: &str = "C/Program Files/Microsoft/Exchange Server/V15";

/// When the stock files were installed (the CU's setup).
const INSTALLED: i64 = ts(2020, 12, 18, 10, 12, 3);

/// Counts of what was written.
#[derive(Default)]
pub struct Written {
    pub files: u64,
    pub bytes: u64,
}

/// Writes `content` to `root/rel` (`rel` with `/`), creating folders, with modification time `t`.
pub fn write_file(root: &Path, rel: &str, content: &[u8], t: i64, n: &mut Written) -> Result<(), LabError> {
    let mut path = root.to_path_buf();
    for part in rel.split('/') {
        path.push(part);
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| LabError::io(parent, e))?;
    }
    let mut f = File::create(&path).map_err(|e| LabError::io(&path, e))?;
    f.write_all(content).map_err(|e| LabError::io(&path, e))?;
    set_mtime(&f, t).map_err(|e| LabError::io(&path, e))?;
    n.files += 1;
    n.bytes += content.len() as u64;
    Ok(())
}

fn mkdir(root: &Path, rel: &str) -> Result<(), LabError> {
    let mut path = root.to_path_buf();
    for part in rel.split('/') {
        path.push(part);
    }
    fs::create_dir_all(&path).map_err(|e| LabError::io(&path, e))
}

/// A plain ASP.NET page standing in for a stock Exchange page (same name, harmless content of our own).
fn stock_page(title: &str, body: &str) -> String {
    format!(
        "<%@ Page Language=\"C#\" AutoEventWireup=\"true\" EnableViewState=\"false\" %>\r\n\
         <!DOCTYPE html>\r\n<html>\r\n<head>\r\n<meta http-equiv=\"X-UA-Compatible\" content=\"IE=10\" />\r\n\
         <title>{title}</title>\r\n<link rel=\"stylesheet\" href=\"/owa/auth/Current/themes/resources/logon.css\" />\r\n\
         </head>\r\n<body class=\"signInBg\">\r\n<div class=\"mainLogonDiv\">\r\n{body}\r\n</div>\r\n</body>\r\n</html>\r\n"
    )
}

/// Writes everything but the logs and the shells.
pub fn write_static(root: &Path, w: &World, n: &mut Written) -> Result<(), LabError> {
    let auth = format!("{EXCHANGE}/FrontEnd/HttpProxy/owa/auth");
    let b = w.line.vulnerable;
    let version_dir = format!("{}.{}.{}", b.major, b.minor, b.build);
    let logon_form = "<form action=\"/owa/auth.owa\" method=\"POST\" name=\"logonForm\" autocomplete=\"off\">\r\n\
        <input type=\"hidden\" name=\"destination\" value=\"\" />\r\n<input type=\"hidden\" name=\"flags\" value=\"4\" />\r\n\
        <label for=\"username\">Domain\\user name:</label><input id=\"username\" name=\"username\" type=\"text\" />\r\n\
        <label for=\"password\">Password:</label><input id=\"password\" name=\"password\" type=\"password\" />\r\n\
        <input type=\"submit\" class=\"signinbutton\" value=\"sign in\" />\r\n</form>";
    let pages: [(&str, String); 6] = [
        ("logon.aspx", stock_page("Outlook", logon_form)),
        ("errorFE.aspx", stock_page("Outlook", "<p>Something went wrong. Please try again later.</p>")),
        ("expiredpassword.aspx", stock_page("Outlook", "<p>Your password has expired. Enter a new password.</p>")),
        ("signout.aspx", stock_page("Outlook", "<p>You have signed out of Outlook.</p>")),
        ("logoff.aspx", stock_page("Outlook", "<p>You have signed out. Close all browser windows.</p>")),
        ("frowny.aspx", stock_page("Outlook", "<p>:( An error occurred.</p>")),
    ];
    for (name, body) in &pages {
        write_file(root, &format!("{auth}/{name}"), body.as_bytes(), INSTALLED, n)?;
    }
    let css = b"body.signInBg { background-color: #fff; font-family: 'Segoe UI', Tahoma, sans-serif; }\r\n\
        .mainLogonDiv { position: absolute; left: 50%; top: 30%; }\r\n.signinbutton { cursor: pointer; }\r\n";
    let js = b"function clkLgn() { document.logonForm.submit(); }\r\nfunction setCookie(n, v) { document.cookie = n + '=' + v + '; path=/'; }\r\n";
    for dir in ["Current", version_dir.as_str()] {
        write_file(root, &format!("{auth}/{dir}/themes/resources/logon.css"), css, INSTALLED, n)?;
        write_file(
            root,
            &format!("{auth}/{dir}/themes/resources/owafont_ja.css"),
            b"/* font stack */\r\n",
            INSTALLED,
            n,
        )?;
        write_file(root, &format!("{auth}/{dir}/scripts/premium/flogon.js"), js, INSTALLED, n)?;
    }
    write_file(
        root,
        &format!("{EXCHANGE}/FrontEnd/HttpProxy/ecp/auth/TimeoutLogout.aspx"),
        stock_page("Exchange admin center", "<p>Your session has timed out. Sign in again.</p>").as_bytes(),
        INSTALLED,
        n,
    )?;
    mkdir(root, &format!("{EXCHANGE}/FrontEnd/HttpProxy/OAB"))?;
    mkdir(root, &format!("{EXCHANGE}/ClientAccess/OAB/Temp"))?;
    mkdir(root, &format!("{EXCHANGE}/ClientAccess/owa/auth"))?;
    mkdir(root, &format!("{EXCHANGE}/ClientAccess/ecp"))?;
    let iisstart = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n\
        <html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\" />\r\n\
        <title>IIS Windows Server</title>\r\n</head>\r\n<body>\r\n<div id=\"container\"><p>Internet Information Services</p></div>\r\n</body>\r\n</html>\r\n";
    write_file(root, "C/inetpub/wwwroot/iisstart.htm", iisstart.as_bytes(), ts(2020, 11, 2, 14, 3, 11), n)?;
    mkdir(root, "C/inetpub/wwwroot/aspnet_client/system_web/4_0_30319")?;
    write_file(
        root,
        "C/Windows/System32/inetsrv/config/applicationHost.config",
        application_host(w).as_bytes(),
        ts(2021, 2, 12, 8, 41, 55),
        n,
    )?;
    Ok(())
}

/// IIS configuration: "Default Web Site" (id 1, front end) and "Exchange Back End" (id 2), with Exchange's virtual
/// directories mapped to the FrontEnd and ClientAccess folders.
fn application_host(w: &World) -> String {
    const FE: &str = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy";
    const BE: &str = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess";
    let fe_apps: [(&str, &str, &str); 10] = [
        ("/owa", "MSExchangeOWAAppPool", "owa"),
        ("/ecp", "MSExchangeECPAppPool", "ecp"),
        ("/EWS", "MSExchangeServicesAppPool", "EWS"),
        ("/Microsoft-Server-ActiveSync", "MSExchangeSyncAppPool", "sync"),
        ("/Autodiscover", "MSExchangeAutodiscoverAppPool", "autodiscover"),
        ("/OAB", "MSExchangeOABAppPool", "OAB"),
        ("/mapi", "MSExchangeMapiFrontEndAppPool", "mapi"),
        ("/PowerShell", "MSExchangePowerShellFrontEndAppPool", "PowerShell"),
        ("/rpc", "MSExchangeRpcProxyFrontEndAppPool", "rpc"),
        ("/API", "MSExchangeRestFrontEndAppPool", "rest"),
    ];
    let be_apps: [(&str, &str, &str); 9] = [
        ("/owa", "MSExchangeOWAAppPool", "owa"),
        ("/ecp", "MSExchangeECPAppPool", "ecp"),
        ("/EWS", "MSExchangeServicesAppPool", "exchweb\\EWS"),
        ("/Microsoft-Server-ActiveSync", "MSExchangeSyncAppPool", "sync"),
        ("/Autodiscover", "MSExchangeAutodiscoverAppPool", "autodiscover"),
        ("/OAB", "MSExchangeOABAppPool", "OAB"),
        ("/mapi/emsmdb", "MSExchangeMapiMailboxAppPool", "mapi\\emsmdb"),
        ("/PowerShell", "MSExchangePowerShellAppPool", "PowerShell"),
        ("/rpc", "MSExchangeRpcProxyAppPool", "rpc"),
    ];
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<configuration>\r\n");
    s.push_str("    <system.applicationHost>\r\n        <applicationPools>\r\n");
    let mut pools: Vec<&str> = vec!["DefaultAppPool"];
    for (_, p, _) in fe_apps.iter().chain(be_apps.iter()) {
        if !pools.contains(p) {
            pools.push(p);
        }
    }
    for p in &pools {
        s.push_str(&format!(
            "            <add name=\"{p}\" managedRuntimeVersion=\"v4.0\" managedPipelineMode=\"Integrated\">\r\n                <processModel identityType=\"LocalSystem\" />\r\n            </add>\r\n"
        ));
    }
    s.push_str("        </applicationPools>\r\n        <sites>\r\n");
    let site = |s: &mut String,
                name: &str,
                id: u32,
                http: u16,
                https: u16,
                root: &str,
                apps: &[(&str, &str, &str)],
                base: &str| {
        s.push_str(&format!("            <site name=\"{name}\" id=\"{id}\" serverAutoStart=\"true\">\r\n"));
        s.push_str(&format!(
            "                <application path=\"/\" applicationPool=\"DefaultAppPool\">\r\n                    <virtualDirectory path=\"/\" physicalPath=\"{root}\" />\r\n                </application>\r\n"
        ));
        for (path, pool, dir) in apps {
            s.push_str(&format!(
                "                <application path=\"{path}\" applicationPool=\"{pool}\">\r\n                    <virtualDirectory path=\"/\" physicalPath=\"{base}\\{dir}\" />\r\n                </application>\r\n"
            ));
        }
        s.push_str(&format!(
            "                <bindings>\r\n                    <binding protocol=\"http\" bindingInformation=\"*:{http}:\" />\r\n                    <binding protocol=\"https\" bindingInformation=\"*:{https}:\" />\r\n                </bindings>\r\n"
        ));
        s.push_str(
            "                <logFile logFormat=\"W3C\" directory=\"%SystemDrive%\\inetpub\\logs\\LogFiles\" period=\"Daily\" localTimeRollover=\"false\" />\r\n            </site>\r\n",
        );
    };
    site(&mut s, "Default Web Site", 1, 80, 443, "%SystemDrive%\\inetpub\\wwwroot", &fe_apps, FE);
    site(&mut s, "Exchange Back End", 2, 81, 444, &format!("{BE}\\ExchangeBackEnd"), &be_apps, BE);
    s.push_str("            <siteDefaults>\r\n                <logFile logFormat=\"W3C\" directory=\"%SystemDrive%\\inetpub\\logs\\LogFiles\" />\r\n            </siteDefaults>\r\n");
    s.push_str("        </sites>\r\n    </system.applicationHost>\r\n");
    s.push_str(&format!("    <!-- {} -->\r\n</configuration>\r\n", w.fqdn));
    s
}
