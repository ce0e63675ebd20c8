//! Problems found in playbooks and templates, each pinned to a file, line and column.
//!
//! Loading and linting never stop at the first problem: they collect [`Diagnostic`]s so a
//! directory with one broken playbook still reports on all the others at once.

use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look, but the playbook can be used.
    Warning,
    /// The playbook cannot be used until this is fixed.
    Error,
}

/// One problem, where it is, and what it means in plain language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

impl Diagnostic {
    /// An error at a byte offset of `source` (converted to line and column).
    pub fn error_at(
        file: &Path,
        source: &str,
        offset: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = match offset {
            Some(o) => {
                let (l, c) = line_column(source, o);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// An error with a known line and column (1-based).
    pub fn error_line(
        file: &Path,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The same problem, as a warning.
    pub fn as_warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Whether this problem makes the playbook unusable.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {label}: {}", self.message)
    }
}

/// 1-based line and column (in characters) of a byte offset; offsets past the end or
/// inside a character are clamped.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = source.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_one_based_lines_and_columns() {
        let src = "ab\ncdé\nf";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 3), (2, 1));
        assert_eq!(line_column(src, 7), (2, 4));
        assert_eq!(line_column(src, 999), (3, 2));
    }

    #[test]
    fn a_diagnostic_prints_like_a_compiler_error() {
        let d = Diagnostic::error_at(Path::new("p.toml"), "a\nbc", Some(3), "bad");
        assert_eq!(d.to_string(), "p.toml:2:2: error: bad");
    }
}
