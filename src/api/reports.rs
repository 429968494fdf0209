//! Licensing consultation reports over HTTP: parse the request, ask
//! `service::reports`, answer JSON or the printable page.

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::problem::Problem;
use super::AppState;
use crate::domain::viewer::{Action, Viewer};
use crate::pack::Lang;
use crate::service::reports::Subject;

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
    super::allow(&viewer, Action::LicensingReport)?;
    state
        .charge(&viewer, crate::service::budget::Kind::Report)
        .await?;
    let subject = match (place, lon, lat) {
        (Some(id), _, _) => Subject::Place(id),
        (None, Some(lon), Some(lat)) => Subject::Proposed(lon, lat),
        _ => Subject::Missing,
    };
    let now = state.clock.now();
    let report = state.reports.licensing(&viewer, subject, html, now).await?;
    // Recorded as a disclosure by the service.
    if html {
        let centre = [
            report["centre"][0].as_f64().unwrap_or(0.0),
            report["centre"][1].as_f64().unwrap_or(0.0),
        ];
        // The streets within a kilometre or so: the map is a little wider than the outer ring.
        let around = [
            centre[0] - 0.015,
            centre[1] - 0.009,
            centre[0] + 0.015,
            centre[1] + 0.009,
        ];
        let (roads, attribution) = state
            .basemap
            .roads_within(around)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the licensing report's streets could not be read");
                (Vec::new(), "")
            });
        let local = crate::domain::time::uk_local(now);
        let printed = format!(
            "{}, {}",
            lang.date(&local.format("%Y-%m-%d").to_string()),
            local.format("%H:%M")
        );
        let streets = crate::pack::Streets {
            roads: &roads,
            attribution,
        };
        let page = crate::render::report::licensing_page(&report, lang, &printed, streets);
        return Ok(super::disclosure::audited(
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response(),
        ));
    }
    Ok(super::disclosure::audited(
        axum::Json(report).into_response(),
    ))
}
