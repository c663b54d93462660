use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An Exchange build number.
///
/// Exchange reports its version in several spellings, and all of them parse:
///
/// | spelling | where it is seen |
/// |---|---|
/// | `15.1.2176.9` | `X-OWA-Version`, `Get-ExchangeServer`, the registry |
/// | `15.01.2176.009` | Microsoft's "long form" in the build-number tables and file versions |
/// | `15.1.2176` | the CU-level build that the OWA logon page shows in its resource paths |
/// | `Version 15.1 (Build 2176.9)` | the Exchange admin center and `AdminDisplayVersion` |
///
/// A three-part build has `revision == None`: it names a cumulative update (CU) but not which security update on top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Build {
    pub major: u32,
    pub minor: u32,
    pub build: u32,
    pub revision: Option<u32>,
}

/// Why a string is not a build number, with the 1-based character column where the problem starts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed build `{input}` at column {column}: {reason}")]
pub struct BuildParseError {
    pub input: String,
    pub column: usize,
    pub reason: String,
}

/// Longest input considered; anything longer is not a build number.
const MAX_LEN: usize = 64;
/// Largest value of one part: Exchange's parts are at most 5 digits.
const MAX_PART: u32 = 99_999;

impl Build {
    /// A four-part build.
    pub const fn new(major: u32, minor: u32, build: u32, revision: u32) -> Self {
        Build { major, minor, build, revision: Some(revision) }
    }

    /// A CU-level (three-part) build.
    pub const fn cu(major: u32, minor: u32, build: u32) -> Self {
        Build { major, minor, build, revision: None }
    }

    /// True when the revision is known.
    pub fn is_exact(&self) -> bool {
        self.revision.is_some()
    }

    /// The CU-level prefix of this build (`15.1.2176.9` → `15.1.2176`).
    pub fn cu_prefix(&self) -> Build {
        Build::cu(self.major, self.minor, self.build)
    }

    /// Microsoft's long form: `15.01.2176.009` (three parts: `15.01.2176`).
    pub fn long_form(&self) -> String {
        match self.revision {
            Some(r) => format!("{}.{:02}.{:04}.{:03}", self.major, self.minor, self.build, r),
            None => format!("{}.{:02}.{:04}", self.major, self.minor, self.build),
        }
    }

    /// Parses any of the spellings in the type's documentation.
    pub fn parse(input: &str) -> Result<Build, BuildParseError> {
        let err = |column: usize, reason: &str| BuildParseError {
            input: input.to_string(),
            column,
            reason: reason.to_string(),
        };
        if input.len() > MAX_LEN {
            return Err(err(MAX_LEN + 1, "longer than any build number"));
        }
        let lead = input.len() - input.trim_start().len();
        let s = input.trim();
        if s.is_empty() {
            return Err(err(1, "empty"));
        }
        if let Some(rest) = strip_prefix_ci(s, "version ") {
            return parse_admin_display(rest)
                .ok_or_else(|| err(lead + 1, "expected `Version MAJOR.MINOR (Build BUILD.REVISION)`"));
        }
        let mut parts: Vec<u32> = Vec::with_capacity(4);
        let mut col = lead + 1;
        for piece in s.split('.') {
            if piece.is_empty() {
                return Err(err(col, "empty part (two dots, or a dot at an end)"));
            }
            if let Some((i, c)) = piece.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
                let what = if c.is_whitespace() { "a space".to_string() } else { format!("`{}`", c.escape_default()) };
                return Err(err(col + piece[..i].chars().count(), &format!("{what} where a digit was expected")));
            }
            if parts.len() == 4 {
                return Err(err(col, "more than four parts"));
            }
            let v: u32 =
                piece.parse().ok().filter(|v| *v <= MAX_PART).ok_or_else(|| err(col, "part larger than 99999"))?;
            parts.push(v);
            col += piece.chars().count() + 1;
        }
        match parts[..] {
            [a, b, c] => Ok(Build::cu(a, b, c)),
            [a, b, c, d] => Ok(Build::new(a, b, c, d)),
            _ => Err(err(lead + 1, "a build has three or four parts (15.1.2176 or 15.1.2176.9)")),
        }
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// `15.1 (Build 2176.9)`
fn parse_admin_display(rest: &str) -> Option<Build> {
    let (mm, tail) = rest.split_once('(')?;
    let (major, minor) = mm.trim().split_once('.')?;
    let tail = strip_prefix_ci(tail.trim_start(), "build ")?;
    let inner = tail.trim_end().strip_suffix(')')?;
    let (build, rev) = inner.trim().split_once('.')?;
    let p = |s: &str| s.trim().parse::<u32>().ok().filter(|v| *v <= MAX_PART);
    Some(Build::new(p(major)?, p(minor)?, p(build)?, p(rev)?))
}

impl FromStr for Build {
    type Err = BuildParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Build::parse(s)
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)?;
        if let Some(r) = self.revision {
            write!(f, ".{r}")?;
        }
        Ok(())
    }
}

impl Serialize for Build {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Build {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Build::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms_are_the_same_build() {
        let a = Build::parse("15.1.2176.9").expect("short");
        let b = Build::parse("15.01.2176.009").expect("long");
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "15.1.2176.9");
        assert_eq!(a.long_form(), "15.01.2176.009");
    }

    #[test]
    fn three_parts_is_cu_level() {
        let b = Build::parse(" 15.1.2176 ").expect("cu");
        assert_eq!(b, Build::cu(15, 1, 2176));
        assert!(!b.is_exact());
        assert_eq!(Build::new(15, 1, 2176, 9).cu_prefix(), b);
    }

    #[test]
    fn admin_display_version() {
        assert_eq!(Build::parse("Version 15.1 (Build 2176.2)").expect("admin"), Build::new(15, 1, 2176, 2));
        assert!(Build::parse("Version 15.1 Build 2176.2").is_err());
    }

    #[test]
    fn malformed_builds_name_the_column() {
        let e = Build::parse("15.1.21x6.9").expect_err("bad digit");
        assert_eq!(e.column, 8);
        let e = Build::parse("15..2176").expect_err("empty part");
        assert_eq!(e.column, 4);
        let e = Build::parse("15.1").expect_err("two parts");
        assert!(e.reason.contains("three or four"));
        let e = Build::parse("15.1.2.3.4").expect_err("five parts");
        assert_eq!(e.column, 10);
        let e = Build::parse("15.1.999999.1").expect_err("too big");
        assert_eq!(e.column, 6);
        assert!(Build::parse("").is_err());
        assert!(Build::parse(&"1".repeat(100)).is_err());
        assert!(Build::parse("15.1.2176.9é").is_err());
    }

    #[test]
    fn ordering_is_numeric() {
        assert!(Build::parse("15.1.2176.12").expect("a") > Build::parse("15.1.2176.9").expect("b"));
        assert!(Build::parse("15.2.100.1").expect("a") > Build::parse("15.1.9999.1").expect("b"));
    }
}
