//! Physical lines of a stream, with a bounded length, reusing one buffer.

use std::io::{self, Read};

/// Size of the read buffer.
const CHUNK: usize = 256 * 1024;

/// Reads `\n`-terminated lines. A line longer than the cap is cut: its first bytes are kept, the rest skipped.
pub(crate) struct Lines<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    eof: bool,
    /// Physical lines consumed so far (the number of the last line returned).
    pub line_no: u64,
}

impl<R: Read> Lines<R> {
    pub fn new(inner: R) -> Self {
        Lines { inner, buf: vec![0u8; CHUNK].into_boxed_slice(), pos: 0, end: 0, eof: false, line_no: 0 }
    }

    /// Appends the next line to `out` without its terminator (`\n`, and a `\r` before it), keeping `out` at most
    /// `max` bytes long. Returns `None` at the end of the input, else whether bytes were dropped (the line was cut).
    pub fn next_into(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<Option<bool>> {
        let start_len = out.len();
        let mut cut = false;
        let mut started = false;
        loop {
            if self.pos == self.end && (self.eof || !self.refill()?) {
                if !started {
                    return Ok(None);
                }
                self.line_no += 1;
                strip_cr(out, start_len, cut);
                return Ok(Some(cut));
            }
            let avail = &self.buf[self.pos..self.end];
            match memchr::memchr(b'\n', avail) {
                Some(i) => {
                    cut |= take(out, &avail[..i], max);
                    self.pos += i + 1;
                    self.line_no += 1;
                    strip_cr(out, start_len, cut);
                    return Ok(Some(cut));
                }
                None => {
                    cut |= take(out, avail, max);
                    self.pos = self.end;
                    started = true;
                }
            }
        }
    }

    fn refill(&mut self) -> io::Result<bool> {
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.pos = 0;
                    self.end = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Appends as much of `bytes` as fits under `max`; true when some did not fit.
fn take(out: &mut Vec<u8>, bytes: &[u8], max: usize) -> bool {
    let room = max.saturating_sub(out.len());
    if bytes.len() > room {
        out.extend_from_slice(&bytes[..room]);
        true
    } else {
        out.extend_from_slice(bytes);
        false
    }
}

fn strip_cr(out: &mut Vec<u8>, start_len: usize, cut: bool) {
    if !cut && out.len() > start_len && out.last() == Some(&b'\r') {
        out.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], max: usize) -> Vec<(String, bool, u64)> {
        let mut l = Lines::new(input);
        let mut out = Vec::new();
        let mut v = Vec::new();
        loop {
            out.clear();
            match l.next_into(&mut out, max).expect("in-memory read") {
                None => break,
                Some(cut) => v.push((String::from_utf8_lossy(&out).into_owned(), cut, l.line_no)),
            }
        }
        v
    }

    #[test]
    fn lines_crlf_and_last_line_without_newline() {
        let v = all(b"a\r\nbb\n\nccc", 100);
        let got: Vec<&str> = v.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(got, ["a", "bb", "", "ccc"]);
        assert_eq!(v[3].2, 4);
    }

    #[test]
    fn long_lines_are_cut_and_counted() {
        let mut input = vec![b'x'; 10];
        input.extend_from_slice(b"\r\nok\n");
        let v = all(&input, 4);
        assert_eq!(v[0], ("xxxx".to_string(), true, 1));
        assert_eq!(v[1], ("ok".to_string(), false, 2));
    }

    #[test]
    fn lines_longer_than_the_buffer() {
        let mut input = vec![b'y'; CHUNK * 2 + 7];
        input.push(b'\n');
        input.extend_from_slice(b"z");
        let v = all(&input, 1 << 30);
        assert_eq!(v[0].0.len(), CHUNK * 2 + 7);
        assert_eq!(v[1].0, "z");
    }
}
