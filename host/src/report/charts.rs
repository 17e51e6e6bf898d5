//! SVG charts drawn with `plotters` (text as SVG `<text>`, so no font files are involved).
//!
//! A [`Chart`] is a title over one or more [`Panel`]s that share a time axis
//! [`XAxis`]); a panel holds [`Line`]s (on a left or right y axis, solid, dashed or
//! filled), point [`Marks`], vertical [`Rules`] and shaded spans, and says what it lacks
//! when it has nothing to plot. [`time_line_chart`] draws the common case:
//! several named [`Series`] as lines in one panel.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use tradeloop_core::market::date_of;

/// Size of the SVGs: width, and height per panel.
const WIDTH: u32 = 1000;
const PANEL_HEIGHT: u32 = 400;
const DAY_MS: f64 = 86_400_000.0;

/// A named line: `(x, y)` points in x order. A point whose y is not finite breaks the line
/// there (the pieces share the name's legend entry).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Series {
    /// The legend entry.
    pub(crate) name: String,
    /// The points, in x order.
    pub(crate) points: Vec<(f64, f64)>,
}

impl Series {
    pub(crate) fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }
}

/// Draws `series` as solid lines over time (x in ms since the Unix epoch, labelled as UTC
/// dates or times of day, as precise as the span needs, under the axis title `time (UTC)`):
/// one panel, with a legend, colours from [`color::PALETTE`] in order, and both ranges
/// covering every point (with a margin). Returns the SVG document.
pub(crate) fn time_line_chart(
    title: &str,
    y_label: &str,
    series: &[Series],
) -> anyhow::Result<String> {
    Chart::new(
        title,
        "time (UTC)",
        XAxis::Time,
        vec![Panel::of(y_label, series)],
    )
    .render()
}

/// Colours (after matplotlib's "tab10", and a few lighter ones).
pub(crate) mod color {
    use plotters::style::RGBColor;
    pub(crate) const BLUE: RGBColor = RGBColor(31, 119, 180);
    pub(crate) const ORANGE: RGBColor = RGBColor(255, 127, 14);
    pub(crate) const GREEN: RGBColor = RGBColor(44, 160, 44);
    pub(crate) const RED: RGBColor = RGBColor(214, 39, 40);
    pub(crate) const PURPLE: RGBColor = RGBColor(148, 103, 189);
    pub(crate) const BROWN: RGBColor = RGBColor(140, 86, 75);
    pub(crate) const PINK: RGBColor = RGBColor(227, 119, 194);
    pub(crate) const GRAY: RGBColor = RGBColor(110, 110, 110);
    pub(crate) const OLIVE: RGBColor = RGBColor(188, 189, 34);
    pub(crate) const CYAN: RGBColor = RGBColor(23, 190, 207);
    pub(crate) const LIGHT_BLUE: RGBColor = RGBColor(140, 190, 230);
    pub(crate) const LIGHT_ORANGE: RGBColor = RGBColor(255, 190, 130);
    /// The colours [`Panel::of`](super::Panel::of) gives its series, in order (then again
    /// from the start).
    pub(crate) const PALETTE: [RGBColor; 10] = [
        BLUE, ORANGE, GREEN, RED, PURPLE, BROWN, PINK, GRAY, OLIVE, CYAN,
    ];
}

/// How the x axis's ticks are labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XAxis {
    /// ms since the Unix epoch, as UTC dates or times (as precise as the span needs).
    Time,
}

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Solid,
    /// Thin and dashed (thresholds); not counted as data (a panel of only these is empty).
    Dashed,
    /// Filled down to zero.
    Area,
}

/// A line of a panel.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) label: String,
    pub(crate) color: RGBColor,
    /// `(x, y)` points; a non-finite y breaks the line.
    pub(crate) points: Vec<(f64, f64)>,
    /// On the right-hand axis ([`Panel::y2_desc`]).
    pub(crate) secondary: bool,
    pub(crate) style: Style,
}

