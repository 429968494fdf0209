//! Licensing consultation reports: what is known around a premises (a
//! registered place, or a proposed point) before a licence decision.
//!
//! Counts within 250 m and 500 m over the last twelve months, by category
//! and time band and by month, and the places and safe places nearby.
//!
//! A report is computed from the records *as the reader is shown them*
//! (their scope): a generalised record counts at its square's centre, and a
//! record the reader may not see counts nowhere — the report says so, and
//! who to ask. A proposed point is snapped to the centre of its 100 m
//! National Grid square, so walking it millimetre by millimetre across a
//! circle's edge moves nothing: the circles only ever move in 100 m steps,
//! over positions the reader is shown anyway. Counts below the small-count
//! threshold are withheld from every role below coordinator. Producing a
//! report is recorded as a disclosure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Datelike as _;
use serde_json::json;

use super::problem::Problem;
use super::AppState;
use crate::analysis::grid::grid_position;
use crate::analysis::Suppression;
use crate::domain::observation::FieldError;
use crate::domain::time::{format_instant, from_unix_millis, uk_local, unix_millis};
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::{AuditAction, Category, PlaceKind, TimeBand};
use crate::index::LayerFilter;
use crate::pack::{band_table, count_text, esc, Lang};
use crate::privacy::Precision;
use crate::service::ServiceError;
use crate::store::AuditEntry;

/// The two radii, metres.
const RADII: [f64; 2] = [250.0, 500.0];

/// Which point the circles are drawn round, English and Welsh: a
/// registered place's own position, or a proposed point's square.
const CENTRE_NOTE: [[&str; 2]; 2] = [
    [
        "Distances are measured from the place's position on the register.",
        "Mesurir pellteroedd o safle'r lle ar y gofrestr.",
    ],
    [
        "Distances are measured from the centre of the 100 m National Grid square the proposed premises is in.",
        "Mesurir pellteroedd o ganol y sgwâr Grid Cenedlaethol 100 m y mae'r safle arfaethedig ynddo.",
    ],
];

