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

/// The envelope as written: one shape for [`JsonlWriter::write`] and [`to_line`].
#[derive(Serialize)]
struct Out<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    v: u32,
    data: &'a T,
}

impl<'a, T: Record> Out<'a, T> {
    fn of(data: &'a T) -> Self {
        Out { kind: T::TYPE, v: T::VERSION, data }
    }
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
        serde_json::to_writer(&mut self.out, &Out::of(record)).map_err(io::Error::other)?;
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
    let mut s = serde_json::to_string(&Out::of(record)).unwrap_or_else(|e| {
        serde_json::json!({"type": "error", "v": 1, "data": {"code": null, "message": e.to_string(), "path": null, "locator": null}})
            .to_string()
    });
    s.push('\n');
    s
}

/// Reads one envelope line: `Ok(Some(record))` for a line of type `R::TYPE`, `Ok(None)` for another type (a
/// consumer skips types it does not read), `Err` for a line that is not an envelope or whose data does not parse.
pub fn from_line<R: Record + serde::de::DeserializeOwned>(line: &str) -> Result<Option<R>, String> {
    // `data` is kept as its raw text and parsed once, into `R` only: no `Value` tree in between (this runs for every
    // line that `detect --from` and the campaign's ingest read).
    #[derive(Deserialize)]
    struct Env<'a> {
        #[serde(rename = "type")]
        kind: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        data: &'a serde_json::value::RawValue,
    }
    let env: Env<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if env.kind != R::TYPE {
        return Ok(None);
    }
    serde_json::from_str(env.data.get()).map(Some).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use exhunt_model::ErrorRecord;

    #[test]
    fn a_line_reads_back_as_its_record_and_other_types_are_skipped() {
        let e = ErrorRecord {
            code: Some("C002".into()),
            message: "a \"quoted\" \\ line\u{1b}".into(),
            path: None,
            locator: None,
        };
        let line = to_line(&e);
        let mut w = JsonlWriter::new(Vec::new());
        w.write(&e).expect("write");
        assert_eq!(String::from_utf8(w.into_inner()).expect("utf-8"), line, "one envelope for both writers");
        assert_eq!(from_line::<ErrorRecord>(line.trim_end()), Ok(Some(e)));
        assert_eq!(from_line::<ErrorRecord>(r#"{"type":"fin\u0064ing","v":1,"data":{"x":1}}"#), Ok(None));
        assert!(from_line::<ErrorRecord>(r#"{"type":"error","v":1,"data":{"code":1}}"#).is_err());
        assert!(from_line::<ErrorRecord>("not json").is_err());
        assert!(from_line::<ErrorRecord>(r#"{"type":"error","v":1}"#).is_err(), "no data");
    }
}
