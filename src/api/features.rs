//! What every GeoJSON collection shares: the query parameters of `items`
//! (bbox, datetime, limit, cursor and the observation filters), links, the
//! base URL, and the FeatureCollection answer. The OGC routes (`ogc/`) and
//! the collection modules all build on this; none of them on each other.

use std::collections::HashSet;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::json;

use super::problem::Problem;
use super::Settings;
use crate::domain::crs::Crs;
use crate::domain::time::{parse_instant, uk_to_utc};
use crate::domain::vocabulary::{
    Category, DayKind, Sensitivity, SettingType, Severity, Status, TimeBand,
};
use crate::index::LayerFilter;
use crate::render::download::Format;

/// The OGC URI of WGS84 longitude/latitude.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
/// GeoJSON's media type.
pub const GEOJSON: &str = "application/geo+json";
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

/// A parsed `items` request.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsQuery {
    /// What to select.
    pub filter: LayerFilter,
    /// Page size, clamped to `MAX_LIMIT`.
    pub limit: usize,
    /// Where the page starts, as the collection's `next` link gave it
    /// (opaque to clients: an id for observations, an offset elsewhere).
    pub cursor: Option<String>,
    /// The request's parameters except `cursor`, to build `next` links from.
    pub kept: Vec<(String, String)>,
    /// Parameters of the endpoint beyond the common ones, as given.
    pub extra: Vec<(String, String)>,
    /// The CRS the answer is given in (`crs`).
    pub crs: Crs,
    /// A download format named by `f` (collections only).
    pub format: Option<Format>,
    /// A `bbox` given in the National Grid, as its four corners in CRS84:
    /// `filter.bbox` holds the box round them (the index's prefilter), and
    /// collections keep only what meets this quadrilateral.
    pub bbox_shape: Option<[[f64; 2]; 4]>,
    /// A CQL2 filter as given (`filter`), with its language
    /// (`filter-lang`, `cql2-text` when absent).
    pub cql: Option<(String, String)>,
}

/// The parameters every layer read takes (collections, tiles, profiles).
pub const COMMON_PARAMETERS: &[&str] = &["bbox", "bbox-crs", "datetime", "limit", "cursor", "f"];

/// The parameters only the OGC collections' `items` take (answers in
/// another CRS, and CQL2 filters): elsewhere they are refused, not ignored.
pub const OGC_PARAMETERS: &[&str] = &["crs", "filter", "filter-lang", "filter-crs", "purpose"];

/// The observation filters, taken by the observations collection and
/// everything computed from it (grid, hot spots, clusters, tiles).
pub const OBSERVATION_FILTERS: &[&str] = &[
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

/// A `bbox` given in `crs`, as the CRS84 box that holds it.
pub(super) fn bbox_in(value: &str, crs: Crs) -> Result<[f64; 4], Problem> {
    let bad = |detail: &str| Problem::bad_parameter("invalid-bbox", "bbox", detail);
    match crs {
        Crs::Crs84 => bbox(value),
        Crs::Epsg4326 => {
            let [y0, x0, y1, x1] = bbox_numbers(value)?;
            bbox(&format!("{x0},{y0},{x1},{y1}"))
        }
        Crs::Epsg27700 => {
            let [x0, y0, x1, y1] = bbox_numbers(value)?;
            if x0 > x1 || y0 > y1 {
                return Err(bad(
                    "the bbox's lower corner is above or right of its upper corner",
                ));
            }
            crs.box_to_crs84([x0, y0, x1, y1])
                .ok_or_else(|| bad("the bbox lies outside the British National Grid's cover"))
        }
    }
}

/// The four numbers of a bbox (the horizontal ones of a 3D box).
fn bbox_numbers(value: &str) -> Result<[f64; 4], Problem> {
    let bad = |detail: &str| Problem::bad_parameter("invalid-bbox", "bbox", detail);
    let numbers = value
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad("bbox must be four (or six) comma-separated numbers"))?;
    match numbers.as_slice() {
        [a, b, c, d] => Ok([*a, *b, *c, *d]),
        // 3D boxes: min x, min y, min z, max x, max y, max z.
        [a, b, _, d, e, _] => Ok([*a, *b, *d, *e]),
        _ => Err(bad("bbox must be four (or six) comma-separated numbers")),
    }
}

