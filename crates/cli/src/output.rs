//! How the CLI prints: aligned tables for people, JSON for scripts, and a
//! little colour (the ✔ mark, the `error:` label) only on a terminal and
//! never when `NO_COLOR` is set.

use std::io::IsTerminal;

use serde::Serialize;

fn colour_allowed(stream_is_terminal: bool) -> bool {
    colour_allowed_with(stream_is_terminal, std::env::var_os("NO_COLOR").as_deref())
}

/// See <https://no-color.org>: any non-empty `NO_COLOR` turns colour off.
fn colour_allowed_with(stream_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stream_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

fn paint(text: &str, ansi: &str, stream_is_terminal: bool) -> String {
    if colour_allowed(stream_is_terminal) {
        format!("\x1b[{ansi}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The green check mark that starts a success message on stdout.
pub fn check() -> String {
    paint("✔", "32", std::io::stdout().is_terminal())
}

/// The `error:` label on stderr.
pub fn error_label() -> String {
    paint("error:", "1;31", std::io::stderr().is_terminal())
}

/// The `warning:` label on stderr.
pub fn warning_label() -> String {
    paint("warning:", "1;33", std::io::stderr().is_terminal())
}

/// Text that matters less (hints, "never"), dimmed on a terminal.
pub fn dim(text: &str) -> String {
    paint(text, "2", std::io::stdout().is_terminal())
}

/// Prints any answer as pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// An aligned text table (two spaces between columns, like `fly tokens list`).
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Self {
        Self { header: header.to_vec(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Prints the table, or a friendly line when it has no rows.
    pub fn print(&self, empty: &str) {
        if self.rows.is_empty() {
            println!("{empty}");
        } else {
            print!("{}", self.render());
        }
    }
}

/// An RFC 3339 instant from the API, shown as `2026-12-31 23:59:59 UTC`.
pub fn when(instant: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    match time::OffsetDateTime::parse(instant, &Rfc3339) {
        Ok(at) => {
            let utc = at.to_offset(time::UtcOffset::UTC);
            let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
            utc.format(&format).unwrap_or_else(|_| instant.to_string())
        }
        Err(_) => instant.to_string(),
    }
}

/// An optional instant, or `none_text` (e.g. "never").
pub fn when_or(instant: Option<&str>, none_text: &str) -> String {
    instant.map(when).unwrap_or_else(|| none_text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_align_by_characters_not_bytes() {
        let mut table = Table::new(&["ID", "TOKEN"]);
        table.row(vec!["tok_1".into(), "gpd_AbC1…x9Yz".into()]);
        table.row(vec!["tok_22".into(), "-".into()]);
        assert_eq!(table.render(), "ID      TOKEN\ntok_1   gpd_AbC1…x9Yz\ntok_22  -\n");
    }

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        use std::ffi::OsStr;
        assert!(colour_allowed_with(true, None));
        assert!(!colour_allowed_with(false, None));
        assert!(!colour_allowed_with(true, Some(OsStr::new("1"))));
        assert!(colour_allowed_with(true, Some(OsStr::new(""))));
    }

    #[test]
    fn instants_are_shown_in_utc_without_fractions() {
        assert_eq!(when("2026-12-31T23:59:59.123+01:00"), "2026-12-31 22:59:59 UTC");
        assert_eq!(when_or(None, "never"), "never");
    }
}