/// `GET /api/reports/licensing?place=ID | lon=&lat= &format=json|html&lang=`.
pub async fn licensing(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let (mut place, mut lon, mut lat, mut html, mut lang) = (None, None, None, false, Lang::En);
    let number = |name: &str, value: &str| {
        value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| Problem::bad_parameter("invalid-number", name, "a number of degrees"))
    };
    for (name, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "place" => {
                place = Some(value.parse::<i64>().map_err(|_| {
                    Problem::bad_parameter("invalid-place", "place", "a place id from the register")
                })?)
            }
            "lon" => lon = Some(number("lon", &value)?),
            "lat" => lat = Some(number("lat", &value)?),
            "format" if matches!(value.as_ref(), "json" | "html") => html = value == "html",
            "format" => {
                return Err(Problem::bad_parameter(
                    "invalid-format",
                    "format",
                    "json or html",
                ))
            }
            "lang" => {
                lang = Lang::from_code(&value)
                    .ok_or_else(|| Problem::bad_parameter("invalid-lang", "lang", "en or cy"))?
            }
            other => return Err(Problem::unknown_parameter(other)),
        }
    }
    if !viewer.may_at_all(Action::LicensingReport) {
        return Err(ServiceError::Forbidden.into());
    }
    state
        .charge(&viewer, crate::service::budget::Kind::Report)
        .await?;
    let registered = match place {
        Some(id) => Some(
            state
                .store
                .place(id)
                .await?
                .ok_or_else(|| Problem::not_found().detail("no such place on the register"))?,
        ),
        None => None,
    };
    let (centre, used) = match (&registered, lon, lat) {
        (Some(p), _, _) => (
            [p.details.location.lon, p.details.location.lat],
            "place-register",
        ),
        (None, Some(lon), Some(lat)) => {
            let mut errors = Vec::new();
            let at = state.observations.rules().location(lon, lat, &mut errors);
            let Some(at) = at else {
                return Err(Problem::invalid(errors));
            };
            let snapped = crate::privacy::shown_position(Precision::Generalised, [at.lon, at.lat])
                .ok_or_else(|| {
                    Problem::invalid(vec![FieldError::new(
                        "lon",
                        "outside-service-area",
                        "outside the National Grid",
                    )])
                })?;
            (snapped, "bng-100m-square-centre")
        }
        _ => {
            return Err(Problem::invalid(vec![FieldError::new(
                "place",
                "missing-field",
                "give a registered place, or lon and lat for a proposed premises",
            )]))
        }
    };
    let Some(origin) = grid_position(centre) else {
        return Err(Problem::invalid(vec![FieldError::new(
            "lon",
            "outside-service-area",
            "outside the National Grid",
        )]));
    };
    let now = state.clock.now();
    let from = now - chrono::Duration::days(365);
    let suppression = Suppression::for_role(viewer.role, state.settings.small_count_threshold);

    // Every live record within 500 m, by distance, category, band and month.
    let pad = [RADII[1] / 60_000.0, RADII[1] / 100_000.0];
    let filter = LayerFilter {
        bbox: Some([
            centre[0] - pad[0],
            centre[1] - pad[1],
            centre[0] + pad[0],
            centre[1] + pad[1],
        ]),
        from: Some(unix_millis(from)),
        to: Some(unix_millis(now)),
        ..LayerFilter::default()
    };
    let mut found: Vec<(f64, Category, TimeBand, String)> = Vec::new();
    state.index.scope(&viewer).for_each(&filter, |o| {
        if let Some((e, n)) = grid_position(o.position) {
            let d = ((e - origin.0).powi(2) + (n - origin.1).powi(2)).sqrt();
            if d <= RADII[1] {
                let month = uk_local(from_unix_millis(o.observed_at))
                    .format("%Y-%m")
                    .to_string();
                found.push((d, o.category, TimeBand::of_hour(o.local_hour), month));
            }
        }
    });
    let months: Vec<String> = (0..12)
        .rev()
        .map(|back| {
            let local = uk_local(now).date();
            let first = local.with_day(1).unwrap_or(local);
            let mut m = first;
            for _ in 0..back {
                m = (m - chrono::Duration::days(1)).with_day(1).unwrap_or(m);
            }
            m.format("%Y-%m").to_string()
        })
        .collect();
    let view = |n: u32| serde_json::to_value(suppression.view(n)).unwrap_or_default();
    let radii: Vec<serde_json::Value> = RADII
        .iter()
        .map(|&r| {
            let within: Vec<_> = found.iter().filter(|(d, ..)| *d <= r).collect();
            let mut cells: BTreeMap<(&str, &str), u32> = BTreeMap::new();
            let mut by_month: BTreeMap<&str, u32> = months.iter().map(|m| (m.as_str(), 0)).collect();
            for (_, c, b, m) in &within {
                *cells.entry((c.code(), b.code())).or_default() += 1;
                if let Some(n) = by_month.get_mut(m.as_str()) {
                    *n += 1;
                }
            }
            json!({
                "metres": r,
                "total": view(u32::try_from(within.len()).unwrap_or(u32::MAX)),
                "by_category_band": cells.into_iter().map(|((c, b), n)| {
                    let mut v = view(n);
                    if let Some(o) = v.as_object_mut() { o.insert("category".into(), c.into()); o.insert("band".into(), b.into()); }
                    v
                }).collect::<Vec<_>>(),
                "by_month": by_month.into_iter().map(|(m, n)| {
                    let mut v = view(n);
                    if let Some(o) = v.as_object_mut() { o.insert("month".into(), m.into()); }
                    v
                }).collect::<Vec<_>>(),
            })
        })
        .collect();

    let mut nearby: Vec<(f64, crate::domain::place::Place)> = state
        .store
        .places()
        .await?
        .into_iter()
        .filter(|p| Some(p.id) != place)
        .filter_map(|p| {
            let (e, n) = grid_position([p.details.location.lon, p.details.location.lat])?;
            let d = ((e - origin.0).powi(2) + (n - origin.1).powi(2)).sqrt();
            (d <= RADII[1]).then_some((d, p))
        })
        .collect();
    nearby.sort_by(|a, b| a.0.total_cmp(&b.0));
    let listed = |safe_only: bool| -> Vec<serde_json::Value> {
        nearby
            .iter()
            .filter(|(_, p)| !safe_only || p.details.safe_place)
            .map(|(d, p)| json!({"id": p.id, "name_en": p.details.name_en, "name_cy": p.details.name_cy, "kind": p.details.kind,
                "distance_m": d.round(), "safe_place": p.details.safe_place}))
            .collect()
    };
    let report = json!({
        "centre": centre,
        "centre_from": used,
        "place": registered.as_ref().map(|p| json!({"id": p.id, "name_en": p.details.name_en, "name_cy": p.details.name_cy,
            "kind": p.details.kind, "licence_reference": p.details.licence_reference, "address": p.details.address})),
        "generated_at": format_instant(now),
        "period": {"from": format_instant(from), "to": format_instant(now)},
        "threshold": state.settings.small_count_threshold,
        "radii": radii,
        "nearby_places": listed(false),
        "safe_places": listed(true),
        "centre_note": CENTRE_NOTE[usize::from(used != "place-register")][0],
        "centre_note_cy": CENTRE_NOTE[usize::from(used != "place-register")][1],
        "restricted_note": "These counts include only the records you may see, each where you are shown it. Other agencies may hold records you cannot see here: ask your safeguarding coordinator, who can ask theirs.",
        "restricted_note_cy": "Mae'r cyfrifon hyn yn cynnwys dim ond y cofnodion y cewch eu gweld, pob un lle dangosir ef i chi. Gall asiantaethau eraill ddal cofnodion na allwch eu gweld yma: gofynnwch i'ch cydgysylltydd diogelu, a all ofyn i'w rhai hwy.",
    });
    let object = place.map_or_else(
        || format!("point {:.5},{:.5}", centre[0], centre[1]),
        |p| format!("place {p}"),
    );
    state
        .store
        .record_audit(&AuditEntry::by(
            &viewer,
            AuditAction::Disclosure,
            "licensing-report",
            object,
            "",
            Some(if html {
                "licensing consultation report (printable)"
            } else {
                "licensing consultation report"
            }),
            now,
        ))
        .await?;
    // Recorded as a disclosure above.
    if html {
        let page = page(&report, lang, &now.format("%Y-%m-%d %H:%M UTC").to_string());
        return Ok(super::disclosure::audited(
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response(),
        ));
    }
    Ok(super::disclosure::audited(
        axum::Json(report).into_response(),
    ))
}

/// The printable report.
fn page(report: &serde_json::Value, lang: Lang, printed: &str) -> String {
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
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title><link rel=\"stylesheet\" href=\"/pack.css\"></head><body><main class=\"pack\">",
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