impl Line {
    /// A solid line on the primary axis.
    pub(crate) fn new(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            color,
            points,
            secondary: false,
            style: Style::Solid,
        }
    }

    /// On the right-hand axis.
    pub(crate) fn secondary(mut self) -> Self {
        self.secondary = true;
        self
    }

    pub(crate) fn style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }
}

/// The shape of point [`Marks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Circle,
    Triangle,
    Cross,
}

/// Point markers on the primary axis.
#[derive(Debug, Clone)]
pub(crate) struct Marks {
    pub(crate) label: String,
    pub(crate) color: RGBColor,
    pub(crate) shape: Shape,
    pub(crate) points: Vec<(f64, f64)>,
}

/// Vertical lines at the given x values.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) label: String,
    pub(crate) color: RGBColor,
    /// Opacity (many rules need a light touch).
    pub(crate) alpha: f64,
    pub(crate) xs: Vec<f64>,
}

/// One plot area of a chart.
#[derive(Debug, Clone, Default)]
pub(crate) struct Panel {
    /// The primary (left) axis's title.
    pub(crate) y_desc: String,
    /// The secondary (right) axis's title, if the panel has one.
    pub(crate) y2_desc: Option<String>,
    pub(crate) lines: Vec<Line>,
    pub(crate) marks: Vec<Marks>,
    pub(crate) rules: Vec<Rules>,
    /// Shaded x intervals and their legend label.
    pub(crate) spans: Vec<(f64, f64)>,
    pub(crate) span_label: String,
    /// Values the primary axis must include (e.g. 0).
    pub(crate) y_include: Vec<f64>,
    /// What to say when there is nothing to plot.
    pub(crate) empty_note: String,
}

impl Panel {
    /// An empty panel.
    pub(crate) fn new(y_desc: impl Into<String>, empty_note: impl Into<String>) -> Self {
        Self {
            y_desc: y_desc.into(),
            empty_note: empty_note.into(),
            ..Self::default()
        }
    }

    /// A panel of `series` as solid lines, coloured from [`color::PALETTE`] in order.
    pub(crate) fn of(y_desc: impl Into<String>, series: &[Series]) -> Self {
        let mut p = Self::new(y_desc, "no data");
        p.lines = series
            .iter()
            .zip(color::PALETTE.iter().cycle())
            .map(|(s, &c)| Line::new(s.name.as_str(), c, s.points.clone()))
            .collect();
        p
    }

    fn is_empty(&self) -> bool {
        self.lines
            .iter()
            .filter(|l| l.style != Style::Dashed)
            .all(|l| l.points.is_empty())
            && self.marks.iter().all(|m| m.points.is_empty())
    }

    fn y_range(&self, secondary: bool) -> (f64, f64) {
        if self.is_empty() {
            return (0.0, 1.0);
        }
        let mut values: Vec<f64> = self
            .lines
            .iter()
            .filter(|l| l.secondary == secondary)
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .collect();
        if !secondary {
            values.extend(self.marks.iter().flat_map(|m| m.points.iter().map(|p| p.1)));
            values.extend(&self.y_include);
        }
        padded(values.into_iter())
    }
}

/// A titled chart of one or more panels sharing an x axis.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    pub(crate) title: String,
    /// The x axis's title (under every panel).
    pub(crate) x_desc: String,
    pub(crate) x_axis: XAxis,
    pub(crate) panels: Vec<Panel>,
    /// The x range when the panels have no data.
    pub(crate) default_x: (f64, f64),
}

impl Chart {
    /// A chart of `panels` (stacked, top first), with the x range `0..1` when they are all
    /// empty.
    pub(crate) fn new(title: &str, x_desc: &str, x_axis: XAxis, panels: Vec<Panel>) -> Self {
        Self {
            title: title.to_owned(),
            x_desc: x_desc.to_owned(),
            x_axis,
            panels,
            default_x: (0.0, 1.0),
        }
    }

