//! OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0), rooted at `/ogc`.
//!
//! Items come from the spatial index, never SQL; each page is written
//! straight into one buffer. Bulk items carry only what styling and
//! filtering need: no free text, no case reference. The full record is the
//! single-item read.

use std::collections::HashSet;
use std::io::Write;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

use super::disclosure::{audited, disclosed};
use super::observations::{parse_id, purpose_parameter};
use super::problem::Problem;
use super::{AppState, Settings};
use crate::domain::time::{parse_instant, uk_to_utc};
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::{
    Category, DayKind, Sensitivity, SettingType, Severity, Status, TimeBand,
};
use crate::index::{LayerFilter, ShownObservation};
use crate::privacy::Precision;

const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const GEOJSON: &str = "application/geo+json";
/// Default page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page served; larger `limit`s are clamped to this.
pub const MAX_LIMIT: usize = 10_000;

/// The absolute base URL links are built on: configured, or from `Host`.
/// The base URL links are made under: the configured public URL, or the
/// request's `Host`.
pub fn base_url(settings: &Settings, headers: &HeaderMap) -> String {
    if let Some(url) = &settings.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// One OGC link object.
pub fn link(href: String, rel: &str, kind: &str, title: &str) -> serde_json::Value {
    json!({ "href": href, "rel": rel, "type": kind, "title": title })
}

/// `GET /ogc`: the landing page.
pub async fn landing(State(state): State<AppState>, headers: HeaderMap) -> Json<serde_json::Value> {
    let base = base_url(&state.settings, &headers);
    Json(json!({
        "title": "safetymap",
        "description": "Contextual safeguarding observations as OGC API – Features layers. \
                        Arsylwadau diogelu cyd-destunol fel haenau OGC API – Features.",
        "links": [
            link(format!("{base}/ogc"), "self", "application/json", "This document"),
            link(format!("{base}/ogc/api"), "service-desc", "application/vnd.oai.openapi+json;version=3.0", "The API definition (OpenAPI 3.0)"),
            link(format!("{base}/ogc/conformance"), "conformance", "application/json", "Conformance classes"),
            link(format!("{base}/ogc/collections"), "data", "application/json", "Collections"),
        ]
    }))
}

/// `GET /ogc/conformance`.
pub async fn conformance() -> Json<serde_json::Value> {
    Json(json!({
        "conformsTo": [
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
        ]
    }))
}

fn observations_collection(state: &AppState, base: &str) -> serde_json::Value {
    let area = state.observations.rules().service_area;
    json!({
        "id": "observations",
        "title": "Observations",
        "description": "Place-based safeguarding observations, at the precision your role allows. \
                        Arsylwadau diogelu, ar y manylder a ganiateir gan eich rôl.",
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": {
            "spatial": {
                "bbox": [[area.min().x, area.min().y, area.max().x, area.max().y]],
                "crs": CRS84
            },
            "temporal": {
                "interval": [[null, null]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
            }
        },
        "links": [
            link(format!("{base}/ogc/collections/observations"), "self", "application/json", "This collection"),
            link(format!("{base}/ogc/collections/observations/items"), "items", GEOJSON, "Observations as GeoJSON"),
        ]
    })
}

/// An aggregate collection's description: polygons or points derived from
/// observations, with the parameters it takes.
fn aggregate_collection(base: &str, id: &str) -> Option<serde_json::Value> {
    let (title, description) = match id {
        "grid" => ("Observation counts on a grid", "Counts per British National Grid square or hexagon (cell=100|250|500, shape=square|hexagon) for any observation filter; counts below the small-count threshold read \"fewer than\" for roles below coordinator. Cyfrifon ar grid."),
        "hotspots" => ("Hot and cold spots (Getis–Ord Gi*)", "Gi* z-scores, p-values and 90/95/99% classes on a grid (cell, shape, weights=distance|nearest, band, k, fdr). Mannau poeth ac oer."),
        "clusters" => ("Clusters (DBSCAN)", "DBSCAN clusters of observations (eps metres, min points) as convex hulls. Clystyrau."),
        _ => return None,
    };
    Some(json!({
        "id": id,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            link(format!("{base}/ogc/collections/{id}"), "self", "application/json", "This collection"),
            link(format!("{base}/ogc/collections/{id}/items"), "items", GEOJSON, "Items as GeoJSON"),
        ]
    }))
}

