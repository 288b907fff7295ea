//! Configuration problems, reported all at once with their location.

use std::fmt;

/// One config problem: the file, the key or entity (for example a brand id),
/// the line and column where known, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File the problem is in (as named in the config).
    pub file: String,
    /// Key or entity, such as `brand acme: query` or `customer c-12`.
    pub key: String,
    /// 1-based line, where known.
    pub line: Option<usize>,
    /// 1-based column (in characters), where known.
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ConfigError {
    /// A problem without a known position.
    pub fn new(
        file: impl Into<String>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: file.into(),
            key: key.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// Sets the position from a byte offset into the file's text.
    pub fn at_offset(mut self, text: &str, offset: usize) -> ConfigError {
        let (line, column) = line_col(text, offset);
        self.line = Some(line);
        self.column = Some(column);
        self
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Converts a TOML parse error into a located config error.
pub(crate) fn from_toml(file: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let mut err = ConfigError::new(file, "", e.message().trim().to_string());
    if let Some(span) = e.span() {
        err = err.at_offset(text, span.start);
    }
    err
}

/// Locates a value written in a TOML file (for errors about a value that
/// parsed fine but means nothing valid): the first occurrence after `after`.
pub(crate) fn locate(text: &str, needle: &str, after: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    text.get(after..)?.find(needle).map(|i| i + after)
}

/// Locates a quoted TOML string value (either quote style) after `after`,
/// scanning once so that locating every entry of a large file stays linear.
pub(crate) fn locate_quoted(text: &str, value: &str, after: usize) -> Option<usize> {
    if value.is_empty() {
        return None;
    }
    let rest = text.get(after..)?;
    rest.match_indices(value).find_map(|(i, _)| {
        let before = rest[..i].chars().next_back()?;
        let next = rest[i + value.len()..].chars().next()?;
        (matches!(before, '"' | '\'') && next == before).then(|| after + i - 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_file_line_col_key() {
        let e = ConfigError::new("brands.toml", "brand acme: query", "expected `)`")
            .at_offset("a\nbc d", 5);
        assert_eq!(
            e.to_string(),
            "brands.toml:2:4: brand acme: query: expected `)`"
        );
        let e = ConfigError::new("x.csv", "", "empty");
        assert_eq!(e.to_string(), "x.csv: empty");
    }
}
