//! The CSV files tradeloop reads, with one reader: the market-data contract (DESIGN.md
//! section 5, [`parse_csv`]) and rows of ranker features ([`parse_feature_rows`]). Both take
//! lines after an optional byte-order mark, with LF or CR LF endings, skip blank lines, trim
//! cells and strip one pair of enclosing double quotes, and report bad rows with their line
//! numbers.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::candle::{Candle, CandleError};
use super::time::{TimestampError, parse_timestamp};

/// The header line the market CSV must start with (names are matched case-insensitively).
pub const CSV_HEADER: &str = "timestamp,open,high,low,close,volume";

/// How many bad rows a [`CsvError`] keeps in detail; further bad rows are only counted.
pub const MAX_ROW_ERRORS: usize = 50;

const COLUMNS: [&str; 6] = ["timestamp", "open", "high", "low", "close", "volume"];

/// Values echoed in messages are cut to this many characters.
const ECHO_CHARS: usize = 40;

/// What is wrong with one line of a market CSV.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RowProblem {
    /// The file has no non-blank line at all.
    EmptyFile,
    /// The first non-blank line is not the expected header.
    Header {
        /// The line found (cut to a readable length).
        found: String,
    },
    /// The row does not have exactly six comma-separated cells.
    ColumnCount {
        /// Cells found.
        found: u32,
    },
    /// A cell is empty.
    EmptyField {
        /// Column name.
        column: &'static str,
    },
    /// A price or volume cell is not a decimal number.
    NotANumber {
        /// Column name.
        column: &'static str,
        /// The cell's text (cut to a readable length).
        value: String,
    },
    /// The timestamp cell could not be read.
    Timestamp {
        /// The cell's text (cut to a readable length).
        value: String,
        /// Why.
        error: TimestampError,
    },
    /// The numbers do not form a possible bar.
    Candle(CandleError),
    /// A feature row does not have the model's number of values (optionally after a label).
    FeatureCount {
        /// Values the model takes.
        expected: u32,
        /// Cells found.
        found: u32,
    },
    /// A feature cell is not a finite number.
    NotAFeature {
        /// Column, from 1.
        column: u32,
        /// The cell's text (cut to a readable length).
        value: String,
    },
    /// The file holds no feature row.
    NoRows,
    /// The timestamp is not after the previous row's.
    NotAfterPrevious {
        /// The cell's text (cut to a readable length).
        value: String,
        /// Line of the previous row that had a readable timestamp.
        previous_line: u64,
        /// `true` when both times are equal (a duplicate), `false` when it goes back in time.
        same_time: bool,
    },
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyFile => write!(f, "the file is empty; expected the header '{CSV_HEADER}'"),
            Self::Header { found } => {
                write!(f, "expected the header '{CSV_HEADER}', found '{found}'")
            }
            Self::ColumnCount { found } => write!(
                f,
                "expected {} columns ({CSV_HEADER}), found {found}",
                COLUMNS.len()
            ),
            Self::EmptyField { column } => write!(f, "column '{column}' is empty"),
            Self::NotANumber { column, value } => {
                write!(f, "column '{column}': '{value}' is not a number")
            }
            Self::Timestamp { value, error } => {
                write!(f, "column 'timestamp': '{value}' {error}")
            }
            Self::Candle(e) => write!(f, "{e}"),
            Self::FeatureCount { expected, found } => write!(
                f,
                "expected {expected} feature values (optionally after a label), found {found} cells"
            ),
            Self::NotAFeature { column, value } => {
                write!(f, "column {column}: '{value}' is not a finite number")
            }
            Self::NoRows => f.write_str("no feature rows"),
            Self::NotAfterPrevious {
                value,
                previous_line,
                same_time: true,
            } => write!(
                f,
                "timestamp {value} repeats the time of the previous row (line {previous_line})"
            ),
            Self::NotAfterPrevious {
                value,
                previous_line,
                same_time: false,
            } => write!(
                f,
                "timestamp {value} is not after the previous row (line {previous_line})"
            ),
        }
    }
}

/// One bad line: its 1-based line number and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// 1-based line number in the file (blank lines and the header count).
    pub line: u64,
    /// What is wrong (the first problem found in the row).
    pub problem: RowProblem,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// A market CSV was rejected. Lists every bad row (the first [`MAX_ROW_ERRORS`] in detail).
///
/// `Display` prints one line per kept row error, then `... and N more bad rows` when some
/// were only counted.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvError {
    errors: Vec<RowError>,
    bad_rows: u64,
}

