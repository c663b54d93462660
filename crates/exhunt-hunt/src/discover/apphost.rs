//! IIS `applicationHost.config`: sites, bindings, applications, virtual directories and log folders.
//!
//! Read with a streaming XML parser; only `configuration/system.applicationHost/{sites,log}` matters here. Paths
//! are kept as written (`%SystemDrive%\inetpub\wwwroot`); [`Env::expand`] resolves them.

use crate::error::HuntError;
use exhunt_model::winpath;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use std::io::{BufRead, BufReader, Read};

/// IIS's default log folder (`siteDefaults/logFile/@directory`).
pub const DEFAULT_LOG_DIRECTORY: &str = "%SystemDrive%\\inetpub\\logs\\LogFiles";

/// The IIS configuration that matters to a hunt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IisConfig {
    pub sites: Vec<Site>,
    /// `siteDefaults/logFile/@directory`, as written (IIS's default when absent).
    pub default_log_directory: String,
    /// `log/centralW3CLogFile/@directory` when `log/@centralLogFileMode` is `CentralW3C` (all sites in one log).
    pub central_w3c_directory: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    pub id: u32,
    pub bindings: Vec<Binding>,
    pub applications: Vec<Application>,
    /// The site's own `logFile/@directory`, as written.
    pub log_directory: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    /// `http`, `https`, `net.pipe`, …
    pub protocol: String,
    /// `*:443:`, `127.0.0.1:80:`, …
    pub information: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Application {
    /// URL path: `/owa`.
    pub path: String,
    pub pool: Option<String>,
    pub virtual_directories: Vec<VirtualDirectory>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VirtualDirectory {
    /// URL path relative to the application: `/`.
    pub path: String,
    /// As written: `%SystemDrive%\inetpub\wwwroot`.
    pub physical_path: String,
}

impl Site {
    /// The site's W3C log folder: `<directory>\W3SVC<id>` (with the directory as written).
    pub fn log_folder(&self, cfg: &IisConfig) -> String {
        match &cfg.central_w3c_directory {
            Some(dir) => format!("{dir}\\W3SVC"),
            None => {
                format!("{}\\W3SVC{}", self.log_directory.as_deref().unwrap_or(&cfg.default_log_directory), self.id)
            }
        }
    }

    /// URL path of a virtual directory: the application's path joined to the directory's (`/owa` + `/` = `/owa`).
    pub fn url_path(app: &Application, vdir: &VirtualDirectory) -> String {
        let a = app.path.trim_end_matches('/');
        let v = vdir.path.trim_start_matches('/');
        if v.is_empty() { if a.is_empty() { "/".into() } else { a.to_string() } } else { format!("{a}/{v}") }
    }
}

/// Values for the environment variables of IIS paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Env {
    /// Upper-case letter of the system drive.
    pub system_drive: char,
    /// Exchange's install path (`%ExchangeInstallPath%`), when known.
    pub exchange_install: Option<String>,
}

impl Env {
    /// Expands `%SystemDrive%`, `%windir%`, `%SystemRoot%`, `%ProgramFiles%`, `%ProgramFiles(x86)%`,
    /// `%ProgramData%` and `%ExchangeInstallPath%` (names ignore case) and normalises the path. Returns the path and
    /// the variables it could not expand (left as written).
    pub fn expand(&self, s: &str) -> (String, Vec<String>) {
        let d = self.system_drive;
        let mut out = String::with_capacity(s.len() + 32);
        let mut unknown = Vec::new();
        let mut rest = s;
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let Some(j) = after.find('%') else {
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let name = &after[..j];
            let value = match name.to_ascii_lowercase().as_str() {
                "systemdrive" => Some(format!("{d}:")),
                "windir" | "systemroot" => Some(format!("{d}:\\Windows")),
                "programfiles" => Some(format!("{d}:\\Program Files")),
                "programfiles(x86)" => Some(format!("{d}:\\Program Files (x86)")),
                "programdata" => Some(format!("{d}:\\ProgramData")),
                "exchangeinstallpath" => self.exchange_install.as_ref().map(|p| format!("{p}\\")),
                _ => None,
            };
            match value {
                Some(v) => out.push_str(&v),
                None => {
                    unknown.push(name.to_string());
                    out.push('%');
                    out.push_str(name);
                    out.push('%');
                }
            }
            rest = &after[j + 1..];
        }
        out.push_str(rest);
        (winpath::normalize(&out), unknown)
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.as_ref() == name).map(|a| {
        match a.normalized_value(XmlVersion::Implicit1_0) {
            Ok(v) => v.into_owned(),
            Err(_) => a.value.clone().into_owned(),
        }
    })
}

