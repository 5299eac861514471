//! The report's plots, drawn with plotters into SVG strings: horizontal bars
//! (labels are long bench and path names, which fit on the left) and lines.

use std::fmt::Write as _;

use plotters::coord::Shift;
use plotters::prelude::*;

/// A plot that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("plot `{title}`: {message}")]
pub struct PlotError {
    title: String,
    message: String,
}

/// Colors of the series, in order (colorblind-safe Okabe-Ito).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
];

/// Width of every plot in pixels: fits a laptop screen beside nothing else.
const WIDTH: u32 = 900;
/// Pixels per bar of a horizontal bar chart.
const BAR_PX: u32 = 16;

/// A number with a unit prefix for axis labels: 1.2k, 3.4M.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn fail(title: &str, e: impl std::fmt::Display) -> PlotError {
    PlotError { title: title.to_owned(), message: e.to_string() }
}

fn finish(title: &str, root: DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), PlotError> {
    root.present().map_err(|e| fail(title, e))
}

/// The series' legend, boxed and nearly opaque so that it stays readable over
/// the data it covers; `at` is the corner the plot's headroom leaves free.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    title: &str,
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> Result<(), PlotError> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(|e| fail(title, e))
}

/// Horizontal bars: one row per group, one bar per series in each row
/// (`values[group][series]`; NaN leaves a gap). Returns the SVG.
pub fn hbars(
    title: &str,
    x_desc: &str,
    groups: &[String],
    series: &[&str],
    values: &[Vec<f64>],
) -> Result<String, PlotError> {
    let per = series.len().max(1);
    // One empty segment between groups when there are several series.
    let stride = if per > 1 { per + 1 } else { 1 };
    let segments = groups.len() * stride;
    let max = values.iter().flatten().copied().filter(|v| v.is_finite()).fold(0.0_f64, f64::max);
    // Room on the right for the legend when there is one.
    let headroom = if per > 1 { 1.3 } else { 1.08 };
    let x_max = if max > 0.0 { max * headroom } else { 1.0 };
    let label_chars = groups.iter().map(|g| g.len()).max().unwrap_or(4) as u32;
    let height = 90 + BAR_PX * segments.max(1) as u32 + if per > 1 { 20 } else { 0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(title, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            // About 6 px a character at 12 px, as plotters estimates text without fonts.
            .y_label_area_size((label_chars * 6 + 16).min(WIDTH / 2))
            .build_cartesian_2d(0.0..x_max, (0..segments).into_segmented())
            .map_err(|e| fail(title, e))?;
        // Rows are drawn top-down: segment 0 is at the bottom.
        let top = |k: usize| segments - 1 - k;
        let label = |v: &SegmentValue<usize>| -> String {
            let SegmentValue::CenterOf(s) = *v else { return String::new() };
            if s >= segments {
                return String::new();
            }
            let k = segments - 1 - s;
            let (g, pos) = (k / stride, k % stride);
            if pos == (per - 1) / 2 { groups.get(g).cloned().unwrap_or_default() } else { String::new() }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(segments.max(1))
            .y_label_formatter(&label)
            .x_label_formatter(&|v| short(*v))
            .x_desc(x_desc)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| fail(title, e))?;
        for (j, name) in series.iter().enumerate() {
            let color = PALETTE[j % PALETTE.len()];
            let bars = values.iter().enumerate().filter_map(|(g, row)| {
                let v = *row.get(j)?;
                if !v.is_finite() {
                    return None;
                }
                let s = top(g * stride + j);
                let mut bar =
                    Rectangle::new([(0.0, SegmentValue::Exact(s)), (v, SegmentValue::Exact(s + 1))], color.filled());
                // A pixel of white between neighbouring bars.
                bar.set_margin(1, 1, 0, 0);
                Some(bar)
            });
            let anno = chart.draw_series(bars).map_err(|e| fail(title, e))?;
            if per > 1 {
                anno.label(*name).legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
            }
        }
        if per > 1 {
            legend(title, &mut chart, SeriesLabelPosition::UpperRight)?;
        }
        finish(title, root)?;
    }
    Ok(svg)
}

/// Lines with a marker at each point, one per series of `(x, y)` points.
pub fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<String, PlotError> {
    let pts = || series.iter().flat_map(|(_, p)| p.iter().copied());
    let x_max = pts().map(|p| p.0).fold(0.0_f64, f64::max);
    let y_max = pts().map(|p| p.1).fold(0.0_f64, f64::max);
    let x_max = if x_max > 0.0 { x_max * 1.05 } else { 1.0 };
    // Headroom at the top for the legend.
    let y_max = if y_max > 0.0 { y_max * 1.3 } else { 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(title, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(|e| fail(title, e))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|v| short(*v))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| fail(title, e))?;
        for (j, (name, points)) in series.iter().enumerate() {
            let color = PALETTE[j % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
                .map_err(|e| fail(title, e))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled()))).map_err(|e| fail(title, e))?;
        }
        legend(title, &mut chart, SeriesLabelPosition::UpperLeft)?;
        finish(title, root)?;
    }
    Ok(svg)
}

/// One value of a [`steps`] plot: where it is on the x axis (the index of
/// its commit), its value, the tooltip of its marker, and a label drawn
/// beside it when the step to it is one to show.
#[derive(Clone, Debug)]
pub struct StepPoint {
    /// Index on the x axis (one per commit, shared by every bench's plot).
    pub x: usize,
    /// The value from this commit on.
    pub y: f64,
    /// The marker's SVG `<title>` (a browser shows it on hover).
    pub tooltip: String,
    /// Text drawn beside the marker, for the steps worth reading without hovering.
    pub label: Option<String>,
}

