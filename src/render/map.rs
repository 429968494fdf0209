//! Printed maps: an SVG in Web Mercator with the basemap's streets drawn
//! and named, the caller's own marks over them, then north and a scale
//! bar. Drawn on the server as text, so a PDF of it keeps the street names
//! as text and needs no WebGL. Used by the exercise pack and the licensing
//! report.

use std::fmt::Write as _;

use crate::gazetteer::Road;
use crate::pack::{esc, Lang};

/// Street labels placed at most, and the least distance between two.
const MOST_LABELS: usize = 30;
const LABEL_GAP: f64 = 60.0;

/// Web Mercator: longitude and latitude (degrees) to x and y (radians).
fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    let y = (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
        .tan()
        .ln();
    (lon.to_radians(), y)
}

fn latitude(y: f64) -> f64 {
    (2.0 * y.exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees()
}

/// `bbox` (`[west, south, east, north]`) widened to the shape of a map
/// `size` units wide and high, so what is drawn fills it.
pub fn fitted(bbox: [f64; 4], size: (f64, f64)) -> [f64; 4] {
    let (mut x0, mut y0) = mercator(bbox[0], bbox[1]);
    let (mut x1, mut y1) = mercator(bbox[2], bbox[3]);
    let (w, h) = size;
    if (x1 - x0) * h < (y1 - y0) * w {
        let grow = ((y1 - y0) * w / h - (x1 - x0)) / 2.0;
        (x0, x1) = (x0 - grow, x1 + grow);
    } else {
        let grow = ((x1 - x0) * h / w - (y1 - y0)) / 2.0;
        (y0, y1) = (y0 - grow, y1 + grow);
    }
    [x0.to_degrees(), latitude(y0), x1.to_degrees(), latitude(y1)]
}

/// A printed map being drawn.
pub struct PrintMap {
    origin: (f64, f64),
    span: f64,
    size: (f64, f64),
    svg: String,
}

impl PrintMap {
    /// A map of `bbox` (as [`fitted`] gives it) `size` units across, with
    /// `label` for screen readers.
    pub fn new(bbox: [f64; 4], size: (f64, f64), label: &str) -> PrintMap {
        let (x0, y0) = mercator(bbox[0], bbox[1]);
        let (x1, y1) = mercator(bbox[2], bbox[3]);
        let span = ((x1 - x0) / size.0).max((y1 - y0) / size.1).max(1e-12);
        let (w, h) = size;
        let svg = format!(
            "<svg class=\"map\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\"><defs><clipPath id=\"map-clip\"><rect width=\"{w}\" height=\"{h}\"/></clipPath></defs><g clip-path=\"url(#map-clip)\">",
            esc(label)
        );
        PrintMap {
            origin: (x0, y1),
            span,
            size,
            svg,
        }
    }

    /// Where a position falls on the map, in its units from the top left.
    pub fn at(&self, lon: f64, lat: f64) -> (f64, f64) {
        let (x, y) = mercator(lon, lat);
        (
            (x - self.origin.0) / self.span,
            (self.origin.1 - y) / self.span,
        )
    }

    /// An SVG path through `points` (`[lon, lat]`), closed if asked.
    pub fn path<P: AsRef<[f64]>>(&self, points: &[P], close: bool) -> String {
        let mut d = String::new();
        for (i, p) in points
            .iter()
            .map(AsRef::as_ref)
            .filter(|p| p.len() >= 2)
            .enumerate()
        {
            let (x, y) = self.at(p[0], p[1]);
            let _ = write!(d, "{}{x:.1},{y:.1} ", if i == 0 { "M" } else { "L" });
        }
        if close {
            d.push('Z');
        }
        d
    }

    /// Adds SVG drawn by the caller.
    pub fn push(&mut self, svg: &str) {
        self.svg.push_str(svg);
    }

    /// Draws the roads: minor first, major over them, as on the screen's basemap.
    pub fn roads(&mut self, roads: &[Road]) {
        for major in [false, true] {
            let (colour, width) = if major {
                ("#e3a857", 4.0)
            } else {
                ("#b9b9b9", 1.6)
            };
            let d: String = roads
                .iter()
                .filter(|r| r.major == major)
                .flat_map(|r| r.lines.iter().map(|l| self.path(l, false)))
                .collect();
            if !d.is_empty() {
                let _ = write!(self.svg, "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\" stroke-linecap=\"round\" stroke-linejoin=\"round\"/>");
            }
        }
    }

    /// Names the streets: one label per name, at the middle of its longest
    /// piece in view, longest first, never on another, clear of the edges,
    /// north and the scale bar.
    pub fn street_names(&mut self, roads: &[Road]) {
        let (w, h) = self.size;
        let mut pieces: Vec<(f64, (f64, f64), &str)> = Vec::new();
        for road in roads {
            let Some(name) = &road.name else { continue };
            for points in &road.lines {
                let px: Vec<(f64, f64)> = points.iter().map(|p| self.at(p[0], p[1])).collect();
                let length: f64 = px
                    .windows(2)
                    .map(|s| (s[1].0 - s[0].0).hypot(s[1].1 - s[0].1))
                    .sum();
                let (x, y) = px[px.len() / 2];
                let clear = (70.0..w - 70.0).contains(&x)
                    && (16.0..h - 16.0).contains(&y)
                    && !(x > w - 110.0 && y < 70.0)
                    && !(x < 150.0 && y > h - 40.0);
                if clear && length >= 40.0 {
                    pieces.push((length, (x, y), name));
                }
            }
        }
        pieces.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut placed: Vec<((f64, f64), &str)> = Vec::new();
        for (_, (x, y), name) in pieces {
            let taken = placed
                .iter()
                .any(|(p, n)| *n == name || (p.0 - x).hypot(p.1 - y) < LABEL_GAP);
            if placed.len() >= MOST_LABELS || taken {
                continue;
            }
            let _ = write!(
                self.svg,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" class=\"street\" text-anchor=\"middle\">{}</text>",
                esc(name)
            );
            placed.push(((x, y), name));
        }
    }

    /// Closes the map with north and a scale bar of a round length about a
    /// fifth of its width.
    pub fn finish(mut self, lang: Lang) -> String {
        let (w, h) = self.size;
        self.svg.push_str("</g>");
        let _ = write!(
            self.svg,
            "<g class=\"north\"><path d=\"M{nx},18 l8,22 l-8,-6 l-8,6 Z\" fill=\"#111\"/><text x=\"{nx}\" y=\"54\" text-anchor=\"middle\">{}</text></g>",
            lang.pick("N", "G"),
            nx = w - 24.0
        );
        let centre = latitude(self.origin.1 - self.span * h / 2.0);
        let metres_per_unit = self.span * 6_378_137.0 * centre.to_radians().cos();
        if metres_per_unit.is_finite() && metres_per_unit > 0.0 {
            let target = metres_per_unit * w / 5.0;
            let step = [1.0, 2.0, 5.0]
                .iter()
                .flat_map(|m| [1.0, 10.0, 100.0, 1000.0, 10000.0].map(|p| m * p))
                .filter(|&v| v <= target * (1.0 + 1e-9))
                .fold(1.0, f64::max);
            let length = step / metres_per_unit;
            let words = if step >= 1000.0 {
                format!("{} km", step / 1000.0)
            } else {
                format!("{step} m")
            };
            let _ = write!(
                self.svg,
                "<g class=\"scale\"><rect x=\"12\" y=\"{:.1}\" width=\"{length:.1}\" height=\"6\" fill=\"#111\"/><text x=\"{:.1}\" y=\"{:.1}\">{words}</text></g>",
                h - 20.0,
                length + 18.0,
                h - 13.0
            );
        }
        self.svg.push_str("</svg>");
        self.svg
    }
}

/// The line under a printed map naming whose streets they are (none when
/// no streets were drawn).
pub fn attribution(lang: Lang, roads: &[Road], attribution: &str) -> String {
    if roads.is_empty() {
        return String::new();
    }
    format!(
        "<p class=\"attribution\">{} {}</p>",
        lang.pick("Streets:", "Strydoedd:"),
        esc(attribution)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fitted_box_has_the_maps_shape_and_holds_the_box_asked_for() {
        let asked = [-3.008, 51.5826, -2.9968, 51.5935];
        let f = fitted(asked, (800.0, 520.0));
        let e = 1e-9;
        assert!(
            f[0] <= asked[0] + e
                && f[1] <= asked[1] + e
                && f[2] >= asked[2] - e
                && f[3] >= asked[3] - e,
            "{f:?}"
        );
        let map = PrintMap::new(f, (800.0, 520.0), "");
        let (x0, y0) = map.at(f[0], f[3]);
        let (x1, y1) = map.at(f[2], f[1]);
        assert!(
            x0.abs() < 0.5
                && y0.abs() < 0.5
                && (x1 - 800.0).abs() < 0.5
                && (y1 - 520.0).abs() < 0.5,
            "{x0} {y0} {x1} {y1}"
        );
    }

    #[test]
    fn the_scale_bar_is_as_long_as_it_says() {
        // 1 km across at 51.59° N: a bar of 200 m is a fifth of 800 units.
        let lat = 51.59f64;
        let east = 1000.0 / (6_378_137.0 * lat.to_radians().cos()) * 180.0 / std::f64::consts::PI;
        let bbox = fitted(
            [-3.0, lat - 0.001, -3.0 + east, lat + 0.001],
            (800.0, 520.0),
        );
        let svg = PrintMap::new(bbox, (800.0, 520.0), "").finish(Lang::En);
        assert!(
            svg.contains("width=\"160.0\"") && svg.contains(">200 m<"),
            "{svg}"
        );
    }
}
