//! Progress of a long import, on standard error: one line rewritten in place
//! on a terminal, a line every few seconds otherwise (a log, a pipe), so the
//! report on standard output stays readable either way.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    terminal: bool,
    every: Duration,
    last: Instant,
    /// Whether the terminal's line holds a progress text to end first.
    drawn: bool,
}

impl Progress {
    pub fn new() -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let every = if terminal { Duration::from_millis(100) } else { Duration::from_secs(2) };
        Progress { terminal, every, last: Instant::now(), drawn: false }
    }

    /// Called often: draws at most every `every`.
    pub fn update(&mut self, phase: &str, file: &str, read: u64, size: u64, documents: u64) {
        if self.last.elapsed() < self.every {
            return;
        }
        self.last = Instant::now();
        let percent = read.saturating_mul(100).checked_div(size).unwrap_or(100);
        let text = format!("{phase} {file}: {percent:>3}% ({documents} documents)");
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{text}");
            self.drawn = true;
        } else {
            let _ = writeln!(err, "{text}");
        }
        let _ = err.flush();
    }

    /// Clears the terminal's progress line before other output.
    pub fn clear(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}
