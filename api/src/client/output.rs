//! How client commands print: aligned tables, YAML or JSON of the API's own types, and
//! colour only on a terminal.

use std::io::IsTerminal;

use clap::ValueEnum;
use serde::Serialize;

use crate::error::Error;

/// `-o`: how a list or a resource is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// Aligned columns, more of them.
    Wide,
    Yaml,
    Json,
}

/// Columns separated by three spaces, each as wide as its widest cell; no trailing blanks.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let head: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&head).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("   ");
            }
            line.push_str(cell);
            let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(cell.chars().count());
            line.push_str(&" ".repeat(pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A value as YAML or JSON (pretty, one trailing newline).
pub fn structured<T: Serialize>(value: &T, format: Format) -> Result<String, Error> {
    let v = serde_json::to_value(value).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&v).map_err(|e| Error::Internal(e.to_string()))?;
            s.push('\n');
            s
        }
        _ => catalog::yaml::to_yaml(&v),
    })
}

/// Whether to colour what goes to standard output: a terminal, and `NO_COLOR` unset.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A diff with `+` lines green and `-` lines red when `colour`.
pub fn diff(text: &str, colour: bool) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let code = match line.chars().next() {
            Some('+') if colour => Some("32"),
            Some('-') if colour => Some("31"),
            _ => None,
        };
        match code {
            Some(c) => out.push_str(&format!("\x1b[{c}m{line}\x1b[0m\n")),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// `-` for nothing.
pub fn or_dash(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}

/// Labels as `k=v,k=v`.
pub fn labels(map: &std::collections::BTreeMap<String, String>) -> String {
    let all: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    or_dash(Some(&all.join(",")))
}

/// `print!` that does not panic when standard output is closed early (`… | head`).
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// `println!` that does not panic when standard output is closed early.
#[macro_export]
macro_rules! sayln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}