/// Parses `applicationHost.config`. `path` is how the user sees the file (for errors).
pub fn parse(path: &str, input: impl Read) -> Result<IisConfig, HuntError> {
    parse_buf(path, BufReader::new(input))
}

fn parse_buf(path: &str, input: impl BufRead) -> Result<IisConfig, HuntError> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut cfg = IisConfig { default_log_directory: DEFAULT_LOG_DIRECTORY.to_string(), ..IisConfig::default() };
    let mut central_mode = false;
    let mut central_dir: Option<String> = None;
    let mut site: Option<Site> = None;
    let mut app: Option<Application> = None;
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(|e| HuntError::Xml {
            path: path.to_string(),
            offset: reader.error_position(),
            message: e.to_string(),
        })?;
        let (e, empty) = match &ev {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                in_sites_end(&name, &stack, &mut cfg, &mut site, &mut app);
                buf.clear();
                continue;
            }
            Event::Eof => break,
            _ => (None, false),
        };
        if let Some(e) = e {
            let name = e.name().as_ref().as_bytes().to_vec();
            let depth_ok =
                |want: &[&[u8]]| stack.len() >= want.len() && stack.iter().zip(want).all(|(a, b)| a.as_slice() == *b);
            let in_host = depth_ok(&[b"configuration", b"system.applicationHost"]) && stack.len() >= 2;
            if in_host && stack.len() == 2 && name == b"log" {
                central_mode = attr(e, "centralLogFileMode").is_some_and(|m| m.eq_ignore_ascii_case("CentralW3C"));
            } else if in_host && stack.len() == 3 && stack[2] == b"log" && name == b"centralW3CLogFile" {
                central_dir = attr(e, "directory");
            } else if in_host && stack.len() >= 3 && stack[2] == b"sites" {
                let under = &stack[3..];
                match (under.iter().map(Vec::as_slice).collect::<Vec<_>>().as_slice(), name.as_slice()) {
                    ([], b"site") => {
                        site = Some(Site {
                            name: attr(e, "name").unwrap_or_default(),
                            id: attr(e, "id").and_then(|v| v.trim().parse().ok()).unwrap_or(0),
                            ..Site::default()
                        });
                    }
                    ([], b"siteDefaults") | ([b"siteDefaults"], _) => {
                        if name == b"logFile"
                            && let Some(d) = attr(e, "directory")
                        {
                            cfg.default_log_directory = d;
                        }
                    }
                    ([b"site"], b"application") => {
                        app = Some(Application {
                            path: attr(e, "path").unwrap_or_else(|| "/".into()),
                            pool: attr(e, "applicationPool"),
                            virtual_directories: Vec::new(),
                        });
                    }
                    ([b"site", b"application"], b"virtualDirectory") => {
                        if let Some(a) = app.as_mut() {
                            a.virtual_directories.push(VirtualDirectory {
                                path: attr(e, "path").unwrap_or_else(|| "/".into()),
                                physical_path: attr(e, "physicalPath").unwrap_or_default(),
                            });
                        }
                    }
                    ([b"site", b"bindings"], b"binding") => {
                        if let Some(s) = site.as_mut() {
                            s.bindings.push(Binding {
                                protocol: attr(e, "protocol").unwrap_or_default(),
                                information: attr(e, "bindingInformation").unwrap_or_default(),
                            });
                        }
                    }
                    ([b"site"], b"logFile") => {
                        if let Some(s) = site.as_mut()
                            && let Some(d) = attr(e, "directory")
                        {
                            s.log_directory = Some(d);
                        }
                    }
                    _ => {}
                }
            }
            if empty {
                // An empty element opens and closes at once.
                in_sites_end(&name, &stack, &mut cfg, &mut site, &mut app);
            } else {
                stack.push(name);
            }
        }
        buf.clear();
    }
    if central_mode {
        cfg.central_w3c_directory = Some(central_dir.unwrap_or_else(|| DEFAULT_LOG_DIRECTORY.to_string()));
    }
    Ok(cfg)
}