/// `GET /ogc/collections`.
pub async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Json<serde_json::Value> {
    let base = base_url(&state.settings, &headers);
    Json(json!({
        "links": [link(format!("{base}/ogc/collections"), "self", "application/json", "Collections")],
        "collections": [
            observations_collection(&state, &base),
            aggregate_collection(&base, "grid"),
            aggregate_collection(&base, "hotspots"),
            aggregate_collection(&base, "clusters"),
            super::police::collection(&base),
            super::places::collection(&base),
            super::areas::collection(&base),
            super::perceptions::collection(&base),
        ]
    }))
}

/// `GET /ogc/collections/{collection}`.
pub async fn collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    let base = base_url(&state.settings, &headers);
    match id.as_str() {
        "observations" => Ok(Json(observations_collection(&state, &base))),
        "police-crimes" => Ok(Json(super::police::collection(&base))),
        "places" => Ok(Json(super::places::collection(&base))),
        "areas" => Ok(Json(super::areas::collection(&base))),
        "perceptions" => Ok(Json(super::perceptions::collection(&base))),
        other => aggregate_collection(&base, other)
            .map(Json)
            .ok_or_else(|| Problem::not_found().detail("no such collection")),
    }
}

/// A parsed `items` request.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsQuery {
    /// What to select.
    pub filter: LayerFilter,
    /// Page size, clamped to `MAX_LIMIT`.
    pub limit: usize,
    /// Page after this id.
    pub cursor: Option<i64>,
    /// The request's parameters except `cursor`, to build `next` links from.
    pub kept: Vec<(String, String)>,
    /// Parameters of the endpoint beyond the common ones, as given.
    pub extra: Vec<(String, String)>,
}

const ITEMS_PARAMETERS: &[&str] = &[
    "bbox",
    "bbox-crs",
    "datetime",
    "limit",
    "cursor",
    "f",
    "mine",
    "category",
    "setting",
    "severity",
    "status",
    "sensitivity",
    "agency",
    "timeband",
    "days",
    "place",
];

fn list<T>(name: &str, value: &str, from_code: fn(&str) -> Option<T>) -> Result<Vec<T>, Problem> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|code| {
            from_code(code).ok_or_else(|| {
                Problem::bad_parameter(
                    "not-in-vocabulary",
                    name,
                    format!("`{code}` is not a known {name}; see GET /api/vocabulary"),
                )
            })
        })
        .collect()
}

pub(super) fn bbox(value: &str) -> Result<[f64; 4], Problem> {
    let bad = |detail: &str| Problem::bad_parameter("invalid-bbox", "bbox", detail);
    let numbers = value
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad("bbox must be four (or six) comma-separated numbers"))?;
    let [x0, y0, x1, y1] = match numbers.as_slice() {
        [a, b, c, d] => [*a, *b, *c, *d],
        // 3D boxes: min x, min y, min z, max x, max y, max z.
        [a, b, _, d, e, _] => [*a, *b, *d, *e],
        _ => return Err(bad("bbox must be four (or six) comma-separated numbers")),
    };
    let lon = -180.0..=180.0;
    let lat = -90.0..=90.0;
    if !(lon.contains(&x0) && lon.contains(&x1) && lat.contains(&y0) && lat.contains(&y1)) {
        return Err(bad("bbox is outside longitude -180..180, latitude -90..90"));
    }
    if y0 > y1 {
        return Err(bad("the bbox's lower latitude is above its upper latitude"));
    }
    if x0 > x1 {
        // OGC reads this as crossing the antimeridian, which no Welsh
        // service area does; say so rather than guess.
        return Err(bad("the bbox's west edge is east of its east edge (crossing the antimeridian is not supported)"));
    }
    Ok([x0, y0, x1, y1])
}

/// One end of a `datetime` interval, in milliseconds: `None` when open.
fn datetime_end(value: &str, start: bool) -> Result<Option<i64>, Problem> {
    if value.is_empty() || value == ".." {
        return Ok(None);
    }
    if let Some(t) = parse_instant(value) {
        return Ok(Some(t.timestamp_millis()));
    }
    // A bare date is the whole UK day, as the time bands are UK local time.
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let t = if start {
            d.and_hms_opt(0, 0, 0)
        } else {
            d.succ_opt().and_then(|next| next.and_hms_opt(0, 0, 0))
        };
        if let Some(t) = t {
            let utc = uk_to_utc(t).timestamp_millis();
            // A day ends at the last millisecond before the next one starts.
            return Ok(Some(if start { utc } else { utc - 1 }));
        }
    }
    Err(Problem::bad_parameter(
        "invalid-datetime",
        "datetime",
        "datetime must be an RFC 3339 instant, a date, or an interval `start/end` with `..` for an open end",
    ))
}

