//! Exercise packs: a printable page (and a PDF of it, printed by headless
//! Chromium) and a GeoJSON bundle, both made from an exercise's view alone,
//! so a frozen exercise's pack never changes except for its print date and
//! records erased since, which show as such without content.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::domain::vocabulary::{ActionStatus, Category, ExerciseKind, TimeBand};
use crate::exercise::ExerciseView;

/// The pack's stylesheet, served as `/pack.css` and inlined into the page
/// Chromium prints (which it reads from a file, with no server to ask).
pub const PACK_CSS: &str = include_str!("../web/pack.css");

/// The language a pack is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Welsh.
    Cy,
}

impl Lang {
    /// From a `lang` parameter.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "cy" => Some(Lang::Cy),
            _ => None,
        }
    }

    pub(crate) fn pick<'a>(self, en: &'a str, cy: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Cy => cy,
        }
    }

    pub(crate) fn label(self, label: crate::domain::vocabulary::Label) -> &'static str {
        self.pick(label.en, label.cy)
    }

    /// A month ("2025-12") as a table heading: "Dec 2025", "Rhag 2025";
    /// text that is no month stays as it is.
    pub fn month(self, text: &str) -> String {
        const SHORT: [(&str, &str); 12] = [
            ("Jan", "Ion"),
            ("Feb", "Chwef"),
            ("Mar", "Maw"),
            ("Apr", "Ebr"),
            ("May", "Mai"),
            ("Jun", "Meh"),
            ("Jul", "Gorff"),
            ("Aug", "Awst"),
            ("Sep", "Medi"),
            ("Oct", "Hyd"),
            ("Nov", "Tach"),
            ("Dec", "Rhag"),
        ];
        let parsed = text
            .split_once('-')
            .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<usize>().ok()?)));
        match parsed {
            Some((year, m)) if (1..=12).contains(&m) => {
                let (en, cy) = SHORT[m - 1];
                format!("{} {year}", self.pick(en, cy))
            }
            _ => text.to_owned(),
        }
    }

    /// A date as people in the UK write it, in this language ("6 December
    /// 2026", "6 Rhagfyr 2026"); text that is no date stays as it is.
    pub fn date(self, text: &str) -> String {
        const MONTHS: [(&str, &str); 12] = [
            ("January", "Ionawr"),
            ("February", "Chwefror"),
            ("March", "Mawrth"),
            ("April", "Ebrill"),
            ("May", "Mai"),
            ("June", "Mehefin"),
            ("July", "Gorffennaf"),
            ("August", "Awst"),
            ("September", "Medi"),
            ("October", "Hydref"),
            ("November", "Tachwedd"),
            ("December", "Rhagfyr"),
        ];
        let day = text.get(..10).unwrap_or(text);
        match chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            Ok(d) => {
                let (en, cy) = MONTHS[chrono::Datelike::month0(&d) as usize];
                format!(
                    "{} {} {}",
                    chrono::Datelike::day(&d),
                    self.pick(en, cy),
                    chrono::Datelike::year(&d)
                )
            }
            Err(_) => text.to_owned(),
        }
    }
}

/// How the page gets its styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Styles {
    /// `<link>` to `/pack.css` (served pages: the CSP allows no inline styles).
    Linked,
    /// Inline (the file Chromium prints).
    Inline,
}

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn category(lang: Lang, code: &str) -> String {
    Category::from_code(code).map_or_else(|| code.to_owned(), |c| lang.label(c.label()).to_owned())
}

/// A distinct colour per category (with a letter, so colour is not the
/// only cue in print).
fn colour(code: &str) -> &'static str {
    const PALETTE: [&str; 8] = [
        "#b2182b", "#d6604d", "#762a83", "#2166ac", "#1b7837", "#8c510a", "#01665e", "#4d4d4d",
    ];
    let i = Category::from_code(code).map_or(0, |c| usize::from(c.index()));
    PALETTE[i % PALETTE.len()]
}

