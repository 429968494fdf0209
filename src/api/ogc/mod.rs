//! OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0), rooted at `/ogc`.
//!
//! Every layer is one [`Collection`] in [`registry`]; the landing page,
//! conformance, collections, collection, items and item handlers are
//! written once, here, for all of them. Items come from the spatial index
//! and the services, never SQL, as the viewer is shown them.

pub mod collection;
pub mod cql2;

mod annotations;
mod areas;
mod clusters;
mod grid;
mod hotspots;
mod observations;
mod perceptions;
mod places;
mod police;

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::features::{base_url, link, ItemsQuery};
use super::problem::Problem;
use super::AppState;
use crate::domain::viewer::{Action, Viewer};
pub use collection::{Collection, Description, Request, Selection};

/// Every collection, in the order `/ogc/collections` lists them.
pub fn registry() -> Vec<Arc<dyn Collection>> {
    vec![
        Arc::new(observations::Observations),
        Arc::new(grid::Grid),
        Arc::new(hotspots::HotSpots),
        Arc::new(clusters::Clusters),
        Arc::new(police::PoliceCrimes),
        Arc::new(places::Places),
        Arc::new(areas::Areas),
        Arc::new(perceptions::Perceptions),
        Arc::new(annotations::Annotations),
    ]
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
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
            "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
            "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
            "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
            "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
            "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
            "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
            "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
            "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
            "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
            "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
            "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
            "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
            "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions"
        ]
    }))
}

/// `GET /ogc/collections`.
pub async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Json<serde_json::Value> {
    let base = base_url(&state.settings, &headers);
    let described: Vec<_> = registry()
        .iter()
        .map(|c| collection::document(c.as_ref(), &state, &base))
        .collect();
    Json(json!({
        "links": [link(format!("{base}/ogc/collections"), "self", "application/json", "Collections")],
        "collections": described,
    }))
}

fn find(id: &str) -> Result<Arc<dyn Collection>, Problem> {
    registry()
        .into_iter()
        .find(|c| c.id() == id)
        .ok_or_else(|| Problem::not_found().detail("no such collection"))
}

/// `GET /ogc/collections/{collection}`.
pub async fn collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    let base = base_url(&state.settings, &headers);
    let found = find(&id)?;
    Ok(Json(collection::document(found.as_ref(), &state, &base)))
}

/// `GET /ogc/collections/{collection}/queryables`: what its items can be
/// filtered on, as a JSON Schema.
pub async fn queryables(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let base = base_url(&state.settings, &headers);
    let found = find(&id)?;
    let mut response = Json(collection::queryables_document(found.as_ref(), &base)).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/schema+json"),
    );
    Ok(response)
}

/// `GET /ogc/collections/{collection}/items` for one collection.
pub async fn items(
    layer: Arc<dyn Collection>,
    state: AppState,
    viewer: Viewer,
    headers: HeaderMap,
    raw: Option<String>,
) -> Result<Response, Problem> {
    let mut allowed = layer.parameters();
    allowed.extend(collection::shortcut_names(layer.as_ref()));
    allowed.extend(super::features::OGC_PARAMETERS);
    let query = ItemsQuery::parse_only(raw.as_deref(), &allowed)?;
    let filter = collection::Filter::of(layer.as_ref(), &query)?;
    super::allow(&viewer, Action::ReadLayers)?;
    // A download: a file format by `f` or `Accept`, or any answer given a
    // purpose. Pages are for maps; files leave the service, so they need a
    // stated purpose and are recorded with it.
    let accepted = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::render::download::Format::from_accept)
        .filter(|f| *f != crate::render::download::Format::GeoJson);
    let purpose = query
        .extra
        .iter()
        .find(|(name, _)| name == "purpose")
        .map(|(_, value)| value.clone());
    let format = query.format.or(accepted);
    let request = Request {
        base: base_url(&state.settings, &headers),
        state: &state,
        viewer: &viewer,
        query,
        filter,
    };
    let file = format.filter(|f| *f != crate::render::download::Format::GeoJson);
    match (file, purpose) {
        (Some(_), None) => Err(collection::purpose_required()),
        (_, Some(purpose)) => {
            let format = format.unwrap_or(crate::render::download::Format::GeoJson);
            collection::download(layer.as_ref(), request, format, &purpose).await
        }
        (None, None) => layer.items(request).await,
    }
}

/// `GET /ogc/collections/{collection}/items/{id}` for one collection.
pub async fn item(
    layer: Arc<dyn Collection>,
    state: AppState,
    viewer: Viewer,
    headers: HeaderMap,
    id: String,
    raw: Option<String>,
) -> Result<Response, Problem> {
    let mut allowed = layer.item_parameters();
    allowed.push("crs");
    let query = ItemsQuery::parse_only(raw.as_deref(), &allowed)?;
    super::allow(&viewer, Action::ReadLayers)?;
    let request = Request {
        base: base_url(&state.settings, &headers),
        state: &state,
        viewer: &viewer,
        query,
        filter: None,
    };
    layer.item(request, id).await
}

/// A download of collection `id` as `viewer` would get it from
/// `items?{query}&f=…&purpose=…`: the command line's export, as the file's
/// bytes while they are written. Recorded in the audit trail with its
/// purpose, as the API's downloads are, before the first byte.
pub async fn export(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    format: crate::render::download::Format,
    query: &str,
    purpose: &str,
) -> Result<axum::body::Body, Problem> {
    let layer = find(id)?;
    let mut allowed = layer.parameters();
    allowed.extend(collection::shortcut_names(layer.as_ref()));
    allowed.extend(super::features::OGC_PARAMETERS);
    let query = ItemsQuery::parse_only(Some(query), &allowed)?;
    let filter = collection::Filter::of(layer.as_ref(), &query)?;
    super::allow(viewer, Action::ReadLayers)?;
    let base = state
        .settings
        .public_url
        .clone()
        .unwrap_or_else(|| "http://localhost".to_owned());
    let request = Request {
        base,
        state,
        viewer,
        query,
        filter,
    };
    let response = collection::download(layer.as_ref(), request, format, purpose).await?;
    Ok(response.into_body())
}

/// The items and item routes of every collection.
pub fn routes() -> Vec<(String, axum::routing::MethodRouter<AppState>)> {
    use axum::routing::get;
    let mut routes = Vec::new();
    for layer in registry() {
        let id = layer.id();
        let for_items = layer.clone();
        routes.push((
            format!("/ogc/collections/{id}/items"),
            get(
                move |State(state): State<AppState>,
                      viewer: Viewer,
                      headers: HeaderMap,
                      RawQuery(raw): RawQuery| {
                    items(for_items.clone(), state, viewer, headers, raw)
                },
            ),
        ));
        routes.push((
            format!("/ogc/collections/{id}/items/{{id}}"),
            get(
                move |State(state): State<AppState>,
                      viewer: Viewer,
                      headers: HeaderMap,
                      Path(item_id): Path<String>,
                      RawQuery(raw): RawQuery| {
                    item(layer.clone(), state, viewer, headers, item_id, raw)
                },
            ),
        ));
    }
    routes
}

/// The service area, CRS84: the extent of every observation layer.
fn service_area(state: &AppState) -> [f64; 4] {
    let area = state.observations.rules().service_area;
    [area.min().x, area.min().y, area.max().x, area.max().y]
}