/// Text for SVG markup.
fn esc_xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A small step plot of one series over commits: the value holds from one
/// commit to the next. `x_labels[i]` names commit `i` on the axis. Each
/// point gets a marker with its tooltip, and the points with a label get it
/// written beside them (plotters' SVG has no tooltips, so markers and labels
/// are added to its output at the coordinates the chart maps them to).
pub fn steps(title: &str, y_desc: &str, x_labels: &[String], points: &[StepPoint]) -> Result<String, PlotError> {
    let n = x_labels.len().max(1);
    let ys = || points.iter().map(|p| p.y).filter(|y| y.is_finite());
    let (lo, hi) = (ys().fold(f64::INFINITY, f64::min), ys().fold(f64::NEG_INFINITY, f64::max));
    // Not from zero: the steps are of a few percent. Some room either side,
    // and a band of ±1% when the value never moved.
    let (lo, hi) = if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < lo.abs() * 0.02 {
        let mid = (hi + lo) / 2.0;
        let pad = (mid.abs() * 0.01).max(1.0);
        (mid - pad, mid + pad)
    } else {
        let pad = (hi - lo) * 0.15;
        (lo - pad, hi + pad)
    };
    let x_max = (n - 1).max(1) as f64 + 0.5;
    let mut svg = String::new();
    let mut extra = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(title, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5..x_max, lo..hi)
            .map_err(|e| fail(title, e))?;
        let label = |v: &f64| -> String {
            let i = v.round();
            if (v - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            x_labels.get(i as usize).cloned().unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(24) + 1)
            .x_label_formatter(&label)
            .y_labels(5)
            .y_label_formatter(&|v| short(*v))
            .y_desc(y_desc)
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|e| fail(title, e))?;
        let color = PALETTE[0];
        let mut path = Vec::with_capacity(points.len() * 2 + 1);
        for (k, p) in points.iter().enumerate() {
            if k > 0 {
                path.push((p.x as f64, points[k - 1].y));
            }
            path.push((p.x as f64, p.y));
        }
        if let Some(last) = points.last() {
            // The last value holds to the end of the axis.
            path.push(((n - 1) as f64 + 0.3, last.y));
        }
        chart.draw_series(LineSeries::new(path, color.stroke_width(2))).map_err(|e| fail(title, e))?;
        let (w, _) = root.dim_in_pixel();
        for p in points {
            let (cx, cy) = chart.backend_coord(&(p.x as f64, p.y));
            let _ = writeln!(
                extra,
                "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"5\" fill=\"rgb({},{},{})\"><title>{}</title></circle>",
                color.0,
                color.1,
                color.2,
                esc_xml(&p.tooltip)
            );
            if let Some(text) = &p.label {
                // Toward the middle of the plot, so that the text stays inside it.
                let (anchor, dx) = if (cx as u32) < w / 2 { ("start", 8) } else { ("end", -8) };
                let _ = writeln!(
                    extra,
                    "<text x=\"{}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"{anchor}\" fill=\"#333\">{}</text>",
                    cx + dx,
                    cy - 8,
                    esc_xml(text)
                );
            }
        }
        finish(title, root)?;
    }
    let end = svg.rfind("</svg>").ok_or_else(|| fail(title, "plotters wrote no </svg>"))?;
    svg.insert_str(end, &extra);
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_svg_with_their_labels() {
        let svg = hbars(
            "t",
            "instructions",
            &["alpha".into(), "beta".into()],
            &["on", "off"],
            &[vec![1.0, 2.0], vec![3.0, f64::NAN]],
        )
        .expect("draws");
        assert!(svg.starts_with("<svg") && svg.contains("alpha") && svg.contains("beta") && svg.contains("\noff\n"));
        let svg = lines("l", "x", "y", &[("otlp-lab".into(), vec![(10.0, 5.0), (50.0, 9.0)])]).expect("draws");
        assert!(svg.contains("otlp-lab") && svg.contains("<polyline"), "{svg}");
        assert_eq!(short(1_234_567.0), "1.2M");
        assert_eq!(short(512.0), "512");
    }

    #[test]
    fn a_step_plot_has_a_titled_marker_per_point_and_the_labels_asked_for() {
        let point = |x: usize, y: f64, label: Option<&str>| StepPoint {
            x,
            y,
            tooltip: format!("c{x} <subject & more>: {y}"),
            label: label.map(str::to_owned),
        };
        let labels: Vec<String> = ["c0", "c1", "c2"].map(String::from).to_vec();
        let svg = steps("s", "instr/item", &labels, &[point(0, 100.0, None), point(2, 110.0, Some("c2: +10%"))])
            .expect("draws");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
        assert_eq!(svg.matches("<title>").count(), 2, "{svg}");
        assert!(svg.contains("<title>c2 &lt;subject &amp; more&gt;: 110</title>"), "{svg}");
        assert!(svg.contains(">c2: +10%</text>") && svg.contains("<polyline"), "{svg}");
        // One point, or a value that never moves, still draws.
        assert!(steps("one", "y", &labels[..1], &[point(0, 5.0, None)]).is_ok());
    }
}
