//! Every parser of outside input behind one door, for the property tests
//! (`tests/parsers.rs`) and the fuzz targets (`fuzz/`): each takes what a
//! client or a file could send and says what it made of it. None may
//! panic, loop or allocate without bound, whatever it is given.

use crate::domain::observation::{ObservationInput, ValidationRules};

/// The rules the parsers check against: Wales, five years back.
fn rules() -> ValidationRules {
    ValidationRules::new([-5.670, 51.375, -2.650, 53.436], 1826)
}

/// A `bbox` parameter, as the CRS84 box it names.
pub fn bbox(text: &str) -> Option<[f64; 4]> {
    crate::api::features::bbox(text).ok()
}

/// A `datetime` parameter, as the milliseconds its ends fall on (`None`:
/// open).
pub fn datetime(text: &str) -> Option<(Option<i64>, Option<i64>)> {
    crate::api::features::datetime(text).ok()
}

/// A layer's whole query string (filters, paging, bbox, datetime…):
/// whether it was taken.
pub fn items_query(raw: &str) -> bool {
    crate::api::features::ItemsQuery::parse(Some(raw)).is_ok()
}

/// A CQL2 filter in `cql2-text` or `cql2-json`: whether it was taken.
pub fn filter(text: &str, lang: &str) -> bool {
    crate::api::ogc::cql2::parse(text, lang).is_ok()
}

/// A places register import (CSV or GeoJSON): how many places it holds.
pub fn places_import(text: &str) -> Option<usize> {
    crate::domain::place::parse_import(text, &rules())
        .ok()
        .map(|p| p.len())
}

/// A boundary file (GeoJSON) imported as wards: how many areas it holds.
pub fn boundaries(text: &str) -> Option<usize> {
    let ward = crate::domain::vocabulary::AreaKind::Ward;
    crate::domain::area::parse_boundaries(text, Some(ward), &rules())
        .ok()
        .map(|a| a.len())
}

/// A police.uk street-level crime CSV: how many months it holds.
pub fn police_csv(bytes: &[u8]) -> Option<usize> {
    crate::import::police::parse(bytes, rules().service_area)
        .ok()
        .map(|m| m.len())
}

/// A drawn area's GeoJSON geometry: whether it is taken.
pub fn geometry(text: &str) -> bool {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return false;
    };
    crate::domain::area::drawn_shape(&value, &rules(), "geometry").is_ok()
}

/// A new observation's JSON body: whether it is taken.
pub fn observation(text: &str) -> bool {
    let Ok(input) = serde_json::from_str::<ObservationInput>(text) else {
        return false;
    };
    rules().validate_new(input, chrono::Utc::now()).is_ok()
}

/// What the `query` fuzz target feeds: a query string's parameters.
pub fn query_inputs(text: &str) {
    let _ = bbox(text);
    let _ = datetime(text);
    let _ = items_query(text);
}

/// What the `filter` fuzz target feeds: a filter in both languages.
pub fn filter_inputs(text: &str) {
    let _ = filter(text, "cql2-text");
    let _ = filter(text, "cql2-json");
}

/// What the `files` fuzz target feeds: an uploaded file of each kind.
pub fn file_inputs(bytes: &[u8]) {
    let _ = police_csv(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = places_import(text);
        let _ = boundaries(text);
    }
}

/// What the `bodies` fuzz target feeds: JSON bodies with geometries.
pub fn body_inputs(text: &str) {
    let _ = geometry(text);
    let _ = observation(text);
}

/// Feeds `input` to what fuzz target `target` feeds (for replaying its
/// findings as regression tests); `false` for an unknown target.
pub fn replay(target: &str, input: &[u8]) -> bool {
    let text = std::str::from_utf8(input);
    match (target, text) {
        ("files", _) => file_inputs(input),
        ("query", Ok(text)) => query_inputs(text),
        ("filter", Ok(text)) => filter_inputs(text),
        ("bodies", Ok(text)) => body_inputs(text),
        // libFuzzer's `&str` targets skip input that is not UTF-8.
        ("query" | "filter" | "bodies", Err(_)) => {}
        _ => return false,
    }
    true
}