fn datetime(value: &str) -> Result<(Option<i64>, Option<i64>), Problem> {
    match value.split_once('/') {
        Some((a, b)) => {
            let (from, to) = (datetime_end(a, true)?, datetime_end(b, false)?);
            if let (Some(f), Some(t)) = (from, to) {
                if f > t {
                    return Err(Problem::bad_parameter(
                        "invalid-datetime",
                        "datetime",
                        "the interval ends before it starts",
                    ));
                }
            }
            Ok((from, to))
        }
        None if value == ".." => Err(Problem::bad_parameter(
            "invalid-datetime",
            "datetime",
            "`..` is only allowed as one end of an interval",
        )),
        None => {
            let is_date = !value.contains('T');
            Ok((datetime_end(value, true)?, datetime_end(value, !is_date)?))
        }
    }
}

impl ItemsQuery {
    /// Parses the raw query string; unknown or repeated parameters are 400s.
    pub fn parse(raw: Option<&str>) -> Result<ItemsQuery, Problem> {
        Self::parse_with(raw, &[])
    }

    /// Parses the raw query string of an endpoint that also takes the
    /// parameters named in `extra` (collected, unparsed, in `extra`).
    pub fn parse_with(raw: Option<&str>, extra: &[&str]) -> Result<ItemsQuery, Problem> {
        let mut query = ItemsQuery {
            filter: LayerFilter::default(),
            limit: DEFAULT_LIMIT,
            cursor: None,
            kept: Vec::new(),
            extra: Vec::new(),
        };
        let mut seen = HashSet::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let (name, value) = (name.into_owned(), value.into_owned());
            if !ITEMS_PARAMETERS.contains(&name.as_str()) && !extra.contains(&name.as_str()) {
                return Err(Problem::unknown_parameter(&name));
            }
            if !seen.insert(name.clone()) {
                return Err(Problem::bad_parameter(
                    "repeated-parameter",
                    &name,
                    format!("`{name}` is given more than once; use a comma-separated list"),
                ));
            }
            let f = &mut query.filter;
            match name.as_str() {
                "bbox" => f.bbox = Some(bbox(&value)?),
                "bbox-crs" if value != CRS84 => {
                    return Err(Problem::bad_parameter(
                        "unsupported-crs",
                        "bbox-crs",
                        format!("only {CRS84} is supported"),
                    ))
                }
                "datetime" => (f.from, f.to) = datetime(&value)?,
                "limit" => {
                    let n: usize = value.parse().map_err(|_| {
                        Problem::bad_parameter(
                            "invalid-limit",
                            "limit",
                            "limit must be a whole number from 1",
                        )
                    })?;
                    if n == 0 {
                        return Err(Problem::bad_parameter(
                            "invalid-limit",
                            "limit",
                            "limit must be a whole number from 1",
                        ));
                    }
                    query.limit = n.min(MAX_LIMIT);
                }
                "mine" => {
                    query.filter.mine = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(Problem::bad_parameter(
                                "invalid-mine",
                                "mine",
                                "true or false",
                            ))
                        }
                    }
                }
                "cursor" => {
                    query.cursor = Some(value.parse().map_err(|_| {
                        Problem::bad_parameter(
                            "invalid-cursor",
                            "cursor",
                            "use the next link as given",
                        )
                    })?)
                }
                "f" if !matches!(value.as_str(), "json" | "geojson") => {
                    return Err(Problem::bad_parameter(
                        "unsupported-format",
                        "f",
                        "the formats are json and geojson",
                    ))
                }
                "category" => f.categories = list(&name, &value, Category::from_code)?,
                "setting" => f.settings = list(&name, &value, SettingType::from_code)?,
                "severity" => f.severities = list(&name, &value, Severity::from_code)?,
                "status" => f.statuses = list(&name, &value, Status::from_code)?,
                "sensitivity" => f.sensitivities = list(&name, &value, Sensitivity::from_code)?,
                "agency" => {
                    f.agencies = value
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                }
                "timeband" => {
                    let bands = list(&name, &value, TimeBand::from_code)?;
                    // An empty list, like an empty category list, filters nothing.
                    f.hours = (!bands.is_empty()).then(|| {
                        (0u8..24)
                            .filter(|h| bands.contains(&TimeBand::of_hour(*h)))
                            .fold(0u32, |m, h| m | 1 << h)
                    });
                }
                "days" => {
                    let kinds = list(&name, &value, DayKind::from_code)?;
                    f.weekdays = (!kinds.is_empty()).then(|| {
                        (0u8..7)
                            .filter(|d| kinds.contains(&DayKind::of_weekday(*d)))
                            .fold(0u8, |m, d| m | 1 << d)
                    });
                }
                "place" => {
                    f.place = Some(
                        value
                            .trim()
                            .parse::<i64>()
                            .ok()
                            .filter(|p| *p > 0)
                            .ok_or_else(|| {
                                Problem::bad_parameter(
                                    "invalid-place",
                                    &name,
                                    "`place` is a place id from the register",
                                )
                            })?,
                    );
                }
                other if extra.contains(&other) => query.extra.push((name.clone(), value.clone())),
                _ => {}
            }
            if name != "cursor" {
                query.kept.push((name, value));
            }
        }
        Ok(query)
    }
}

