//! Markdown building blocks: a document written block by block, tables (header, alignment,
//! `|` escaped), headings, embedded images (the SVG charts) and number formatting.

use std::fmt;

/// A Markdown document, written block by block: each block (heading, paragraph, image,
/// table) is followed by an empty line; [`Markdown::line`] writes lines of one block (a
/// list, say) and [`Markdown::blank`] ends it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Markdown {
    text: String,
}

impl Markdown {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends `text` and a line break.
    pub(crate) fn line(&mut self, text: &str) {
        self.text.push_str(text);
        self.text.push('\n');
    }

    /// An empty line: ends a paragraph, list or table.
    pub(crate) fn blank(&mut self) {
        self.text.push('\n');
    }

    /// A paragraph (or any block given as text): `text` and an empty line.
    pub(crate) fn paragraph(&mut self, text: &str) {
        self.line(text);
        self.blank();
    }

    /// A heading (see [`heading`]) and an empty line.
    pub(crate) fn heading(&mut self, level: usize, text: &str) {
        self.paragraph(&heading(level, text));
    }

    /// An image (see [`image`]) and an empty line.
    pub(crate) fn image(&mut self, alt: &str, file: &str) {
        self.paragraph(&image(alt, file));
    }

    /// A table and an empty line.
    pub(crate) fn table(&mut self, table: &Table) {
        self.text.push_str(&table.to_string());
        self.blank();
    }

    /// The text, ending with exactly one line break (none if empty).
    pub(crate) fn finish(mut self) -> String {
        let end = self.text.trim_end_matches('\n').len();
        self.text.truncate(end);
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text
    }
}

/// A heading: `level` `#`s (1 to 6) and `text` on one line (line breaks become spaces).
pub(crate) fn heading(level: usize, text: &str) -> String {
    format!("{} {}", "#".repeat(level.clamp(1, 6)), one_line(text))
}

/// An image, as a chart is embedded: `![alt](file)`. `[`, `]` and `\` in `alt` are escaped;
/// a `file` with spaces or parentheses is written in `<...>`.
pub(crate) fn image(alt: &str, file: &str) -> String {
    let mut escaped = String::with_capacity(alt.len());
    for c in one_line(alt).chars() {
        if matches!(c, '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    if file.contains([' ', '(', ')']) {
        format!("![{escaped}](<{file}>)")
    } else {
        format!("![{escaped}]({file})")
    }
}

/// `text` as a table cell: `|` escaped (`\|`), line breaks replaced by spaces.
pub(crate) fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

/// The alignment of a table column, as its delimiter row says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Align {
    /// `---`: left in most renderers.
    #[default]
    None,
    /// `---:` (numbers).
    Right,
}

impl Align {
    fn delimiter(self) -> &'static str {
        match self {
            Align::None => "---",
            Align::Right => "---:",
        }
    }
}

/// A Markdown (GitHub) table: a header row, the alignment of each column and rows of
/// cells, escaped by [`cell`]. A row with fewer cells than the header is padded with empty
/// ones. Written by its `Display`: one line per row, each ending with a line break.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Table {
    header: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles (an empty title is an empty cell), every column
    /// [`Align::None`].
    pub(crate) fn new<S: AsRef<str>>(header: &[S]) -> Self {
        Self {
            header: header.iter().map(|h| cell(h.as_ref())).collect(),
            align: vec![Align::None; header.len()],
            rows: Vec::new(),
        }
    }

    /// Aligns column `column` (from 0; ignored beyond the header).
    pub(crate) fn align(mut self, column: usize, align: Align) -> Self {
        if let Some(a) = self.align.get_mut(column) {
            *a = align;
        }
        self
    }

    /// Appends a row.
    pub(crate) fn row<I>(&mut self, cells: I)
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut row: Vec<String> = cells.into_iter().map(|c| cell(c.as_ref())).collect();
        if row.len() < self.header.len() {
            row.resize(self.header.len(), String::new());
        }
        self.rows.push(row);
    }
}