/// Closes a `site` or an `application` directly under `configuration/system.applicationHost/sites`.
fn in_sites_end(
    name: &[u8],
    parent: &[Vec<u8>],
    cfg: &mut IisConfig,
    site: &mut Option<Site>,
    app: &mut Option<Application>,
) {
    let p: Vec<&[u8]> = parent.iter().map(Vec::as_slice).collect();
    let sites: [&[u8]; 3] = [b"configuration", b"system.applicationHost", b"sites"];
    if p.len() == 3 && p[..] == sites && name == b"site" {
        if let Some(s) = site.take() {
            cfg.sites.push(s);
        }
    } else if p.len() == 4
        && p[..3] == sites
        && p[3] == b"site"
        && name == b"application"
        && let (Some(s), Some(a)) = (site.as_mut(), app.take())
    {
        s.applications.push(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_variables() {
        let env = Env { system_drive: 'D', exchange_install: Some("E:\\Exchange\\V15".into()) };
        assert_eq!(env.expand("%SystemDrive%\\inetpub\\wwwroot").0, "D:\\inetpub\\wwwroot");
        assert_eq!(env.expand("%WINDIR%\\System32\\RpcProxy").0, "D:\\Windows\\System32\\RpcProxy");
        assert_eq!(
            env.expand("%ExchangeInstallPath%FrontEnd\\HttpProxy\\owa").0,
            "E:\\Exchange\\V15\\FrontEnd\\HttpProxy\\owa"
        );
        let (p, unknown) = env.expand("%Nope%\\x%");
        assert_eq!((p.as_str(), unknown), ("%Nope%\\x%", vec!["Nope".to_string()]));
    }

    #[test]
    fn parses_a_small_config() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<configuration><system.applicationHost>
  <log centralLogFileMode="Site"><centralW3CLogFile enabled="true" directory="X" /></log>
  <sites>
    <site name="Default Web Site" id="1">
      <application path="/" applicationPool="P"><virtualDirectory path="/" physicalPath="%SystemDrive%\inetpub\wwwroot" /></application>
      <application path="/owa"><virtualDirectory path="/" physicalPath="C:\x&amp;y" /></application>
      <bindings><binding protocol="https" bindingInformation="*:443:" /></bindings>
      <logFile directory="D:\IISLogs" />
    </site>
    <siteDefaults><logFile logFormat="W3C" directory="%SystemDrive%\logs" /></siteDefaults>
  </sites>
</system.applicationHost>
<location path="Default Web Site"><system.webServer><site name="decoy" id="9" /></system.webServer></location>
</configuration>"#;
        let cfg = parse("applicationHost.config", xml.as_bytes()).expect("parses");
        assert_eq!(cfg.sites.len(), 1);
        let s = &cfg.sites[0];
        assert_eq!((s.name.as_str(), s.id), ("Default Web Site", 1));
        assert_eq!(s.applications[1].virtual_directories[0].physical_path, "C:\\x&y");
        assert_eq!(s.bindings[0].information, "*:443:");
        assert_eq!(s.log_folder(&cfg), "D:\\IISLogs\\W3SVC1");
        assert_eq!(cfg.default_log_directory, "%SystemDrive%\\logs");
        assert_eq!(cfg.central_w3c_directory, None);
    }

    #[test]
    fn broken_xml_is_an_error_with_an_offset() {
        let err = parse("a.config", "<configuration><sites></configuration>".as_bytes()).expect_err("mismatched");
        assert_eq!(err.code(), "H007");
    }
}
