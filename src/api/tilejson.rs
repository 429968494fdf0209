//! TileJSON 3.0 and a MapLibre style for each vector-tile layer, linked
//! from its collection, so QGIS (which needs an XYZ template with zoom
//! limits) and other MapLibre clients can add the layers. Neither carries
//! observation data: the tiles themselves are read, and recorded, as any
//! tile is.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::features::{base_url, link};
use super::problem::Problem;
use super::AppState;
use crate::import::police::ATTRIBUTION;

/// One vector-tile layer as clients are told of it.
struct TileLayer {
    id: &'static str,
    title: &'static str,
    /// `circle` for points, `fill` for cells.
    draw: &'static str,
    minzoom: u8,
    maxzoom: u8,
    /// The features' properties and what they hold.
    fields: &'static [(&'static str, &'static str)],
    attribution: Option<&'static str>,
}

const CELL_FIELDS: &[(&str, &str)] = &[
    (
        "count",
        "Number: observations in the cell as shown to you (absent when withheld)",
    ),
    ("suppressed", "Boolean: whether the count is withheld"),
];

const LAYERS: [TileLayer; 4] = [
    TileLayer {
        id: "observations",
        title: "Observations",
        draw: "circle",
        minzoom: 8,
        maxzoom: 16,
        fields: &[
            ("category", "String: category code"),
            ("severity", "String: severity code"),
            ("status", "String: status code"),
            ("sensitivity", "String: sensitivity code"),
            ("setting", "String: setting code"),
            ("agency", "String: recording agency"),
            ("time_band", "String: band of the day, UK time"),
            ("day", "String: weekday or weekend, UK time"),
            (
                "precision",
                "String: exact, or bng-100m for a generalised position",
            ),
        ],
        attribution: None,
    },
    TileLayer {
        id: "grid",
        title: "Observation counts on a grid",
        draw: "fill",
        minzoom: 10,
        maxzoom: 16,
        fields: CELL_FIELDS,
        attribution: None,
    },
    TileLayer {
        id: "hotspots",
        title: "Hot and cold spots (Getis–Ord Gi*)",
        draw: "fill",
        minzoom: 10,
        maxzoom: 16,
        fields: &[
            (
                "count",
                "Number: observations in the cell as shown to you (absent when withheld)",
            ),
            ("suppressed", "Boolean: whether the count is withheld"),
            ("class", "Number: -3 … 3, cold or hot at 99, 95 or 90 %"),
            ("z", "Number: Gi* z-score (absent when withheld)"),
            ("p", "Number: p-value (absent when withheld)"),
        ],
        attribution: None,
    },
    TileLayer {
        id: "police-crimes",
        title: "Recorded crime (police.uk) — context",
        draw: "circle",
        minzoom: 10,
        maxzoom: 16,
        fields: &[
            ("crime_type", "String: police.uk crime type code"),
            ("crime_type_name", "String: police.uk crime type"),
            ("month", "String: YYYY-MM"),
        ],
        attribution: Some(ATTRIBUTION),
    },
];

fn layer(id: &str) -> Result<&'static TileLayer, Problem> {
    LAYERS.iter().find(|l| l.id == id).ok_or_else(|| {
        Problem::not_found()
            .detail("no such tile layer: observations, grid, hotspots or police-crimes")
    })
}

/// The links a collection's description carries to its tiles, if it has
/// a tile layer.
pub fn links(base: &str, collection: &str) -> Vec<Value> {
    if LAYERS.iter().all(|l| l.id != collection) {
        return Vec::new();
    }
    vec![
        link(
            format!("{base}/tiles/{collection}/tilejson.json"),
            "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
            "application/vnd.mapbox.tile+json",
            "Vector tiles (TileJSON 3.0)",
        ),
        link(
            format!("{base}/tiles/{collection}/style.json"),
            "stylesheet",
            "application/vnd.mapbox.style+json",
            "A MapLibre style for the tiles",
        ),
    ]
}

fn tilejson_of(state: &AppState, base: &str, l: &TileLayer) -> Value {
    let area = state.observations.rules().service_area;
    let (w, s, e, n) = (area.min().x, area.min().y, area.max().x, area.max().y);
    let fields: serde_json::Map<String, Value> = l
        .fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let mut doc = json!({
        "tilejson": "3.0.0",
        "name": l.title,
        "description": format!("{}: as your role is shown it; send your token as an Authorization header", l.title),
        "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}", l.id)],
        "minzoom": l.minzoom,
        "maxzoom": l.maxzoom,
        "bounds": [w, s, e, n],
        "center": [(w + e) / 2.0, (s + n) / 2.0, l.minzoom.max(10)],
        "scheme": "xyz",
        "vector_layers": [{ "id": l.id, "fields": fields, "minzoom": l.minzoom, "maxzoom": l.maxzoom }],
    });
    if let (Some(a), Some(map)) = (l.attribution, doc.as_object_mut()) {
        map.insert("attribution".into(), json!(a));
    }
    doc
}

fn typed(body: Value, kind: &'static str) -> Response {
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}

/// `GET /tiles/{layer}/tilejson.json`.
pub async fn tilejson(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let l = layer(&id)?;
    let base = base_url(&state.settings, &headers);
    Ok(typed(tilejson_of(&state, &base, l), "application/json"))
}

/// `GET /tiles/{layer}/style.json`: the layer drawn simply, by category,
/// class or count.
pub async fn style(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let l = layer(&id)?;
    let base = base_url(&state.settings, &headers);
    let paint = match (l.id, l.draw) {
        ("hotspots", _) => json!({
            "fill-color": ["match", ["coalesce", ["get", "class"], 0],
                3, "#b2182b", 2, "#ef8a62", 1, "#fddbc7", -1, "#d1e5f0", -2, "#67a9cf", -3, "#2166ac", "rgba(0,0,0,0)"],
            "fill-opacity": 0.7
        }),
        (_, "fill") => json!({
            "fill-color": ["interpolate", ["linear"], ["coalesce", ["get", "count"], 0], 0, "#fff7ec", 5, "#fdbb84", 20, "#d7301f", 50, "#7f0000"],
            "fill-opacity": 0.6
        }),
        ("police-crimes", _) => {
            json!({ "circle-radius": 3, "circle-color": "#555555", "circle-opacity": 0.7 })
        }
        _ => json!({
            "circle-radius": ["match", ["get", "severity"], "high", 7, "medium", 5, 4],
            "circle-color": ["match", ["get", "precision"], "bng-100m", "#7b3294", "#d95f02"],
            "circle-stroke-color": "#ffffff",
            "circle-stroke-width": 1
        }),
    };
    let doc = json!({
        "version": 8,
        "name": format!("safetymap — {}", l.title),
        "sources": { l.id: {
            "type": "vector",
            "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}", l.id)],
            "minzoom": l.minzoom,
            "maxzoom": l.maxzoom,
            "attribution": l.attribution.unwrap_or("safetymap"),
        } },
        "layers": [{
            "id": l.id,
            "type": l.draw,
            "source": l.id,
            "source-layer": l.id,
            "paint": paint,
        }],
    });
    Ok(typed(doc, "application/json"))
}
