//! One exported collection read a line at a time: `mongoexport` writes one
//! document per line, and only the line being read is held in memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value;

use super::documents::Reason;
use super::ejson::Doc;

/// A document longer than this is refused (Tachi's are well under 20 KB):
/// a file that is not an export must not be read into memory whole.
const MAX_LINE: usize = 1 << 20;

pub struct Source {
    pub name: &'static str,
    reader: BufReader<File>,
    /// The file's size and how much of it has been read, for progress.
    pub size: u64,
    pub read: u64,
    line: u64,
    /// Whether a non-blank line has been read.
    started: bool,
    buf: Vec<u8>,
}

/// What the next line holds.
pub enum Next {
    Doc(u64, Doc),
    /// A line that is not a document: its number and why.
    Bad(u64, Reason),
    End,
}

/// Why a file cannot be read at all.
pub type Unreadable = String;

impl Source {
    pub fn open(dir: &Path, name: &'static str) -> Result<Source, Unreadable> {
        let path = dir.join(name);
        let file = File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Source {
            name,
            reader: BufReader::with_capacity(1 << 16, file),
            size,
            read: 0,
            line: 0,
            started: false,
            buf: Vec::new(),
        })
    }

    pub fn next(&mut self) -> Result<Next, Unreadable> {
        let name = self.name;
        let failed = |e: io::Error| format!("cannot read {name}: {e}");
        loop {
            self.buf.clear();
            let n = (&mut self.reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut self.buf).map_err(failed)?;
            if n == 0 {
                return Ok(Next::End);
            }
            self.read += n as u64;
            self.line += 1;
            if self.buf.len() > MAX_LINE && self.buf.last() != Some(&b'\n') {
                self.read += self.skip_line().map_err(failed)?;
                return Ok(Next::Bad(self.line, format!("longer than {} KiB: not a Tachi document", MAX_LINE >> 10)));
            }
            let text = self.buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            if !std::mem::replace(&mut self.started, true) && text.starts_with(b"[") {
                return Err(format!(
                    "{} holds a JSON array: export it without --jsonArray (one document per line)",
                    self.name
                ));
            }
            return Ok(match serde_json::from_slice::<Value>(text) {
                Ok(Value::Object(doc)) => Next::Doc(self.line, doc),
                Ok(_) => Next::Bad(self.line, "not a document (a JSON object)".into()),
                Err(e) => Next::Bad(self.line, format!("not JSON: {e}")),
            });
        }
    }

    /// Reads past the rest of an over-long line; returns how many bytes.
    fn skip_line(&mut self) -> io::Result<u64> {
        let mut skipped = 0;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok(skipped);
            }
            let (used, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            self.reader.consume(used);
            skipped += used as u64;
            if done {
                return Ok(skipped);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &[u8]) -> (tempfile::TempDir, Source) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("users.json"), text).unwrap();
        let s = Source::open(dir.path(), "users.json").unwrap();
        (dir, s)
    }

    fn lines(s: &mut Source) -> Vec<(u64, bool)> {
        let mut out = Vec::new();
        loop {
            match s.next().unwrap() {
                Next::Doc(n, _) => out.push((n, true)),
                Next::Bad(n, _) => out.push((n, false)),
                Next::End => return out,
            }
        }
    }

    #[test]
    fn documents_are_numbered_by_line_and_blank_lines_skipped() {
        let (_d, mut s) = source(b"{\"a\":1}\n\n  \nnot json\n[1]\n{\"b\":2}");
        assert_eq!(lines(&mut s), [(1, true), (4, false), (5, false), (6, true)]);
        assert_eq!(s.read, s.size);
    }

    #[test]
    fn an_over_long_line_is_refused_and_the_next_one_read() {
        let mut text = b"{\"a\":\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        text.extend(b"\"}\n{\"b\":2}\n");
        let (_d, mut s) = source(&text);
        assert_eq!(lines(&mut s), [(1, false), (2, true)]);
    }

    #[test]
    fn a_json_array_export_is_refused_whole() {
        let (_d, mut s) = source(b"[{\"a\":1},\n{\"b\":2}]\n");
        assert!(s.next().err().unwrap().contains("--jsonArray"));
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = Source::open(dir.path(), "api-tokens.json").err().unwrap();
        assert!(e.contains("api-tokens.json"), "{e}");
    }
}
