//! Validation findings: each names the file, the line when known, the JSON path and the rule.

use std::fmt;

use serde::Serialize;

use crate::yaml::JsonPath;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// Worth knowing, nothing to fix.
    Info,
}

/// One finding about a catalog file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// JSONPath-style location, `$.components[2].oci_tag`.
    pub path: String,
    /// A stable rule name scripts can match on, e.g. `unique-id` or `allow_mutable`.
    pub rule: String,
    pub message: String,
}

impl Diagnostic {
    /// The steps of `path`; the whole document when it is not a path (it always is one).
    pub fn location(&self) -> JsonPath {
        JsonPath::parse(&self.path).unwrap_or_default()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        match self.line {
            Some(line) => write!(f, "{}:{line}: ", self.file)?,
            None => write!(f, "{}: ", self.file)?,
        }
        write!(f, "{severity}: {}: {} [{}]", self.path, self.message, self.rule)
    }
}

/// Every finding for one file, errors and warnings, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn new(file: impl Into<String>) -> Self {
        Report {
            file: file.into(),
            diagnostics: Vec::new(),
        }
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.of(Severity::Error)
    }

    pub fn of(&self, severity: Severity) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(move |d| d.severity == severity)
    }

    pub fn push(&mut self, severity: Severity, line: Option<usize>, path: String, rule: &str, message: String) {
        self.diagnostics.push(Diagnostic {
            severity,
            file: self.file.clone(),
            line,
            path,
            rule: rule.to_owned(),
            message,
        });
    }

    /// Orders findings by line so the output reads top to bottom; stable for equal lines.
    pub fn sort(&mut self) {
        self.diagnostics.sort_by_key(|d| d.line.unwrap_or(0));
    }

    pub fn extend(&mut self, other: Report) {
        self.diagnostics.extend(other.diagnostics);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}