#[derive(Serialize)]
struct PointGeometry {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [f64; 2],
}

/// Formats observed-at (milliseconds) without an intermediate string per feature.
struct LayerTime(i64);

impl Serialize for LayerTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = DateTime::from_timestamp_millis(self.0).unwrap_or_default();
        s.collect_str(&t.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

#[derive(Serialize)]
struct LayerProperties<'a> {
    category: Category,
    setting: SettingType,
    severity: Severity,
    status: Status,
    sensitivity: Sensitivity,
    agency: &'a str,
    observed_at: LayerTime,
    time_band: TimeBand,
    day: DayKind,
    precision: Precision,
    /// For a generalised position: the 100 m square it stands for, so maps
    /// can draw the square rather than a pin.
    #[serde(skip_serializing_if = "Option::is_none")]
    cell: Option<[[f64; 2]; 5]>,
}

#[derive(Serialize)]
struct LayerFeature<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: i64,
    geometry: PointGeometry,
    properties: LayerProperties<'a>,
}

/// One bulk feature; `o.position` is already the position as shown.
fn layer_feature<'a>(o: &ShownObservation, agencies: &'a [String]) -> LayerFeature<'a> {
    let precision = o.precision;
    LayerFeature {
        kind: "Feature",
        id: o.id,
        geometry: PointGeometry {
            kind: "Point",
            coordinates: o.position,
        },
        properties: LayerProperties {
            category: o.category,
            setting: o.setting,
            severity: o.severity,
            status: o.status,
            sensitivity: o.sensitivity,
            agency: agencies
                .get(usize::from(o.agency))
                .map_or("", String::as_str),
            observed_at: LayerTime(o.observed_at),
            time_band: TimeBand::of_hour(o.local_hour),
            day: DayKind::of_weekday(o.local_weekday),
            precision,
            cell: match precision {
                Precision::Generalised => {
                    crate::bng::square_outline(o.position[0], o.position[1], 100.0)
                }
                _ => None,
            },
        },
    }
}

/// A GeoJSON body with its media type.
pub fn geojson_response(body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON));
    response
}

/// A whole collection's answer in one page: its features, how many matched,
/// a link back to the collection, and `extra`'s members.
pub fn feature_collection(
    base: &str,
    collection: &str,
    matched: usize,
    features: Vec<serde_json::Value>,
    extra: serde_json::Value,
) -> Result<Response, Problem> {
    let mut body = json!({
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": features.len(),
        "features": features,
        "links": [link(format!("{base}/ogc/collections/{collection}"), "collection", "application/json", "The collection")],
    });
    if let (Some(map), serde_json::Value::Object(more)) = (body.as_object_mut(), extra) {
        map.extend(more);
    }
    Ok(geojson_response(
        serde_json::to_vec(&body).map_err(|_| Problem::internal())?,
    ))
}

