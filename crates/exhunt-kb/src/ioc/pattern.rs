//! The path pattern language of `[[path]]` and `[[file_name]]` entries (`docs/ioc-packs.md`), compiled to keys:
//! an exact [`winpath::without_drive`] form, or a regular expression over such forms. Validation reports what does
//! not compile; `exhunt_detect::ioc` matches what does.

use exhunt_model::winpath;

/// A compiled path pattern: an exact key, or a regex over keys (keys are [`winpath::without_drive`] forms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathKey {
    /// The one path (or file name) matched, in [`winpath::without_drive`] form.
    Exact(String),
    /// The source of an anchored regular expression over such forms.
    Glob(String),
}

impl PathKey {
    /// The exact key or the regex source.
    pub fn text(&self) -> &str {
        match self {
            PathKey::Exact(s) | PathKey::Glob(s) => s,
        }
    }
}

/// A problem with a path pattern: message and help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError(pub String, pub &'static str);

/// `%VARIABLE%`s a path may start with, and the folders they stand for (lower case; `**` is any folders).
const PATH_VARS: &[(&str, &[&str])] = &[
    ("%systemdrive%", &[]),
    ("%programfiles%", &["program files"]),
    ("%programfiles(x86)%", &["program files (x86)"]),
    ("%programdata%", &["programdata"]),
    ("%systemroot%", &["windows"]),
    ("%windir%", &["windows"]),
    ("%public%", &["users", "public"]),
    ("%exchangeinstallpath%", &["**"]),
];

