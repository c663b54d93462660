//! Exchange's setup values from an offline SOFTWARE hive, read with `notatin`.

use exhunt_model::Build;
use notatin::cell_value::CellValue;
use notatin::parser_builder::ParserBuilder;
use std::io::Cursor;

/// The setup keys, newest first: Exchange 2013/2016/2019 (`v15`), then Exchange 2010 (`v14`).
pub const SETUP_KEYS: &[&str] = &["Microsoft\\ExchangeServer\\v15\\Setup", "Microsoft\\ExchangeServer\\v14\\Setup"];

/// What the setup key says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetupValues {
    /// The key the values were read from.
    pub key: String,
    /// `MsiInstallPath` as stored (it ends with `\`).
    pub install_path: Option<String>,
    /// `MsiProductMajor.MsiProductMinor.MsiBuildMajor.MsiBuildMinor`, when all four are there.
    pub build: Option<Build>,
}

fn as_u32(v: &CellValue) -> Option<u32> {
    match v {
        CellValue::U32(x) => Some(*x),
        CellValue::I32(x) => u32::try_from(*x).ok(),
        CellValue::U64(x) => u32::try_from(*x).ok(),
        CellValue::I64(x) => u32::try_from(*x).ok(),
        CellValue::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads the setup values from the bytes of a SOFTWARE hive (and its transaction logs, if any). `Ok(None)` when
/// the hive has no Exchange setup key; `Err` with a reason when the hive cannot be parsed. A parser panic on a
/// damaged hive is caught and reported as an error.
pub fn read_setup(hive: Vec<u8>, logs: Vec<Vec<u8>>) -> Result<Option<SetupValues>, String> {
    let attempt = |with_logs: bool| {
        let hive = hive.clone();
        let logs = if with_logs { logs.clone() } else { Vec::new() };
        std::panic::catch_unwind(move || read_setup_inner(hive, logs))
            .unwrap_or_else(|_| Err("the registry parser failed on this hive (damaged file?)".to_string()))
    };
    match attempt(true) {
        Err(_) if !logs.is_empty() => attempt(false),
        r => r,
    }
}

fn read_setup_inner(hive: Vec<u8>, logs: Vec<Vec<u8>>) -> Result<Option<SetupValues>, String> {
    let mut builder = ParserBuilder::from_file(Cursor::new(hive));
    for log in logs {
        builder.with_transaction_log(Cursor::new(log));
    }
    let mut parser = builder.build().map_err(|e| e.to_string())?;
    for key_path in SETUP_KEYS {
        let Some(key) = parser.get_key(key_path, false).map_err(|e| e.to_string())? else { continue };
        let get = |name: &str| key.get_value(name).map(|v| v.get_content().0);
        let install_path = match get("MsiInstallPath") {
            Some(CellValue::String(s)) => Some(s.trim_end_matches('\0').to_string()),
            _ => None,
        };
        let part = |name: &str| get(name).as_ref().and_then(as_u32);
        let build =
            match (part("MsiProductMajor"), part("MsiProductMinor"), part("MsiBuildMajor"), part("MsiBuildMinor")) {
                (Some(a), Some(b), Some(c), Some(d)) => Some(Build::new(a, b, c, d)),
                _ => None,
            };
        return Ok(Some(SetupValues { key: (*key_path).to_string(), install_path, build }));
    }
    Ok(None)
}