/// `GET /ogc/collections/observations/items`.
pub async fn items(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let query = ItemsQuery::parse(raw.as_deref())?;
    super::allow(&viewer, Action::ReadLayers)?;
    let scope = state.index.scope(&viewer);
    let page = scope.page(&query.filter, query.cursor, query.limit);
    let agencies = scope.agency_names();
    let base = base_url(&state.settings, &headers);
    let items_url = format!("{base}/ogc/collections/observations/items");
    let with_query = |pairs: &[(String, String)]| {
        if pairs.is_empty() {
            items_url.clone()
        } else {
            let q = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            format!("{items_url}?{q}")
        }
    };
    let mut self_pairs = query.kept.clone();
    if let Some(c) = query.cursor {
        self_pairs.push(("cursor".into(), c.to_string()));
    }
    let mut links = vec![
        link(with_query(&self_pairs), "self", GEOJSON, "This page"),
        link(
            format!("{base}/ogc/collections/observations"),
            "collection",
            "application/json",
            "The collection",
        ),
    ];
    if page.more {
        if let Some(last) = page.items.last() {
            let mut next = query.kept.clone();
            next.push(("cursor".into(), last.id.to_string()));
            links.push(link(with_query(&next), "next", GEOJSON, "Next page"));
        }
    }

    // About 330 bytes a feature; one allocation up front.
    let mut body = Vec::with_capacity(256 + page.items.len() * 340);
    body.extend_from_slice(b"{\"type\":\"FeatureCollection\",\"features\":[");
    for (i, o) in page.items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        serde_json::to_writer(&mut body, &layer_feature(o, &agencies))
            .map_err(|_| Problem::internal())?;
    }
    let _ = write!(
        body,
        "],\"numberMatched\":{},\"numberReturned\":{},\"timeStamp\":\"{}\",\"links\":",
        page.matched,
        page.items.len(),
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    serde_json::to_writer(&mut body, &links).map_err(|_| Problem::internal())?;
    body.push(b'}');
    Ok(disclosed(
        geojson_response(body),
        "observations-layer",
        page.items.len(),
    ))
}

/// `GET /ogc/collections/observations/items/{id}?purpose=…`: the full
/// record as a Feature; audited as a consultation.
pub async fn item(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let id = parse_id(&id)?;
    let purpose = purpose_parameter(raw.as_deref())?;
    let shown = state
        .observations
        .open(&viewer, id, purpose.as_deref(), true, Utc::now())
        .await?;
    let observation = shown.observation;
    if observation.withdrawn.is_some() {
        return Err(Problem::not_found().detail("this observation was withdrawn"));
    }
    let base = base_url(&state.settings, &headers);
    let location = observation.details.location;
    let mut properties = serde_json::to_value(&observation).map_err(|_| Problem::internal())?;
    if let Some(map) = properties.as_object_mut() {
        map.remove("location");
        map.remove("id");
        map.remove("withdrawn");
        map.insert("precision".into(), json!(shown.precision));
    }
    let feature = json!({
        "type": "Feature",
        "id": observation.id.0,
        "geometry": { "type": "Point", "coordinates": [location.lon, location.lat] },
        "properties": properties,
        "links": [
            link(format!("{base}/ogc/collections/observations/items/{id}"), "self", GEOJSON, "This observation"),
            link(format!("{base}/ogc/collections/observations"), "collection", "application/json", "The collection"),
        ]
    });
    // Opening it was recorded as a consultation, with its purpose.
    Ok(audited(geojson_response(
        serde_json::to_vec(&feature).map_err(|_| Problem::internal())?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_ended_interval_has_one_bound() {
        let q = ItemsQuery::parse(Some("datetime=2026-01-01T00:00:00Z/..")).expect("valid");
        assert!(q.filter.from.is_some() && q.filter.to.is_none());
    }

    #[test]
    fn a_limit_above_the_maximum_is_clamped() {
        let q = ItemsQuery::parse(Some("limit=50000")).expect("valid");
        assert_eq!(q.limit, MAX_LIMIT);
    }

    #[test]
    fn the_evening_band_keeps_hours_eighteen_to_twenty_one() {
        let q = ItemsQuery::parse(Some("timeband=evening")).expect("valid");
        assert_eq!(q.filter.hours, Some(0b1111 << 18));
    }

    #[test]
    fn unknown_parameters_are_refused_by_name() {
        let p = ItemsQuery::parse(Some("colour=red")).expect_err("refused");
        assert_eq!(p.field.as_deref(), Some("colour"));
        assert_eq!(p.status, 400);
    }
}