/// One row: `| a | b |`, and `| |` for an empty cell.
fn write_row<S: AsRef<str>>(f: &mut fmt::Formatter<'_>, cells: &[S]) -> fmt::Result {
    f.write_str("|")?;
    for c in cells {
        match c.as_ref() {
            "" => f.write_str(" |")?,
            c => write!(f, " {c} |")?,
        }
    }
    f.write_str("\n")
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_row(f, &self.header)?;
        f.write_str("|")?;
        for a in &self.align {
            write!(f, "{}|", a.delimiter())?;
        }
        f.write_str("\n")?;
        for row in &self.rows {
            write_row(f, row)?;
        }
        Ok(())
    }
}

/// `x` with `decimals` decimals: `fixed(0.12345, 3)` is `0.123`.
pub(crate) fn fixed(x: f64, decimals: usize) -> String {
    format!("{x:.decimals$}")
}

/// `x` with a sign and `decimals` decimals: `signed(0.5, 2)` is `+0.50`.
pub(crate) fn signed(x: f64, decimals: usize) -> String {
    format!("{x:+.decimals$}")
}

/// A fraction as a percentage with `decimals` decimals: `pct(0.1234, 2)` is `12.34%`.
pub(crate) fn pct(fraction: f64, decimals: usize) -> String {
    format!("{:.decimals$}%", 100.0 * fraction)
}

/// A fraction as a signed percentage: `signed_pct(-0.01, 3)` is `-1.000%`.
pub(crate) fn signed_pct(fraction: f64, decimals: usize) -> String {
    format!("{:+.decimals$}%", 100.0 * fraction)
}

/// `f(value)`, or `-` when there is no value.
pub(crate) fn or_dash<T>(value: Option<T>, f: impl FnOnce(T) -> String) -> String {
    value.map_or_else(|| "-".to_owned(), f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_escape_pad_and_align() {
        let mut t = Table::new(&["", "b|c", "n"]).align(2, Align::Right);
        t.row(["x", "1 | 2", "3"]);
        t.row(["only\none"]);
        assert_eq!(
            t.to_string(),
            "| | b\\|c | n |\n|---|---|---:|\n| x | 1 \\| 2 | 3 |\n| only one | | |\n"
        );
        let right = Table::new(&["a", "b"])
            .align(1, Align::Right)
            .align(7, Align::Right);
        assert_eq!(right.to_string(), "| a | b |\n|---|---:|\n");
    }

    #[test]
    fn documents_are_blocks_separated_by_empty_lines() {
        let mut md = Markdown::new();
        md.heading(1, "Title");
        md.line("- one");
        md.line("- two");
        md.blank();
        md.heading(9, "Chart\nof [x]");
        md.image("Chart [x]", "a b.svg");
        md.image("Plain", "c.svg");
        let mut t = Table::new(&["k", "v"]);
        t.row(["a", "1"]);
        md.table(&t);
        assert_eq!(
            md.finish(),
            "# Title\n\n- one\n- two\n\n###### Chart of [x]\n\n![Chart \\[x\\]](<a b.svg>)\n\n\
             ![Plain](c.svg)\n\n| k | v |\n|---|---|\n| a | 1 |\n"
        );
        assert_eq!(Markdown::new().finish(), "");
        assert_eq!(heading(0, "x"), "# x");
    }

    #[test]
    fn numbers() {
        assert_eq!(fixed(0.12345, 3), "0.123");
        assert_eq!(signed(0.5, 2), "+0.50");
        assert_eq!(signed(-0.5, 0), "-0");
        assert_eq!(pct(0.1234, 2), "12.34%");
        assert_eq!(signed_pct(-0.01, 3), "-1.000%");
        assert_eq!(signed_pct(0.0, 2), "+0.00%");
        assert_eq!(or_dash(None::<f64>, |x| fixed(x, 1)), "-");
        assert_eq!(or_dash(Some(2.0), |x| fixed(x, 1)), "2.0");
    }
}