impl CsvError {
    /// The bad rows kept in detail, in file order (at most [`MAX_ROW_ERRORS`]).
    pub fn errors(&self) -> &[RowError] {
        &self.errors
    }

    /// Total number of bad lines, including those not kept in detail.
    pub fn bad_rows(&self) -> u64 {
        self.bad_rows
    }

    fn single(line: u64, problem: RowProblem) -> Self {
        Self {
            errors: alloc::vec![RowError { line, problem }],
            bad_rows: 1,
        }
    }

    fn push(&mut self, line: u64, problem: RowProblem) {
        if self.errors.len() < MAX_ROW_ERRORS {
            self.errors.push(RowError { line, problem });
        }
        self.bad_rows = self.bad_rows.saturating_add(1);
    }
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for e in &self.errors {
            if !first {
                f.write_str("\n")?;
            }
            first = false;
            write!(f, "{e}")?;
        }
        let kept = self.errors.len() as u64;
        if self.bad_rows > kept {
            if !first {
                f.write_str("\n")?;
            }
            write!(f, "... and {} more bad rows", self.bad_rows - kept)?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CsvError {}

/// A cell without surrounding whitespace and without one pair of surrounding double quotes.
/// The lines of a CSV text that hold something, with their numbers from 1: after a
/// byte-order mark, without their LF or CR LF ending; blank lines are skipped.
fn records(text: &str) -> impl Iterator<Item = (u64, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    (1u64..)
        .zip(text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
}

/// A cell: trimmed, one pair of enclosing double quotes removed.
fn cell(raw: &str) -> &str {
    let t = raw.trim();
    t.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .map_or(t, str::trim)
}

/// `text` cut to `max` characters (with `...` appended when cut), for error messages.
fn echo(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => {
            let mut s = String::from(text.get(..end).unwrap_or(""));
            s.push_str("...");
            s
        }
        None => String::from(text),
    }
}

fn is_header(line: &str) -> bool {
    let mut cells = line.split(',');
    for name in COLUMNS {
        match cells.next() {
            Some(c) if cell(c).eq_ignore_ascii_case(name) => {}
            _ => return false,
        }
    }
    cells.next().is_none()
}

/// Parses one data row (no ordering check).
fn parse_row(line: &str) -> Result<Candle, RowProblem> {
    let mut cells = [""; 6];
    let mut found: u32 = 0;
    for (i, c) in line.split(',').enumerate() {
        if let Some(slot) = cells.get_mut(i) {
            *slot = cell(c);
        }
        found = found.saturating_add(1);
    }
    if found as usize != COLUMNS.len() {
        return Err(RowProblem::ColumnCount { found });
    }
    let [ts, open, high, low, close, volume] = cells;
    if ts.is_empty() {
        return Err(RowProblem::EmptyField {
            column: "timestamp",
        });
    }
    let time = parse_timestamp(ts).map_err(|error| RowProblem::Timestamp {
        value: echo(ts, ECHO_CHARS),
        error,
    })?;
    let mut values = [0.0f64; 5];
    for ((slot, text), column) in values
        .iter_mut()
        .zip([open, high, low, close, volume])
        .zip(["open", "high", "low", "close", "volume"])
    {
        if text.is_empty() {
            return Err(RowProblem::EmptyField { column });
        }
        *slot = text.parse().map_err(|_| RowProblem::NotANumber {
            column,
            value: echo(text, ECHO_CHARS),
        })?;
    }
    let [open, high, low, close, volume] = values;
    let candle = Candle {
        time,
        open,
        high,
        low,
        close,
        volume,
    };
    candle.validate().map_err(RowProblem::Candle)?;
    Ok(candle)
}

/// Parses a market CSV into candles, oldest first.
///
/// A file with a header and no rows gives an empty vector. On any problem the whole file
/// is rejected and the error lists every bad line (the first [`MAX_ROW_ERRORS`] in detail),
/// so the file can be fixed in one go. Never panics.
///
/// The ordering check compares each row with the previous row whose timestamp could be
/// read, so one mistyped time produces one report naming both lines, not a cascade.
///
/// ```text
/// timestamp,open,high,low,close,volume
/// 2020-01-02T14:00:00Z,324.87,325.1,323.5,324.9,1200300
/// 1577977200,324.9,325.3,324.1,325.2,980100
/// ```
///
/// * Header: exactly these six column names in this order; case-insensitive; whitespace
///   around a name and one pair of double quotes around a cell are ignored.
/// * Timestamps: integer unix seconds or ISO-8601 UTC (see [`parse_timestamp`]), strictly
///   increasing (a repeated or earlier time is an error).
/// * Every row must be a valid [`Candle`] ([`Candle::validate`]).
/// * A UTF-8 byte-order mark, CRLF line ends, blank lines and a trailing newline are fine.
///
/// Every bad row is reported with its 1-based line number and what is wrong, all in one
/// pass: [`CsvError`] keeps the first [`MAX_ROW_ERRORS`] in detail and counts the rest.
pub fn parse_csv(text: &str) -> Result<Vec<Candle>, CsvError> {
    let mut lines = records(text);
    // The header is the first non-blank line.
    let Some((line_no, header)) = lines.next() else {
        return Err(CsvError::single(1, RowProblem::EmptyFile));
    };
    if !is_header(header) {
        return Err(CsvError::single(
            line_no,
            RowProblem::Header {
                found: echo(header.trim(), 2 * ECHO_CHARS),
            },
        ));
    }

    let mut candles = Vec::new();
    let mut err = CsvError {
        errors: Vec::new(),
        bad_rows: 0,
    };
    // (time, line) of the previous row whose timestamp could be read.
    let mut previous: Option<(i64, u64)> = None;
    for (line_no, line) in lines {
        match parse_row(line) {
            Ok(c) => {
                let order = previous.map(|(t, l)| (c.time.cmp(&t), l));
                previous = Some((c.time, line_no));
                match order {
                    Some((core::cmp::Ordering::Greater, _)) | None => {
                        if err.bad_rows == 0 {
                            candles.push(c);
                        }
                    }
                    Some((ord, previous_line)) => {
                        let value = echo(cell(line.split(',').next().unwrap_or("")), ECHO_CHARS);
                        err.push(
                            line_no,
                            RowProblem::NotAfterPrevious {
                                value,
                                previous_line,
                                same_time: ord == core::cmp::Ordering::Equal,
                            },
                        );
                    }
                }
            }
            Err(problem) => {
                // Keep the ordering reference if at least the timestamp was readable.
                if !matches!(problem, RowProblem::ColumnCount { .. })
                    && let Some(t) = line
                        .split(',')
                        .next()
                        .and_then(|ts| parse_timestamp(cell(ts)).ok())
                {
                    previous = Some((t, line_no));
                }
                err.push(line_no, problem);
            }
        }
    }
    if err.bad_rows == 0 {
        Ok(candles)
    } else {
        Err(err)
    }
}

/// Rows of feature values, as [`parse_feature_rows`] reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRows {
    /// Each row's label: its first cell if it has one, else `row N`.
    pub labels: Vec<String>,
    /// The values, row after row (`labels.len() * features`).
    pub values: Vec<f32>,
}

/// Reads rows of `features` finite numbers, each optionally after a label (a symbol, say),
/// one row per line; the first line may be a header (a line with a cell that is not a
/// number). Every bad row is reported with its line number.
pub fn parse_feature_rows(text: &str, features: usize) -> Result<FeatureRows, CsvError> {
    let mut rows = FeatureRows {
        labels: Vec::new(),
        values: Vec::new(),
    };
    let mut err = CsvError {
        errors: Vec::new(),
        bad_rows: 0,
    };
    for (i, (line_no, line)) in records(text).enumerate() {
        let cells: Vec<&str> = line.split(',').map(cell).collect();
        let (label, values) = match cells.len() {
            n if n == features => (None, &cells[..]),
            n if n == features + 1 => (cells.first().copied(), &cells[1..]),
            n => {
                err.push(
                    line_no,
                    RowProblem::FeatureCount {
                        expected: u32::try_from(features).unwrap_or(u32::MAX),
                        found: u32::try_from(n).unwrap_or(u32::MAX),
                    },
                );
                continue;
            }
        };
        let parsed: Vec<Option<f32>> = values
            .iter()
            .map(|v| v.parse::<f32>().ok().filter(|x| x.is_finite()))
            .collect();
        let bad = parsed.iter().position(Option::is_none);
        if i == 0 && bad.is_some() && values.iter().any(|v| v.parse::<f32>().is_err()) {
            continue; // the header
        }
        if let Some(c) = bad {
            let column = c + 1 + usize::from(label.is_some());
            err.push(
                line_no,
                RowProblem::NotAFeature {
                    column: u32::try_from(column).unwrap_or(u32::MAX),
                    value: echo(values.get(c).copied().unwrap_or(""), ECHO_CHARS),
                },
            );
            continue;
        }
        if err.bad_rows == 0 {
            rows.values.extend(parsed.into_iter().flatten());
            let n = rows.labels.len() + 1;
            rows.labels
                .push(label.map_or_else(|| alloc::format!("row {n}"), String::from));
        }
    }
    if err.bad_rows > 0 {
        return Err(err);
    }
    if rows.labels.is_empty() {
        return Err(CsvError::single(1, RowProblem::NoRows));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn feature_rows_with_and_without_labels_and_a_header() {
        let r = parse_feature_rows("symbol,a,b\nSPY,1,2\n\nGLD,3,4.5\n", 2).unwrap();
        assert_eq!(r.labels, ["SPY", "GLD"]);
        assert_eq!(r.values, [1.0, 2.0, 3.0, 4.5]);
        let r = parse_feature_rows("\u{feff}1,2\r\n3,\"4\"\r\n", 2).unwrap();
        assert_eq!(r.labels, ["row 1", "row 2"]);
        assert_eq!(r.values, [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn bad_feature_rows_name_their_line() {
        let e = |t: &str| parse_feature_rows(t, 2).unwrap_err().to_string();
        assert_eq!(
            e("1,2\n1,2,3,4\n"),
            "line 2: expected 2 feature values (optionally after a label), found 4 cells"
        );
        assert_eq!(
            e("a,b\n1,x\n"),
            "line 2: column 2: 'x' is not a finite number"
        );
        assert_eq!(
            e("S,1,2\nT,NaN,2\nU,1,inf\n"),
            "line 2: column 2: 'NaN' is not a finite number\n\
             line 3: column 3: 'inf' is not a finite number"
        );
        assert_eq!(e("a,b\n"), "line 1: no feature rows");
        assert_eq!(
            e("1,2\nx,2\n"),
            "line 2: column 1: 'x' is not a finite number"
        );
        assert_eq!(e(""), "line 1: no feature rows");
    }

    #[test]
    fn minimal_file() {
        let csv = "timestamp,open,high,low,close,volume\n\
                   2020-01-01T00:00:00Z,1,2,0.5,1.5,10\n\
                   1577840400,1.5,1.6,1.4,1.45,0\n";
        let c = parse_csv(csv).unwrap_or_default();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].time, 1_577_836_800_000);
        assert_eq!(c[1].time, 1_577_840_400_000);
        assert_eq!(c[1].close, 1.45);
    }

    #[test]
    fn header_only_is_empty_ok() {
        assert_eq!(
            parse_csv("timestamp,open,high,low,close,volume"),
            Ok(Vec::new())
        );
        assert_eq!(
            parse_csv("\u{feff} Timestamp , OPEN,High,low,\"close\",Volume\r\n\r\n"),
            Ok(Vec::new())
        );
    }

    #[test]
    fn empty_and_wrong_header() {
        let e = parse_csv("").unwrap_err();
        assert_eq!(e.errors()[0].line, 1);
        assert_eq!(e.errors()[0].problem, RowProblem::EmptyFile);
        assert!(parse_csv("\n  \n").is_err());
        let e = parse_csv("time,open,high,low,close,volume\n").unwrap_err();
        assert!(
            e.to_string().starts_with("line 1: expected the header"),
            "{e}"
        );
        let e = parse_csv("timestamp,open,high,low,close\n").unwrap_err();
        assert_eq!(e.bad_rows(), 1);
        let e = parse_csv("timestamp,open,high,low,close,volume,extra\n").unwrap_err();
        assert_eq!(e.bad_rows(), 1);
        // A file without a header reports its first line.
        let e = parse_csv("2020-01-01,1,1,1,1,1\n").unwrap_err();
        assert!(
            format!("{e}").contains("found '2020-01-01,1,1,1,1,1'"),
            "{e}"
        );
    }

    #[test]
    fn echo_cuts_long_values() {
        assert_eq!(echo("abc", 5), "abc");
        assert_eq!(echo("abcdef", 3), "abc...");
        assert_eq!(echo("ééééé", 2), "éé...");
    }

    #[test]
    fn truncated_display() {
        let mut text = String::from(CSV_HEADER);
        for _ in 0..60 {
            text.push_str("\nx,1,1,1,1,1");
        }
        let e = parse_csv(&text).unwrap_err();
        assert_eq!(e.bad_rows(), 60);
        assert_eq!(e.errors().len(), MAX_ROW_ERRORS);
        let shown = e.to_string();
        assert_eq!(shown.lines().count(), MAX_ROW_ERRORS + 1);
        assert!(shown.ends_with("... and 10 more bad rows"), "{shown}");
        assert!(shown.starts_with("line 2: column 'timestamp': 'x' is neither"));
    }
}