pub(crate) fn bbox(value: &str) -> Result<[f64; 4], Problem> {
    let bad = |detail: &str| Problem::bad_parameter("invalid-bbox", "bbox", detail);
    let [x0, y0, x1, y1] = bbox_numbers(value)?;
    if !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
        return Err(bad("bbox numbers must be finite"));
    }
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
    // A month (police.uk's unit) is the whole month, UK time.
    if value.len() == 7 {
        if let Ok(first) = NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d") {
            let edge = if start {
                Some(first)
            } else {
                first.checked_add_months(chrono::Months::new(1))
            };
            if let Some(t) = edge.and_then(|d| d.and_hms_opt(0, 0, 0)) {
                let utc = uk_to_utc(t).timestamp_millis();
                return Ok(Some(if start { utc } else { utc - 1 }));
            }
        }
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
        "datetime must be an RFC 3339 instant, a date, a month (YYYY-MM), or an interval `start/end` with `..` for an open end",
    ))
}

pub(crate) fn datetime(value: &str) -> Result<(Option<i64>, Option<i64>), Problem> {
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
    /// Parses the raw query string of an observation layer; unknown or
    /// repeated parameters are 400s.
    pub fn parse(raw: Option<&str>) -> Result<ItemsQuery, Problem> {
        Self::parse_with(raw, &[])
    }

    /// Parses the raw query string of an observation layer that also takes
    /// the parameters named in `extra` (collected, unparsed, in `extra`).
    pub fn parse_with(raw: Option<&str>, extra: &[&str]) -> Result<ItemsQuery, Problem> {
        let allowed: Vec<&str> = OBSERVATION_FILTERS.iter().chain(extra).copied().collect();
        Self::parse_only(raw, &allowed)
    }

    /// Parses the raw query string of an endpoint that takes the common
    /// parameters and those named in `allowed` (observation filters among
    /// them are parsed into `filter`; the rest are collected in `extra`).
    pub fn parse_only(raw: Option<&str>, allowed: &[&str]) -> Result<ItemsQuery, Problem> {
        let extra = allowed;
        let mut query = ItemsQuery {
            filter: LayerFilter::default(),
            limit: DEFAULT_LIMIT,
            cursor: None,
            kept: Vec::new(),
            extra: Vec::new(),
            crs: Crs::Crs84,
            format: None,
            bbox_shape: None,
            cql: None,
        };
        let (mut filter, mut filter_lang) = (None, "cql2-text".to_owned());
        let mut seen = HashSet::new();
        let (mut raw_bbox, mut bbox_crs) = (None, Crs::Crs84);
        for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let (name, value) = (name.into_owned(), value.into_owned());
            if !COMMON_PARAMETERS.contains(&name.as_str()) && !allowed.contains(&name.as_str()) {
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
                // Read once the CRS it is in is known, whatever the order.
                "bbox" => raw_bbox = Some(value.clone()),
                "bbox-crs" => bbox_crs = crs_parameter("bbox-crs", &value)?,
                "crs" => query.crs = crs_parameter("crs", &value)?,
                "filter" => filter = Some(value.clone()),
                "filter-lang" if matches!(value.as_str(), "cql2-text" | "cql2-json") => {
                    filter_lang = value.clone()
                }
                "filter-lang" => {
                    return Err(Problem::bad_parameter(
                        "invalid-filter",
                        "filter-lang",
                        "cql2-text or cql2-json",
                    ))
                }
                "filter-crs" if Crs::parse(&value) != Some(Crs::Crs84) => {
                    return Err(Problem::bad_parameter(
                        "unsupported-crs",
                        "filter-crs",
                        format!("filters are read in {CRS84}"),
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
                "cursor" => query.cursor = Some(value.clone()),
                // Downloads (and their purpose) belong to the collections.
                "f" if allowed.contains(&"purpose") && Format::from_f(&value).is_some() => {
                    query.format = Format::from_f(&value);
                }
                "f" if !matches!(value.as_str(), "json" | "geojson") => {
                    return Err(Problem::bad_parameter(
                        "unsupported-format",
                        "f",
                        "the formats are json and geojson (and, for a collection's items, csv and gpkg)",
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
        if let Some(raw) = raw_bbox {
            query.filter.bbox = Some(bbox_in(&raw, bbox_crs)?);
            if bbox_crs == Crs::Epsg27700 {
                let [x0, y0, x1, y1] = bbox_numbers(&raw)?;
                let corners =
                    [[x0, y0], [x1, y0], [x1, y1], [x0, y1]].map(|c| bbox_crs.to_crs84(c));
                if let [Some(a), Some(b), Some(c), Some(d)] = corners {
                    query.bbox_shape = Some([a, b, c, d]);
                }
            }
        }
        query.cql = filter.map(|f| (f, filter_lang));
        Ok(query)
    }
}

/// A `crs` or `bbox-crs` value: one of the CRSs answers can be given in.
fn crs_parameter(name: &str, value: &str) -> Result<Crs, Problem> {
    Crs::parse(value).ok_or_else(|| {
        Problem::bad_parameter(
            "unsupported-crs",
            name,
            format!("the CRSs offered are {}", Crs::ALL.map(Crs::uri).join(", ")),
        )
    })
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
