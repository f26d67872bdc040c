//! Progress for an operator: on a terminal one line rewritten in place (what, done of
//! total, rate, ETA); otherwise (a log, CI) plain lines every few seconds and at the end
//! of each table or object set, so a redirected run's output stays readable.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often a plain (non-terminal) line is written while work goes on.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often the terminal line is redrawn.
const TERMINAL_EVERY: Duration = Duration::from_millis(200);

pub(crate) struct Progress {
    /// What is counted: `rows`, `objects`.
    unit: &'static str,
    total: u64,
    done: u64,
    started: Instant,
    last_shown: Option<Instant>,
    terminal: bool,
}

impl Progress {
    /// Counts towards `total` (what is left to copy, not counting earlier runs' work).
    pub(crate) fn new(unit: &'static str, total: u64) -> Self {
        Self {
            unit,
            total,
            done: 0,
            started: Instant::now(),
            last_shown: None,
            terminal: std::io::stdout().is_terminal(),
        }
    }

    /// `n` more done while copying `what`.
    pub(crate) fn advance(&mut self, what: &str, n: u64) {
        self.done += n;
        let every = if self.terminal {
            TERMINAL_EVERY
        } else {
            PLAIN_EVERY
        };
        if self.last_shown.is_none_or(|at| at.elapsed() >= every) {
            self.show(what);
        }
    }

    /// A line for a finished part (a table), whatever the pace.
    pub(crate) fn part_done(&mut self, what: &str, copied: u64) {
        if self.terminal {
            print!("\r\x1b[2K");
            // Redraw the running line at the next advance.
            self.last_shown = None;
        }
        println!("{what}: {copied} {} copied", self.unit);
    }

    /// The closing line: how many, how long, how fast.
    pub(crate) fn finish(&self) {
        let secs = self.started.elapsed().as_secs_f64();
        if self.terminal {
            print!("\r\x1b[2K");
        }
        println!(
            "{} {} in {:.1} s ({:.0} {}/s)",
            self.done,
            self.unit,
            secs,
            self.rate(),
            self.unit
        );
    }

    fn rate(&self) -> f64 {
        self.done as f64 / self.started.elapsed().as_secs_f64().max(0.001)
    }

    fn show(&mut self, what: &str) {
        self.last_shown = Some(Instant::now());
        let rate = self.rate();
        let left = self.total.saturating_sub(self.done) as f64;
        let eta = if rate > 0.0 {
            format!("{:.0} s", left / rate)
        } else {
            "unknown".to_owned()
        };
        let line = format!(
            "{what}: {} of {} {}, {rate:.0} {}/s, ETA {eta}",
            self.done, self.total, self.unit, self.unit
        );
        let mut out = std::io::stdout().lock();
        let _ = if self.terminal {
            write!(out, "\r\x1b[2K{line}")
        } else {
            writeln!(out, "{line}")
        };
        let _ = out.flush();
    }
}
