//! OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0), rooted at `/ogc`.
//!
//! Items come from the spatial index, never SQL; each page is written
//! straight into one buffer. Bulk items carry only what styling and
//! filtering need: no free text, no case reference. The full record is the
//! single-item read.

use std::io::Write;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::disclosure::{audited, disclosed};
use super::features::{base_url, geojson_response, link, ItemsQuery, CRS84, GEOJSON};
use super::observations::{parse_id, purpose_parameter};
use super::problem::Problem;
use super::AppState;
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::{
    Category, DayKind, Sensitivity, SettingType, Severity, Status, TimeBand,
};
use crate::index::ShownObservation;
use crate::privacy::Precision;

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
