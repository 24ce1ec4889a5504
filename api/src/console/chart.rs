//! Charts as SVG, drawn on the server from the numbers a page already has: no script, no
//! library, readable by a screen reader through its table twin.

use maud::{html, Markup};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 160.0;
const PAD: f64 = 24.0;

/// A bar chart of `(label, value)` points, with a title for assistive technology and the
/// largest value written beside the axis.
pub fn bars(title: &str, points: &[(String, i64)]) -> Markup {
    let max = points.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let n = points.len().max(1) as f64;
    let slot = (WIDTH - 2.0 * PAD) / n;
    let bar = (slot * 0.8).max(1.0);
    html! {
        figure class="chart" {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg" {
                title { (title) }
                line x1=(PAD) y1=(HEIGHT - PAD) x2=(WIDTH - PAD) y2=(HEIGHT - PAD) class="axis" {}
                text x=(PAD) y="12" class="max" { (super::page::count(max)) }
                @for (i, (label, value)) in points.iter().enumerate() {
                    @let h = (*value).max(0) as f64 / max as f64 * (HEIGHT - 2.0 * PAD);
                    @let x = PAD + i as f64 * slot + (slot - bar) / 2.0;
                    rect x=(fmt(x)) y=(fmt(HEIGHT - PAD - h)) width=(fmt(bar)) height=(fmt(h)) class="bar" {
                        title { (label) ": " (super::page::count(*value)) }
                    }
                }
                @if let (Some(first), Some(last)) = (points.first(), points.last()) {
                    text x=(PAD) y=(HEIGHT - 6.0) class="label" { (first.0) }
                    text x=(WIDTH - PAD) y=(HEIGHT - 6.0) class="label end" { (last.0) }
                }
            }
            figcaption { (title) }
        }
    }
}

fn fmt(x: f64) -> String {
    format!("{x:.1}")
}
