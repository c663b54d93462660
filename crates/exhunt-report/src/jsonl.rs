use exhunt_model::Record;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// One line of the JSON Lines output: `{"type": …, "v": …, "data": …}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope<T> {
    #[serde(rename = "type")]
    pub kind: String,
    pub v: u32,
    pub data: T,
}

/// Writes records as JSON Lines, one flush per record.
pub struct JsonlWriter<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> JsonlWriter<W> {
    pub fn new(out: W) -> Self {
        JsonlWriter { out, written: 0 }
    }

    /// Writes one record in its envelope and flushes, so nothing found is lost if the run is killed.
    pub fn write<R: Record>(&mut self, record: &R) -> io::Result<()> {
        #[derive(Serialize)]
        struct Out<'a, T> {
            #[serde(rename = "type")]
            kind: &'static str,
            v: u32,
            data: &'a T,
        }
        let line = Out { kind: R::TYPE, v: R::VERSION, data: record };
        serde_json::to_writer(&mut self.out, &line).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        self.written += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One record as an envelope line, newline included (for writers that batch lines into one write).
pub fn to_line<R: Record>(record: &R) -> String {
    #[derive(Serialize)]
    struct Out<'a, T> {
        #[serde(rename = "type")]
        kind: &'static str,
        v: u32,
        data: &'a T,
    }
    let mut s = serde_json::to_string(&Out { kind: R::TYPE, v: R::VERSION, data: record }).unwrap_or_else(|e| {
        serde_json::json!({"type": "error", "v": 1, "data": {"code": null, "message": e.to_string(), "path": null, "locator": null}})
            .to_string()
    });
    s.push('\n');
    s
}

/// Reads one envelope line: `Ok(Some(record))` for a line of type `R::TYPE`, `Ok(None)` for another type (a
/// consumer skips types it does not read), `Err` for a line that is not an envelope or whose data does not parse.
pub fn from_line<R: Record + serde::de::DeserializeOwned>(line: &str) -> Result<Option<R>, String> {
    #[derive(Deserialize)]
    struct Env {
        #[serde(rename = "type")]
        kind: String,
        data: serde_json::Value,
    }
    let env: Env = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if env.kind != R::TYPE {
        return Ok(None);
    }
    serde_json::from_value(env.data).map(Some).map_err(|e| e.to_string())
}