/// True when a value has a wildcard (`*` or `?`).
pub(super) fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Regex for one path segment with `*` (any characters but `/`) and `?` (one character but `/`).
fn glob_segment(seg: &str) -> String {
    let mut out = String::new();
    for c in seg.chars() {
        match c {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out
}

/// Compiles a path pattern as written in a pack. The drive is dropped (any drive matches).
pub fn compile_path(raw: &str) -> Result<PathKey, PatternError> {
    const ABSOLUTE_HELP: &str = "start the path with a drive (`C:\\`), a `\\` (any drive), a `%VARIABLE%` such as `%ProgramFiles%` or `%ExchangeInstallPath%`, or `**\\` (any folder)";
    let parts: Vec<&str> = raw.split(['\\', '/']).collect();
    let (first, rest) = (parts[0], &parts[1..]);
    // The root: a drive or a leading separator (any drive: dropped), a `%VARIABLE%` (its folders), or `**`.
    let mut segs: Vec<String> = if first.len() == 2 && winpath::drive_of(first).is_some() {
        Vec::new()
    } else if first.is_empty() {
        if rest.first().is_some_and(|p| p.is_empty()) {
            return Err(PatternError(
                format!("`{raw}` is a UNC path"),
                "write the local path (`C:\\inetpub\\…`): a UNC path to this host matches as its local path",
            ));
        }
        Vec::new()
    } else if first.len() > 2 && first.starts_with('%') && first.ends_with('%') {
        let var = first.to_ascii_lowercase();
        match PATH_VARS.iter().find(|(v, _)| *v == var) {
            Some((_, expansion)) => expansion.iter().map(|s| (*s).to_string()).collect(),
            None => {
                return Err(PatternError(
                    format!("unknown variable `{first}` in path `{raw}`"),
                    "use one of %SystemDrive%, %ProgramFiles%, %ProgramFiles(x86)%, %ProgramData%, %SystemRoot%, %windir%, %Public%, %ExchangeInstallPath%",
                ));
            }
        }
    } else if first == "**" {
        vec!["**".to_string()]
    } else {
        return Err(PatternError(format!("path `{raw}` is not absolute"), ABSOLUTE_HELP));
    };
    if rest.is_empty() || rest.iter().all(|p| p.is_empty()) {
        return Err(PatternError(
            format!("path `{raw}` names a folder, not files"),
            "say which files: `…\\*` for the files in the folder, `…\\**\\*` for every file below it, `…\\**\\*.aspx` for pages below it",
        ));
    }
    for (i, seg) in rest.iter().enumerate() {
        let last = i + 1 == rest.len();
        if seg.is_empty() {
            return Err(if last {
                PatternError(
                    format!("path `{raw}` names a folder, not files"),
                    "say which files: `…\\*` for the files in the folder, `…\\**\\*` for every file below it, `…\\**\\*.aspx` for pages below it",
                )
            } else {
                PatternError(format!("path `{raw}` has an empty folder name"), "remove the doubled separator")
            });
        }
        if *seg == "." || *seg == ".." {
            return Err(PatternError(format!("path `{raw}` contains `{seg}`"), "write the path without `.` and `..`"));
        }
        if seg.contains('%') {
            return Err(PatternError(
                format!("`%` in the middle of path `{raw}`"),
                "a `%VARIABLE%` may only start a path; write other folders literally",
            ));
        }
        if seg.contains("**") && *seg != "**" {
            return Err(PatternError(
                format!("`**` is not a whole folder name in `{raw}`"),
                "`**` stands for any number of folders and must be alone between separators; use `*` within a name",
            ));
        }
        if let Some(c) = seg.chars().find(|c| matches!(c, '<' | '>' | '"' | '|' | ':') || c.is_control()) {
            return Err(PatternError(
                format!("path `{raw}` contains `{}`, which Windows does not allow in a file name", c.escape_debug()),
                "for a placeholder such as `<exchange install path>` write `%ExchangeInstallPath%`; for any folder write `*` or `**`",
            ));
        }
        segs.push(seg.to_lowercase());
    }
    if !segs.iter().any(|s| has_wildcard(s)) {
        return Ok(PathKey::Exact(segs.join("/")));
    }
    let mut re = String::from("^");
    let last = segs.len() - 1;
    let mut after_any = false;
    for (i, seg) in segs.iter().enumerate() {
        if seg == "**" {
            if i == last {
                re.push_str(if i == 0 { "[^/]+(?:/[^/]+)*" } else { "(?:/[^/]+)+" });
            } else {
                if i > 0 && !after_any {
                    re.push('/');
                }
                re.push_str("(?:[^/]+/)*");
                after_any = true;
            }
            continue;
        }
        if i > 0 && !after_any {
            re.push('/');
        }
        after_any = false;
        re.push_str(&glob_segment(seg));
    }
    re.push('$');
    Ok(PathKey::Glob(re))
}

/// Compiles a `[[file_name]]` value: lower case, exact, or (with `*` or `?`) an anchored regex over a lower-case
/// name.
pub fn compile_file_name(value: &str) -> PathKey {
    let name = value.to_lowercase();
    if has_wildcard(&name) { PathKey::Glob(format!("^{}$", glob_segment(&name))) } else { PathKey::Exact(name) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_path_globs() {
        let re = |p: &str| match compile_path(p) {
            Ok(PathKey::Glob(r)) => regex::Regex::new(&r).expect("compiles"),
            Ok(PathKey::Exact(e)) => panic!("{p} compiled to exact {e}"),
            Err(PatternError(m, _)) => panic!("{p}: {m}"),
        };
        let r = re(r"C:\inetpub\wwwroot\aspnet_client\**\*.aspx");
        assert!(r.is_match("inetpub/wwwroot/aspnet_client/x.aspx"));
        assert!(r.is_match("inetpub/wwwroot/aspnet_client/system_web/x.aspx"));
        assert!(r.is_match("inetpub/wwwroot/aspnet_client/a/b/x.aspx"));
        assert!(!r.is_match("inetpub/wwwroot/aspnet_client/x.aspx.txt"));
        assert!(!r.is_match("inetpub/wwwroot/x.aspx"));
        let r = re(r"%ExchangeInstallPath%\FrontEnd\HttpProxy\owa\auth\*");
        assert!(r.is_match("program files/microsoft/exchange server/v15/frontend/httpproxy/owa/auth/x.aspx"));
        assert!(r.is_match("exchange/frontend/httpproxy/owa/auth/x.aspx"));
        assert!(!r.is_match("exchange/frontend/httpproxy/owa/auth/current/x.aspx"));
        let r = re(r"C:\inetpub\**");
        assert!(r.is_match("inetpub/a"));
        assert!(r.is_match("inetpub/a/b"));
        assert!(!r.is_match("inetpub"));
        let r = re(r"**\aspnet_client\system_web\s?ell.aspx");
        assert!(r.is_match("aspnet_client/system_web/shell.aspx"));
        assert!(r.is_match("x/y/aspnet_client/system_web/shell.aspx"));
        assert!(!r.is_match("x/yaspnet_client/system_web/shell.aspx"));
        assert_eq!(
            compile_path(r"%ProgramFiles%\Microsoft\x.aspx").ok(),
            Some(PathKey::Exact("program files/microsoft/x.aspx".into()))
        );
    }

    #[test]
    fn compile_path_refuses() {
        for (p, words) in [
            (r"inetpub\x.aspx", "not absolute"),
            (r"C:\inetpub\", "names a folder"),
            (r"%TEMP%\x.exe", "unknown variable"),
            (r"C:\a\\b.aspx", "empty folder"),
            (r"C:\a\..\b.aspx", "contains `..`"),
            (r"C:\a\x**\b.aspx", "`**`"),
            (r"\<exchange install path>\FrontEnd\x.aspx", "does not allow"),
            (r"\\host\share\x.aspx", "UNC"),
            (r"C:\a\%windir%\b", "`%`"),
        ] {
            match compile_path(p) {
                Err(PatternError(m, _)) => assert!(m.contains(words), "{p}: {m}"),
                Ok(k) => panic!("{p} compiled to {k:?}"),
            }
        }
    }

    #[test]
    fn file_names_compile_to_lower_case_keys() {
        assert_eq!(compile_file_name("Supp0rt.aspx"), PathKey::Exact("supp0rt.aspx".into()));
        let PathKey::Glob(re) = compile_file_name("log_error_*.ASPX") else { panic!("a wildcard name is a glob") };
        let re = regex::Regex::new(&re).expect("compiles");
        assert!(re.is_match("log_error_9e23efc3.aspx"));
        assert!(!re.is_match("x/log_error_9e23efc3.aspx"));
        assert!(!re.is_match("log_error_9e23efc3.aspx.bak"));
    }
}