/// The map's drawing size, in SVG units.
const MAP_SIZE: (f64, f64) = (800.0, 520.0);

/// The box `[west, south, east, north]` a pack's map covers: its area's,
/// widened by a tenth on each side (so streets around the edge show) and
/// then to the map's shape, so the streets fill it.
pub fn map_bbox(view: &ExerciseView) -> Option<[f64; 4]> {
    let geometry = geojson::Geometry::from_json_value(view.area.geometry.clone()).ok()?;
    let shape = crate::domain::area::multipolygon(&geometry)?;
    let rect = geo::BoundingRect::bounding_rect(&shape)?;
    let (dx, dy) = (rect.width() / 10.0, rect.height() / 10.0);
    Some(crate::render::map::fitted(
        [
            rect.min().x - dx,
            rect.min().y - dy,
            rect.max().x + dx,
            rect.max().y + dy,
        ],
        MAP_SIZE,
    ))
}

/// The basemap drawn under a printed map: its roads and their data's
/// attribution (no roads when no basemap file is served).
#[derive(Debug, Clone, Copy, Default)]
pub struct Streets<'a> {
    /// The roads over the map.
    pub roads: &'a [crate::gazetteer::Road],
    /// Whose data they are.
    pub attribution: &'a str,
}

/// The map: the streets, the area, the observations (numbered as in the
/// table) and the annotations, with north, a scale bar and a legend.
fn map_svg(view: &ExerciseView, lang: Lang, streets: Streets<'_>) -> String {
    let geometry = geojson::Geometry::from_json_value(view.area.geometry.clone()).ok();
    let Some(bbox) = map_bbox(view) else {
        return String::new();
    };
    let mut map = crate::render::map::PrintMap::new(
        bbox,
        MAP_SIZE,
        lang.pick(
            "Map of the area, its streets, its observations numbered as in the table, and the panel's annotations",
            "Map o'r ardal, ei strydoedd, ei harsylwadau wedi'u rhifo fel yn y tabl, ac anodiadau'r panel",
        ),
    );
    let polygons: Vec<Vec<Vec<Vec<f64>>>> = match geometry.as_ref().map(|g| g.value.clone()) {
        Some(geojson::Value::Polygon(p)) => vec![p],
        Some(geojson::Value::MultiPolygon(m)) => m,
        _ => Vec::new(),
    };
    let area: Vec<String> = polygons
        .iter()
        .map(|polygon| polygon.iter().map(|ring| map.path(ring, true)).collect())
        .collect();
    for d in &area {
        map.push(&format!(
            "<path d=\"{d}\" fill=\"#f2f2ea\" fill-rule=\"evenodd\"/>"
        ));
    }
    map.roads(streets.roads);
    for d in &area {
        map.push(&format!(
            "<path d=\"{d}\" fill=\"none\" stroke=\"#333\" stroke-width=\"2.5\"/>"
        ));
    }
    map.street_names(streets.roads);
    for a in &view.annotations {
        let Ok(g) = geojson::Geometry::from_json_value(a.geometry.clone()) else {
            continue;
        };
        match g.value {
            geojson::Value::Point(p) if p.len() >= 2 => {
                let (x, y) = map.at(p[0], p[1]);
                map.push(&format!("<rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"#ffd400\" stroke=\"#000\"/>", x - 6.0, y - 6.0));
            }
            geojson::Value::LineString(l) => {
                let d = map.path(&l, false);
                map.push(&format!("<path d=\"{d}\" fill=\"none\" stroke=\"#000\" stroke-width=\"3\" stroke-dasharray=\"8 4\"/>"));
            }
            geojson::Value::Polygon(rings) => {
                let d: String = rings.iter().map(|r| map.path(r, true)).collect();
                map.push(&format!("<path d=\"{d}\" fill=\"#ffd400\" fill-opacity=\"0.3\" stroke=\"#000\" stroke-width=\"2\"/>"));
            }
            _ => {}
        }
        if let Some(c) = first_position(&a.geometry) {
            let (x, y) = map.at(c[0], c[1]);
            map.push(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"label\">A{}</text>",
                x + 8.0,
                y - 8.0,
                a.id
            ));
        }
    }
    // Each observation numbered as its row in the table.
    for i in &view.items {
        if let Some(item) = &i.item {
            let (x, y) = map.at(item.lon, item.lat);
            map.push(&format!(
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"1.5\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"number\">{}</text>",
                colour(&item.category),
                x + 7.0,
                y + 4.0,
                i.id
            ));
        }
    }
    let mut svg = map.finish(lang);
    // The legend: the categories shown, the panel's notes, and whose streets.
    let mut shown: Vec<&str> = view
        .items
        .iter()
        .filter_map(|i| i.item.as_ref().map(|item| item.category.as_str()))
        .collect();
    shown.sort_unstable();
    shown.dedup();
    svg.push_str("<ul class=\"map-legend\">");
    for code in shown {
        let _ = write!(
            svg,
            "<li><svg width=\"12\" height=\"12\" aria-hidden=\"true\"><circle cx=\"6\" cy=\"6\" r=\"5\" fill=\"{}\"/></svg> {}</li>",
            colour(code),
            esc(&category(lang, code))
        );
    }
    let _ = write!(
        svg,
        "<li><svg width=\"12\" height=\"12\" aria-hidden=\"true\"><rect width=\"11\" height=\"11\" fill=\"#ffd400\" stroke=\"#000\"/></svg> {}</li></ul>",
        lang.pick("The panel's notes (A1, A2 …); numbers are the table's", "Nodiadau'r panel (A1, A2 …); rhifau'r tabl yw'r rhifau")
    );
    svg.push_str(&crate::render::map::attribution(
        lang,
        streets.roads,
        streets.attribution,
    ));
    svg
}

fn first_position(geometry: &serde_json::Value) -> Option<Vec<f64>> {
    let mut v = geometry.get("coordinates")?;
    while v.get(0)?.is_array() {
        v = v.get(0)?;
    }
    v.as_array()?.iter().map(|n| n.as_f64()).collect()
}

pub(crate) fn count_text(lang: Lang, cell: &serde_json::Value) -> String {
    match cell.get("count").and_then(|c| c.as_u64()) {
        Some(n) => n.to_string(),
        None => {
            let key = if lang == Lang::Cy {
                "count_label_cy"
            } else {
                "count_label"
            };
            cell.get(key)
                .and_then(|l| l.as_str())
                .unwrap_or("—")
                .to_owned()
        }
    }
}

/// Counts by category (rows) and time band (columns), as HTML; `cells`
/// are `{category, band, count, count_label, …}`, withheld counts in words.
pub(crate) fn band_table(lang: Lang, cells: &[serde_json::Value]) -> String {
    let mut out = format!(
        "<table><thead><tr><th scope=\"col\">{}</th>",
        lang.pick("Category", "Categori")
    );
    for band in TimeBand::ALL {
        let _ = write!(
            out,
            "<th scope=\"col\">{}</th>",
            esc(lang.label(band.label()))
        );
    }
    out.push_str("</tr></thead><tbody>");
    let mut categories: Vec<&str> = cells
        .iter()
        .filter_map(|c| c["category"].as_str())
        .collect();
    categories.dedup();
    for c in categories {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th>",
            esc(&category(lang, c))
        );
        for band in TimeBand::ALL {
            let cell = cells
                .iter()
                .find(|x| x["category"] == c && x["band"] == band.code());
            let count = cell.map_or_else(|| "0".to_owned(), |x| esc(&count_text(lang, x)));
            let _ = write!(out, "<td>{count}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// The printable page. `printed` is the only text that differs between
/// two packs of the same frozen exercise.
pub fn html(
    view: &ExerciseView,
    lang: Lang,
    printed: &str,
    styles: Styles,
    streets: Streets<'_>,
) -> String {
    let t = |en, cy| lang.pick(en, cy);
    let mut out = String::new();
    let title = format!(
        "{} — {}",
        t("Exercise pack", "Pecyn ymarfer"),
        view.exercise.title
    );
    let _ = write!(
        out,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title>",
        if lang == Lang::Cy { "cy" } else { "en" },
        esc(&title)
    );
    match styles {
        Styles::Linked => out.push_str("<link rel=\"stylesheet\" href=\"/pack.css\">"),
        Styles::Inline => {
            let _ = write!(out, "<style>{PACK_CSS}</style>");
        }
    }
    out.push_str("</head><body><main class=\"pack\">");
    // The served page prints from a button (the PDF is already printed).
    if styles == Styles::Linked {
        let _ = write!(
            out,
            "<p class=\"no-print\"><button type=\"button\" data-print>{}</button></p>",
            t("Print this pack", "Argraffu'r pecyn hwn")
        );
    }
    let kind = ExerciseKind::from_code(&view.exercise.kind)
        .map_or(view.exercise.kind.as_str(), |k| lang.label(k.label()));
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"kind\">{}</p>",
        esc(&view.exercise.title),
        esc(kind)
    );
    let area = lang.pick(&view.area.name_en, &view.area.name_cy);
    let agencies: Vec<&str> = view
        .agencies
        .iter()
        .map(|a| lang.pick(&a.name_en, &a.name_cy))
        .collect();
    let _ = write!(
        out,
        "<dl class=\"facts\"><dt>{}</dt><dd>{} ({})</dd><dt>{}</dt><dd>{} – {}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
        t("Area", "Ardal"), esc(area), esc(&view.area.code),
        t("Observed between", "Arsylwyd rhwng"), esc(&lang.date(&view.exercise.from)), esc(&lang.date(&view.exercise.to)),
        t("Agencies", "Asiantaethau"), esc(&agencies.join(", ")),
        t("Facilitator", "Hwylusydd"), esc(&view.exercise.facilitator),
        t("Frozen", "Wedi'i rewi"), view.exercise.frozen_at.as_deref().map_or_else(|| t("not yet", "ddim eto").to_owned(), |f| esc(&lang.date(f))),
    );
    let _ = write!(
        out,
        "<section><h2>{}</h2>{}</section>",
        t("Map", "Map"),
        map_svg(view, lang, streets)
    );

    // Counts by category and time band.
    let _ = write!(
        out,
        "<section><h2>{}</h2><p>{}: {}</p>",
        t(
            "Observations by category and time of day",
            "Arsylwadau yn ôl categori ac amser o'r dydd"
        ),
        t("In all", "Cyfanswm"),
        esc(&count_text(lang, &view.total))
    );
    out.push_str(&band_table(lang, &view.counts));
    out.push_str("</section>");

    // What changed.
    let ch = &view.changes;
    let _ = write!(
        out,
        "<section><h2>{}</h2>",
        t(
            "Changes since the previous exercise on this area",
            "Newidiadau ers yr ymarfer blaenorol ar yr ardal hon"
        )
    );
    match ch.previous_id {
        None => {
            let _ = write!(
                out,
                "<p>{}</p>",
                t(
                    "This is the first exercise on this area.",
                    "Dyma'r ymarfer cyntaf ar yr ardal hon."
                )
            );
        }
        Some(p) => {
            let _ = write!(
                out,
                "<ul class=\"changes\"><li>{} #{p}</li>",
                t("Compared with exercise", "O'i gymharu ag ymarfer")
            );
            for (en, cy, ids) in [
                ("New", "Newydd", &ch.new),
                ("Updated", "Wedi'u diweddaru", &ch.updated),
                ("Closed", "Wedi'u cau", &ch.closed),
                ("Erased", "Wedi'u dileu", &ch.erased),
                ("No longer in scope", "Ddim mewn cwmpas mwyach", &ch.left),
            ] {
                let _ = write!(out, "<li>{}: {}</li>", t(en, cy), ids.len());
            }
            out.push_str("</ul>");
        }
    }
    out.push_str("</section>");

    // The observations themselves.
    let _ = write!(out, "<section><h2>{}</h2><table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        t("Observations in scope", "Arsylwadau mewn cwmpas"), t("Observed", "Arsylwyd"), t("Category", "Categori"), t("Status", "Statws"), t("Position", "Safle"));
    for i in &view.items {
        match &i.item {
            Some(item) => {
                let status = crate::domain::vocabulary::Status::from_code(&item.status)
                    .map_or(item.status.as_str(), |s| lang.label(s.label()));
                let precision = if item.precision == "exact" {
                    t("exact", "union")
                } else {
                    t("100 m square", "sgwâr 100 m")
                };
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    i.id,
                    esc(&lang.date(&item.observed_at)),
                    esc(&category(lang, &item.category)),
                    esc(status),
                    precision
                );
            }
            None => {
                let _ = write!(
                    out,
                    "<tr class=\"erased\"><td>{}</td><td colspan=\"4\">{}</td></tr>",
                    i.id,
                    t("erased since", "dilëwyd ers hynny")
                );
            }
        }
    }
    out.push_str("</tbody></table></section>");

    // Annotations, decisions, actions.
    let _ = write!(
        out,
        "<section><h2>{}</h2><ol class=\"annotations\">",
        t("Annotations", "Anodiadau")
    );
    for a in &view.annotations {
        let _ = write!(out, "<li>A{}: {}</li>", a.id, esc(&a.note));
    }
    let _ = write!(
        out,
        "</ol></section><section><h2>{}</h2><ol>",
        t("Decisions", "Penderfyniadau")
    );
    for d in &view.decisions {
        let _ = write!(out, "<li>{}</li>", esc(&d.text));
    }
    let _ = write!(out, "</ol></section><section><h2>{}</h2><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        t("Actions", "Camau gweithredu"), t("What", "Beth"), t("Owner", "Perchennog"), t("Due", "Erbyn"), t("Status", "Statws"), t("Linked to", "Yn gysylltiedig â"));
    for a in &view.actions {
        let owner = view
            .agencies
            .iter()
            .find(|g| g.code == a.owner_agency)
            .map_or(a.owner_agency.as_str(), |g| {
                lang.pick(&g.name_en, &g.name_cy)
            });
        let status =
            ActionStatus::from_code(&a.status).map_or(a.status.as_str(), |s| lang.label(s.label()));
        let mut links = Vec::new();
        if let Some(p) = a.place_id {
            links.push(format!("{} #{p}", t("place", "lle")));
        }
        if let Some(p) = a.area_id {
            links.push(format!("{} #{p}", t("area", "ardal")));
        }
        if let Some(p) = a.annotation_id {
            links.push(format!("A{p}"));
        }
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.what),
            esc(owner),
            esc(&lang.date(&a.due_on)),
            esc(status),
            esc(&links.join(", "))
        );
    }
    out.push_str("</tbody></table></section>");
    let _ = write!(
        out,
        "<section class=\"attribution\"><h2>{}</h2><ul>",
        t("Data and attribution", "Data a phriodoli")
    );
    for a in &view.attributions {
        let _ = write!(out, "<li>{}</li>", esc(a));
    }
    let _ = write!(
        out,
        "</ul><p>{}</p></section><p class=\"printed\">{} {}</p></main>{}</body></html>",
        t("Sensitive records are shown at 100 m; restricted records are not shown; counts below the small-count threshold are withheld.",
          "Dangosir cofnodion sensitif i 100 m; ni ddangosir cofnodion cyfyngedig; ataliwyd cyfrifon islaw'r trothwy."),
        t("Printed", "Argraffwyd"),
        esc(printed),
        if styles == Styles::Linked { "<script src=\"/js/print-page.js\"></script>" } else { "" }
    );
    out
}

/// The GeoJSON bundle: the area, the observations (erased ones without
/// geometry or content) and the annotations as features, and the rest of
/// the pack as members.
pub fn geojson(view: &ExerciseView) -> serde_json::Value {
    let mut features = vec![json!({
        "type": "Feature",
        "id": format!("area-{}", view.area.id),
        "geometry": view.area.geometry,
        "properties": {"layer": "area", "code": view.area.code, "kind": view.area.kind, "name_en": view.area.name_en, "name_cy": view.area.name_cy},
    })];
    for i in &view.items {
        features.push(match &i.item {
            Some(item) => json!({
                "type": "Feature",
                "id": format!("observation-{}", i.id),
                "geometry": {"type": "Point", "coordinates": [item.lon, item.lat]},
                "properties": {"layer": "observation", "id": i.id, "precision": item.precision, "category": item.category,
                    "severity": item.severity, "status": item.status, "setting": item.setting, "observed_at": item.observed_at, "band": item.band},
            }),
            None => json!({
                "type": "Feature",
                "id": format!("observation-{}", i.id),
                "geometry": null,
                "properties": {"layer": "observation", "id": i.id, "erased_since": true},
            }),
        });
    }
    for a in &view.annotations {
        features.push(json!({
            "type": "Feature",
            "id": format!("annotation-{}", a.id),
            "geometry": a.geometry,
            "properties": {"layer": "annotation", "id": a.id, "note": a.note},
        }));
    }
    json!({
        "type": "FeatureCollection",
        "features": features,
        "exercise": view.exercise,
        "agencies": view.agencies,
        "frozen": view.frozen,
        "counts": view.counts,
        "total": view.total,
        "changes": view.changes,
        "decisions": view.decisions,
        "actions": view.actions,
        "attributions": view.attributions,
    })
}

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// No Chromium to print with.
    #[error(
        "no Chromium found: install it (e.g. apt-get install chromium) or set SAFETYMAP_CHROMIUM"
    )]
    NoChromium,
    /// Chromium ran but made no PDF.
    #[error("Chromium did not print the pack: {0}")]
    Failed(String),
}