    fn x_range(&self) -> (f64, f64) {
        let mut xs = Vec::new();
        for p in &self.panels {
            xs.extend(p.lines.iter().flat_map(|l| l.points.iter().map(|q| q.0)));
            xs.extend(p.marks.iter().flat_map(|m| m.points.iter().map(|q| q.0)));
            xs.extend(p.rules.iter().flat_map(|r| r.xs.iter().copied()));
            xs.extend(p.spans.iter().flat_map(|s| [s.0, s.1]));
        }
        if xs.iter().all(|x| !x.is_finite()) {
            xs = vec![self.default_x.0, self.default_x.1];
        }
        let (lo, hi) = match self.x_axis {
            XAxis::Time => min_max(xs.into_iter()).unwrap_or((0.0, DAY_MS)),
        };
        match self.x_axis {
            XAxis::Time if hi - lo < 1.0 => (lo - DAY_MS, hi + DAY_MS),
            _ => {
                let pad = (hi - lo) * 0.01;
                (lo - pad, hi + pad)
            }
        }
    }

    /// The chart as an SVG document: [`WIDTH`] wide, a title and [`PANEL_HEIGHT`] per
    /// panel.
    pub(crate) fn render(&self) -> anyhow::Result<String> {
        let mut svg = String::new();
        {
            let n = self.panels.len().max(1);
            let height = 50 + PANEL_HEIGHT * n as u32;
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(err)?;
            let body = root
                .titled(&self.title, ("sans-serif", 26).into_font().color(&BLACK))
                .map_err(err)?;
            let x = self.x_range();
            // The same margins on every panel, so that their x axes line up.
            let right = self.panels.iter().any(|p| p.y2_desc.is_some());
            for (area, panel) in body.split_evenly((n, 1)).iter().zip(&self.panels) {
                draw_panel(area, panel, x, &self.x_desc, self.x_axis, right)?;
            }
            root.present().map_err(err)?;
        }
        Ok(svg)
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// A plotting range for `values` with a margin; never empty (a classic: min == max).
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    match min_max(values) {
        None => (0.0, 1.0),
        Some((lo, hi)) if hi - lo <= f64::EPSILON * hi.abs().max(1.0) => {
            let d = (lo.abs() * 0.1).max(1e-3);
            (lo - d, hi + d)
        }
        Some((lo, hi)) => {
            let d = (hi - lo) * 0.06;
            (lo - d, hi + d)
        }
    }
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::msg(e.to_string())
}

fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    p: &Panel,
    (x0, x1): (f64, f64),
    x_desc: &str,
    x_axis: XAxis,
    right_axis: bool,
) -> anyhow::Result<()> {
    let (y0, y1) = p.y_range(false);
    let (z0, z1) = p.y_range(true);
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .x_label_area_size(50)
        .y_label_area_size(76)
        .right_y_label_area_size(if right_axis { 76 } else { 0 })
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?
        .set_secondary_coord(x0..x1, z0..z1);
    let span = x1 - x0;
    let x_fmt = move |x: &f64| match x_axis {
        XAxis::Time => time_label(*x, span),
    };
    let y_fmt = |y: &f64| num_label(*y);
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(p.y_desc.as_str())
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    if let Some(d) = &p.y2_desc {
        chart
            .configure_secondary_axes()
            .y_desc(d.as_str())
            .y_labels(8)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(err)?;
    }
    if !p.spans.is_empty() {
        let fill = color::GRAY.mix(0.18).filled();
        chart
            .draw_series(
                p.spans
                    .iter()
                    .map(|&(a, b)| Rectangle::new([(a, y0), (b, y1)], fill)),
            )
            .map_err(err)?
            .label(p.span_label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], fill));
    }
    for r in p.rules.iter().filter(|r| !r.xs.is_empty()) {
        let style = r.color.mix(r.alpha).stroke_width(1);
        chart
            .draw_series(
                r.xs.iter()
                    .map(|&x| PathElement::new(vec![(x, y0), (x, y1)], style)),
            )
            .map_err(err)?
            .label(r.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x + 9, y - 7), (x + 9, y + 7)], style));
    }
    for l in p.lines.iter().filter(|l| !l.points.is_empty()) {
        let solid = l.color.stroke_width(2);
        let thin = l.color.stroke_width(1);
        // A NaN value breaks the line; the legend entry goes with the last piece.
        let pieces: Vec<&[(f64, f64)]> = l
            .points
            .split(|q| !q.1.is_finite())
            .filter(|s| !s.is_empty())
            .collect();
        let Some((last, rest)) = pieces.split_last() else {
            continue;
        };
        for piece in rest {
            let pts = piece.iter().copied();
            if l.secondary {
                chart.draw_secondary_series(LineSeries::new(pts, solid))
            } else {
                chart.draw_series(LineSeries::new(pts, solid))
            }
            .map_err(err)?;
        }
        let pts = last.iter().copied();
        let anno = match (l.style, l.secondary) {
            (Style::Solid, false) => chart.draw_series(LineSeries::new(pts, solid)),
            (Style::Solid, true) => chart.draw_secondary_series(LineSeries::new(pts, solid)),
            (Style::Dashed, false) => chart.draw_series(DashedLineSeries::new(pts, 8, 5, thin)),
            (Style::Dashed, true) => {
                chart.draw_secondary_series(DashedLineSeries::new(pts, 8, 5, thin))
            }
            (Style::Area, false) => {
                chart.draw_series(AreaSeries::new(pts, 0.0, l.color.mix(0.25)).border_style(thin))
            }
            (Style::Area, true) => chart.draw_secondary_series(
                AreaSeries::new(pts, 0.0, l.color.mix(0.25)).border_style(thin),
            ),
        }
        .map_err(err)?;
        let legend = if l.style == Style::Dashed {
            thin
        } else {
            solid
        };
        anno.label(l.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], legend));
    }
    for m in p.marks.iter().filter(|m| !m.points.is_empty()) {
        let style = m.color.filled();
        let pts = m.points.iter().copied();
        let anno = match m.shape {
            Shape::Circle => chart.draw_series(pts.map(|q| Circle::new(q, 4, style))),
            Shape::Triangle => chart.draw_series(pts.map(|q| TriangleMarker::new(q, 7, style))),
            Shape::Cross => {
                chart.draw_series(pts.map(|q| Cross::new(q, 6, m.color.stroke_width(2))))
            }
        }
        .map_err(err)?;
        let shape = m.shape;
        let c = m.color;
        anno.label(m.label.as_str()).legend(
            move |(x, y)| -> DynElement<'static, SVGBackend<'_>, (i32, i32)> {
                match shape {
                    Shape::Circle => Circle::new((x + 9, y), 4, c.filled()).into_dyn(),
                    Shape::Triangle => TriangleMarker::new((x + 9, y), 7, c.filled()).into_dyn(),
                    Shape::Cross => Cross::new((x + 9, y), 6, c.stroke_width(2)).into_dyn(),
                }
            },
        );
    }
    if p.is_empty() {
        let style = ("sans-serif", 20)
            .into_font()
            .color(&color::GRAY)
            .pos(Pos::new(HPos::Center, VPos::Center));
        chart
            .draw_series(std::iter::once(Text::new(
                p.empty_note.clone(),
                ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
                style,
            )))
            .map_err(err)?;
    } else {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

/// A time axis label for ms since the Unix epoch, as precise as the axis span needs.
pub(crate) fn time_label(ms: f64, span_ms: f64) -> String {
    if !ms.is_finite() {
        return String::new();
    }
    let t = ms as i64;
    if span_ms > 2.0 * 365.0 * DAY_MS {
        let (y, m, _) = date_of(t);
        format!("{y}-{m:02}")
    } else if span_ms > 3.0 * DAY_MS {
        let (y, m, d) = date_of(t);
        format!("{y}-{m:02}-{d:02}")
    } else {
        let (_, m, d) = date_of(t);
        let s = t.rem_euclid(86_400_000) / 1000;
        format!("{m:02}-{d:02} {:02}:{:02}", s / 3600, s / 60 % 60)
    }
}

/// An axis label for a number: at most three decimals, without trailing zeros.
pub(crate) fn num_label(v: f64) -> String {
    if v.abs() >= 1000.0 {
        return format!("{v:.0}");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// `(t, y)` points as a step line: each value holds until the next point, and the last
/// one until `end`.
pub(crate) fn steps(points: &[(f64, f64)], end: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(2 * points.len() + 1);
    for (i, &(t, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((t, points[i - 1].1));
        }
        out.push((t, y));
    }
    if let Some(&(t, y)) = points.last()
        && end > t
    {
        out.push((end, y));
    }
    out
}

/// A horizontal threshold line over `[from, to]`.
pub(crate) fn level_line(value: f64, from: f64, to: f64) -> Vec<(f64, f64)> {
    vec![(from, value), (to, value)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_never_empty() {
        assert_eq!(padded(std::iter::empty()), (0.0, 1.0));
        for v in [0.0, 5.0, -3.0, 1e12] {
            let (lo, hi) = padded([v, v].into_iter());
            assert!(lo < v && v < hi, "{v}: {lo}..{hi}");
        }
        let (lo, hi) = padded([1.0, f64::NAN, 3.0].into_iter());
        assert!(lo < 1.0 && hi > 3.0 && hi - lo < 2.5);
        {
            let one_x = Chart {
                default_x: (5.0, 5.0),
                ..Chart::new("", "", XAxis::Time, vec![])
            };
            let (a, b) = one_x.x_range();
            assert!(a < 5.0 && b > 5.0, "{a}..{b}");
        }
    }

    #[test]
    fn labels() {
        let t = 1_700_000_000_000.0;
        assert_eq!(time_label(t, 3.0 * 365.0 * DAY_MS), "2023-11");
        assert_eq!(time_label(t, 30.0 * DAY_MS), "2023-11-14");
        assert_eq!(time_label(t, DAY_MS), "11-14 22:13");
        assert_eq!(num_label(20.0), "20");
        assert_eq!(num_label(0.25), "0.25");
        assert_eq!(num_label(-0.0004), "0");
        assert_eq!(num_label(12345.6), "12346");
    }

    #[test]
    fn step_lines_hold_each_value_until_the_next() {
        assert_eq!(
            steps(&[(0.0, 1.0), (2.0, 3.0)], 5.0),
            [(0.0, 1.0), (2.0, 1.0), (2.0, 3.0), (5.0, 3.0)]
        );
        assert!(steps(&[], 5.0).is_empty());
    }

    #[test]
    fn time_line_charts_draw_every_named_series() {
        let series = [
            Series::new(
                "alpha",
                vec![(0.0, 1.0), (DAY_MS, 2.0), (10.0 * DAY_MS, 1.5)],
            ),
            Series::new(
                "beta",
                vec![(0.0, 0.5), (DAY_MS, f64::NAN), (10.0 * DAY_MS, 0.25)],
            ),
        ];
        let svg = time_line_chart("Two series", "value", &series).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        for text in [
            "Two series",
            "time (UTC)",
            "value",
            "alpha",
            "beta",
            "1970-01-0",
        ] {
            assert!(svg.contains(text), "no {text:?} in {svg}");
        }
        // Nothing to plot is a chart saying so.
        let empty = time_line_chart("Empty", "y", &[]).unwrap();
        assert!(empty.contains("no data"), "{empty}");
    }
}
