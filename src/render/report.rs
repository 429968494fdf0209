//! Report pages: the printable licensing consultation report.

use std::fmt::Write as _;

use crate::domain::vocabulary::PlaceKind;
use crate::pack::{band_table, count_text, esc, Lang};

/// The printable report.
pub fn licensing_page(report: &serde_json::Value, lang: Lang, printed: &str) -> String {
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
    let subject = if place.is_null() {
        format!(
            "{} {:.5}, {:.5}",
            t("Proposed premises at", "Safle arfaethedig yn"),
            report["centre"][0].as_f64().unwrap_or(0.0),
            report["centre"][1].as_f64().unwrap_or(0.0)
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
        report["period"]["from"]
            .as_str()
            .unwrap_or("")
            .get(..10)
            .unwrap_or(""),
        report["period"]["to"]
            .as_str()
            .unwrap_or("")
            .get(..10)
            .unwrap_or(""),
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
                esc(m["month"].as_str().unwrap_or(""))
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
        "<p class=\"printed\">{} {}</p></main></body></html>",
        t("Printed", "Argraffwyd"),
        esc(printed)
    );
    out
}