/// The Chromium to print with: `SAFETYMAP_CHROMIUM`, or the first of the
/// usual names on `PATH`.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SAFETYMAP_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|p| p.is_file())
}

/// Prints `html` to PDF with headless Chromium (blocking: run it on a
/// blocking thread). The page is written to a private temporary folder
/// that is removed afterwards.
pub fn pdf(html: &str) -> Result<Vec<u8>, PdfError> {
    let chromium = chromium().ok_or(PdfError::NoChromium)?;
    let dir = tempfile::Builder::new()
        .prefix("safetymap-pack-")
        .tempdir()
        .map_err(|e| PdfError::Failed(e.to_string()))?;
    let page = dir.path().join("pack.html");
    let out = dir.path().join("pack.pdf");
    std::fs::write(&page, html).map_err(|e| PdfError::Failed(e.to_string()))?;
    let mut child = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", out.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| PdfError::Failed(e.to_string()))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > Duration::from_secs(60) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PdfError::Failed("timed out after 60 s".into()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(PdfError::Failed(e.to_string())),
        }
    }
    std::fs::read(&out)
        .ok()
        .filter(|b| b.starts_with(b"%PDF"))
        .ok_or_else(|| PdfError::Failed("no PDF was written".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_people_in_the_uk_write_them_in_english_and_welsh() {
        assert_eq!(Lang::En.date("2026-12-06"), "6 December 2026");
        assert_eq!(Lang::Cy.date("2026-12-06T10:00:00Z"), "6 Rhagfyr 2026");
        assert_eq!(Lang::En.date("not a date"), "not a date");
        assert_eq!(Lang::En.month("2025-12"), "Dec 2025");
        assert_eq!(Lang::Cy.month("2026-02"), "Chwef 2026");
        assert_eq!(Lang::Cy.month("2026-13"), "2026-13");
    }
}
