//! Report pages: the printable licensing consultation report.

use std::fmt::Write as _;

use crate::domain::vocabulary::PlaceKind;
use crate::pack::{band_table, count_text, esc, Lang, Streets};
use crate::render::map::{attribution, fitted, PrintMap};

/// The report map's drawing size, in SVG units.
const MAP_SIZE: (f64, f64) = (800.0, 520.0);

/// The site, the report's rings around it and the streets, on a map a
/// little wider than the outer ring.
fn site_map(centre: [f64; 2], radii: &[f64], lang: Lang, streets: Streets<'_>) -> String {
    let outer = radii.iter().copied().fold(250.0, f64::max) * 1.25;
    // Metres to degrees near the site (exact enough at a street's scale).
    let dlat = outer / 111_320.0;
    let dlon = dlat / centre[1].to_radians().cos();
    let bbox = fitted(
        [
            centre[0] - dlon,
            centre[1] - dlat,
            centre[0] + dlon,
            centre[1] + dlat,
        ],
        MAP_SIZE,
    );
    let mut map = PrintMap::new(
        bbox,
        MAP_SIZE,
        lang.pick("Map of the site, the rings the report counts within, and the streets around", "Map o'r safle, y cylchoedd y mae'r adroddiad yn cyfrif o'u mewn, a'r strydoedd o gwmpas"),
    );
    map.roads(streets.roads);
    map.street_names(streets.roads);
    for &metres in radii {
        let ring: Vec<[f64; 2]> = (0..=72)
            .map(|i| {
                let a = f64::from(i) * std::f64::consts::TAU / 72.0;
                let north = metres * a.cos() / 111_320.0;
                let east = metres * a.sin() / (111_320.0 * centre[1].to_radians().cos());
                [centre[0] + east, centre[1] + north]
            })
            .collect();
        let d = map.path(&ring, true);
        let (x, y) = map.at(centre[0], centre[1] + metres / 111_320.0);
        map.push(&format!(r##"<path d="{d}" fill="none" stroke="#1b3a6b" stroke-width="2" stroke-dasharray="10 5"/><text x="{x:.1}" y="{:.1}" class="label" text-anchor="middle">{metres:.0} m</text>"##, y - 5.0));
    }
    let (x, y) = map.at(centre[0], centre[1]);
    map.push(&format!(
        r##"<path d="M{x:.1},{:.1} l9,16 h-18 Z" fill="#b2182b" stroke="#fff" stroke-width="1.5"/><text x="{:.1}" y="{:.1}" class="label">{}</text>"##,
        y - 11.0,
        x + 12.0,
        y + 4.0,
        lang.pick("Site", "Safle")
    ));
    let mut out = map.finish(lang);
    out.push_str(&attribution(lang, streets.roads, streets.attribution));
    out
}

/// The printable report.
pub fn licensing_page(
    report: &serde_json::Value,
    lang: Lang,
    printed: &str,
    streets: Streets<'_>,
) -> String {
    let t = |en, cy| lang.pick(en, cy);
    let name = |v: &serde_json::Value| {
        v[if lang == Lang::Cy {
            "name_cy"
        } else {
            "name_en"
        }]
        .as_str()
        .unwrap_or("")
        .to_owned()
    };
    let mut out = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><link rel=\"stylesheet\" href=\"/pack.css\"></head><body><main class=\"pack\">",
        if lang == Lang::Cy { "cy" } else { "en" },
        t("Licensing consultation report", "Adroddiad ymgynghori trwyddedu")
    );
    let _ = write!(
        out,
        "<h1>{}</h1>",
        t(
            "Licensing consultation report",
            "Adroddiad ymgynghori trwyddedu"
        )
    );
    let place = &report["place"];
    let centre = [
        report["centre"][0].as_f64().unwrap_or(0.0),
        report["centre"][1].as_f64().unwrap_or(0.0),
    ];
    let subject = if place.is_null() {
        // Written as everywhere else in the app: the 100 m grid reference.
        let reference = crate::bng::to_grid(centre[0], centre[1])
            .and_then(|g| g.hundred_metres())
            .unwrap_or_default();
        format!(
            "{} {} {reference}",
            t("Proposed premises at", "Safle arfaethedig yn"),
            t("grid reference", "cyfeirnod grid"),
        )
    } else {
        let kind = place["kind"]
            .as_str()
            .and_then(PlaceKind::from_code)
            .map_or("", |k| lang.label(k.label()));
        format!(
            "{} ({kind}{})",
            name(place),
            place["licence_reference"]
                .as_str()
                .map(|l| format!(", {l}"))
                .unwrap_or_default()
        )
    };
    let _ = write!(
        out,
        "<dl class=\"facts\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{} – {}</dd></dl><p>{}</p><p>{}</p>",
        t("Premises", "Safle"),
        esc(&subject),
        t("Period", "Cyfnod"),
        esc(&lang.date(report["period"]["from"].as_str().unwrap_or(""))),
        esc(&lang.date(report["period"]["to"].as_str().unwrap_or(""))),
        esc(report[if lang == Lang::Cy {
            "centre_note_cy"
        } else {
            "centre_note"
        }]
        .as_str()
        .unwrap_or("")),
        esc(report[if lang == Lang::Cy {
            "restricted_note_cy"
        } else {
            "restricted_note"
        }]
        .as_str()
        .unwrap_or("")),
    );
    let radii: Vec<f64> = report["radii"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["metres"].as_f64())
        .collect();
    let _ = write!(
        out,
        "<p class=\"no-print\"><button type=\"button\" data-print>{}</button></p><section><h2>{}</h2>{}</section>",
        t("Print this report", "Argraffu'r adroddiad hwn"),
        t("Map", "Map"),
        site_map(centre, &radii, lang, streets)
    );
    for radius in report["radii"].as_array().into_iter().flatten() {
        let metres = radius["metres"].as_f64().unwrap_or(0.0);
        let _ = write!(
            out,
            "<section><h2>{} {metres:.0} m</h2><p>{}: {}</p>",
            t("Within", "O fewn"),
            t("In all", "Cyfanswm"),
            esc(&count_text(lang, &radius["total"]))
        );
        let cells = radius["by_category_band"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        out.push_str(&band_table(lang, &cells));
        let _ = write!(
            out,
            "<h3>{}</h3><table><thead><tr>",
            t("By month", "Yn ôl mis")
        );
        let months = radius["by_month"].as_array().cloned().unwrap_or_default();
        for m in &months {
            let _ = write!(
                out,
                "<th scope=\"col\">{}</th>",
                esc(&lang.month(m["month"].as_str().unwrap_or("")))
            );
        }
        out.push_str("</tr></thead><tbody><tr>");
        for m in &months {
            let _ = write!(out, "<td>{}</td>", esc(&count_text(lang, m)));
        }
        out.push_str("</tr></tbody></table></section>");
    }
    for (key, en, cy) in [
        (
            "nearby_places",
            "Places within 500 m",
            "Lleoedd o fewn 500 m",
        ),
        (
            "safe_places",
            "Safe places within 500 m",
            "Mannau diogel o fewn 500 m",
        ),
    ] {
        let _ = write!(out, "<section><h2>{}</h2><ul>", t(en, cy));
        let list = report[key].as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            let _ = write!(
                out,
                "<li>{}</li>",
                t("None on the register", "Dim ar y gofrestr")
            );
        }
        for p in list {
            let _ = write!(
                out,
                "<li>{} — {:.0} m</li>",
                esc(&name(&p)),
                p["distance_m"].as_f64().unwrap_or(0.0)
            );
        }
        out.push_str("</ul></section>");
    }
    let _ = write!(
        out,
        "<p class=\"printed\">{} {}</p></main><script src=\"/js/print-page.js\"></script></body></html>",
        t("Printed", "Argraffwyd"),
        esc(printed)
    );
    out
}
