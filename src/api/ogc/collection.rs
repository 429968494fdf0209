//! One collection abstraction (after martin's `Source`): each layer says
//! what it is and selects its features over a viewer's scope; paging,
//! links, parameters, `numberMatched`/`numberReturned`, the single-item
//! read and the disclosure marker are written once, here.
//!
//! A layer is one file in this directory implementing [`Collection`], and
//! one line in [`super::registry`].

use std::future::Future;
use std::pin::Pin;

use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::super::disclosure::disclosed;
use super::super::features::{geojson_response, link, ItemsQuery, CRS84, GEOJSON};
use super::super::problem::Problem;
use super::super::AppState;
use super::cql2::{self, Kind};
use crate::domain::crs::Crs;
use crate::domain::viewer::Viewer;
use crate::render::download::Format;
use std::collections::HashMap;

/// A boxed future answering `T` or a problem: what a collection's
/// asynchronous methods return, so collections can sit in one registry.
pub type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, Problem>> + Send + 'a>>;

/// What a collection says about itself.
#[derive(Debug, Clone)]
pub struct Description {
    /// Short title.
    pub title: &'static str,
    /// What it holds, in English and Welsh.
    pub description: &'static str,
    /// Where its features can be, CRS84, if known.
    pub bbox: Option<[f64; 4]>,
    /// Whether its features have a time (`datetime` selects on it).
    pub temporal: bool,
    /// Members it adds to its description (attribution, licence); a
    /// `links` array is added to the standard links.
    pub more: Map<String, Value>,
}

/// Every feature of a collection matching a query, as the viewer is shown
/// them, in a stable order, each with an `id`: how many there are, and how
/// to write the n-th, so a page writes only its own features.
pub struct Selection {
    len: usize,
    render: Box<dyn Fn(usize) -> Value + Send>,
    /// Members the collection adds to its answer (parameters used,
    /// thresholds, attribution).
    pub extra: Map<String, Value>,
}

impl Selection {
    /// Features already written.
    pub fn of(features: Vec<Value>) -> Selection {
        Selection::lazy(features.len(), move |i| features[i].clone())
    }

    /// `len` features, the n-th written by `render(n)` when a page needs it.
    pub fn lazy(len: usize, render: impl Fn(usize) -> Value + Send + 'static) -> Selection {
        Selection {
            len,
            render: Box::new(render),
            extra: Map::new(),
        }
    }

    /// The same with `extra`'s members added to the answer.
    pub fn with(mut self, extra: Map<String, Value>) -> Selection {
        self.extra.extend(extra);
        self
    }

    /// How many features matched.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none did.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The feature with this id, if one matched.
    pub fn find(&self, id: &str) -> Option<Value> {
        (0..self.len)
            .map(|i| (self.render)(i))
            .find(|f| id_matches(f, id))
    }
}

/// A property a collection can be filtered on (Part 3's queryables).
#[derive(Debug, Clone)]
pub struct Queryable {
    /// Its name in the features' properties (`geometry` and `id` are the
    /// feature's own).
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// What it means.
    pub title: &'static str,
    /// The codes it takes, for the vocabulary's lists.
    pub codes: Vec<&'static str>,
}

impl Queryable {
    /// A queryable without a fixed list of values.
    pub fn new(name: &'static str, kind: Kind, title: &'static str) -> Queryable {
        Queryable {
            name,
            kind,
            title,
            codes: Vec::new(),
        }
    }

    /// The same, taking only these codes.
    pub fn codes(mut self, codes: Vec<&'static str>) -> Queryable {
        self.codes = codes;
        self
    }

    /// The feature's geometry, as shown.
    pub fn geometry() -> Queryable {
        Queryable::new("geometry", Kind::Geometry, "Where, as you are shown it")
    }

    /// Its JSON Schema.
    fn schema(&self) -> Value {
        let mut schema = match self.kind {
            Kind::Text => json!({ "type": "string" }),
            Kind::Number => json!({ "type": "number" }),
            Kind::Bool => json!({ "type": "boolean" }),
            Kind::Time => json!({ "type": "string", "format": "date-time" }),
            Kind::Geometry => json!({ "format": "geometry-any" }),
        };
        if let Some(map) = schema.as_object_mut() {
            map.insert("title".into(), json!(self.title));
            if !self.codes.is_empty() {
                map.insert("enum".into(), json!(self.codes));
            }
        }
        schema
    }
}

/// A request's filter, parsed and checked against the collection's
/// queryables: evaluated on each feature as the viewer is shown it.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: cql2::Expr,
    kinds: HashMap<String, Kind>,
}

impl Filter {
    /// The filter of `query` for `collection`: its `filter` and any
    /// queryables given as parameters (`name=value`, Part 3's shortcuts),
    /// all of which must hold. `None` when there is none.
    pub fn of(collection: &dyn Collection, query: &ItemsQuery) -> Result<Option<Filter>, Problem> {
        let queryables = collection.queryables();
        let kinds: HashMap<String, Kind> = queryables
            .iter()
            .map(|q| (q.name.to_owned(), q.kind))
            .chain([
                ("id".to_owned(), Kind::Text),
                ("geometry".to_owned(), Kind::Geometry),
            ])
            .collect();
        let mut terms = Vec::new();
        // A National Grid box is a slightly turned quadrilateral in
        // degrees: the index selects by the box round it, and this keeps
        // only what meets the quadrilateral itself.
        if let Some([a, b, c, d]) = query.bbox_shape {
            let ring = geo::LineString::from(
                vec![a, b, c, d, a]
                    .into_iter()
                    .map(|[x, y]| (x, y))
                    .collect::<Vec<_>>(),
            );
            terms.push(cql2::Expr::Spatial(
                "s_intersects",
                cql2::Scalar::Property("geometry".to_owned()),
                cql2::Scalar::Geometry(Box::new(geo::Geometry::Polygon(geo::Polygon::new(
                    ring,
                    vec![],
                )))),
            ));
        }
        if let Some((text, lang)) = &query.cql {
            let expr = cql2::parse(text, lang).map_err(|e| refused(&e))?;
            cql2::check(&expr, &kinds).map_err(|e| refused(&e))?;
            terms.push(expr);
        }
        let own = collection.parameters();
        for (name, value) in &query.extra {
            let Some(q) = queryables.iter().find(|q| q.name == name.as_str()) else {
                continue;
            };
            if own.contains(&q.name) {
                continue;
            }
            let literal = match q.kind {
                Kind::Number => value.parse().map(cql2::Scalar::Number).ok(),
                Kind::Bool => value.parse().map(cql2::Scalar::Bool).ok(),
                _ => Some(cql2::Scalar::Text(value.clone())),
            }
            .ok_or_else(|| {
                Problem::bad_parameter(
                    "invalid-filter",
                    q.name,
                    format!("`{value}` is not a {:?}", q.kind),
                )
            })?;
            terms.push(cql2::Expr::Compare(
                "=",
                cql2::Scalar::Property(q.name.to_owned()),
                literal,
            ));
        }
        Ok(match terms.len() {
            0 => None,
            1 => Some(Filter {
                expr: terms.remove(0),
                kinds,
            }),
            _ => Some(Filter {
                expr: cql2::Expr::And(terms),
                kinds,
            }),
        })
    }

    /// Whether a feature, as shown, meets it.
    pub fn keeps(&self, feature: &Value) -> bool {
        cql2::matches(&self.expr, feature, &self.kinds)
    }
}

fn refused(e: &cql2::FilterError) -> Problem {
    Problem::bad_parameter("invalid-filter", "filter", &e.message)
}

/// The names of a collection's queryables that may be given as parameters.
pub fn shortcut_names(collection: &dyn Collection) -> Vec<&'static str> {
    collection
        .queryables()
        .iter()
        .map(|q| q.name)
        .filter(|n| *n != "geometry")
        .collect()
}

/// A collection's queryables as a JSON Schema.
pub fn queryables_document(collection: &dyn Collection, base: &str) -> Value {
    let id = collection.id();
    let properties: Map<String, Value> = collection
        .queryables()
        .iter()
        .map(|q| (q.name.to_owned(), q.schema()))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": format!("{base}/ogc/collections/{id}/queryables"),
        "type": "object",
        "title": collection.id(),
        "properties": properties,
        "additionalProperties": false,
    })
}

/// One `items` or `item` request, parsed as far as every collection shares.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The state.
    pub state: &'a AppState,
    /// Who asks.
    pub viewer: &'a Viewer,
    /// The base URL links are made under.
    pub base: String,
    /// The query, parsed with this collection's parameters.
    pub query: ItemsQuery,
    /// Its filter, if it has one.
    pub filter: Option<Filter>,
}

/// A layer served as an OGC API – Features collection.
pub trait Collection: Send + Sync + 'static {
    /// Its id in `/ogc/collections/{id}`.
    fn id(&self) -> &'static str;

    /// Title, description, extent.
    fn describe(&self, state: &AppState) -> Description;

    /// Query parameters it takes beyond the common ones (`bbox`,
    /// `bbox-crs`, `datetime`, `limit`, `cursor`, `f`).
    fn parameters(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// What it can be filtered on.
    fn queryables(&self) -> Vec<Queryable> {
        vec![Queryable::geometry()]
    }

    /// Query parameters its single-item read takes beyond the common ones.
    fn item_parameters(&self) -> Vec<&'static str> {
        self.parameters()
    }

    /// What a tool's read of it is recorded as.
    fn disclosed_as(&self) -> &'static str;

    /// Every feature matching the request, as its viewer is shown them.
    fn select<'a>(&'a self, request: &'a Request<'a>) -> Answer<'a, Selection>;

    /// One page of items. By default: the selection, paged by offset
    /// (`cursor` is the offset of the page).
    fn items<'a>(&'a self, request: Request<'a>) -> Answer<'a, Response> {
        Box::pin(selected_page(self.id(), self.disclosed_as(), self, request))
    }

    /// One item by id. By default: the selection for the request's
    /// parameters, searched for the id (so an aggregate cell is found by
    /// its cell code under the same parameters that made it).
    fn item<'a>(&'a self, request: Request<'a>, id: String) -> Answer<'a, Response> {
        Box::pin(async move {
            let selection = self.select(&request).await?;
            let feature = selection
                .find(&id)
                .ok_or_else(|| Problem::not_found().detail("no such feature"))?;
            single(self.id(), self.disclosed_as(), &request, feature, &id)
        })
    }
}

/// Whether a feature has this id (ids may be numbers or strings).
fn id_matches(feature: &Value, id: &str) -> bool {
    match &feature["id"] {
        Value::String(s) => s == id,
        Value::Number(n) => n.to_string() == id,
        _ => false,
    }
}

/// The URL of `path` under `base` with these query pairs.
pub fn with_query(url: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return url.to_owned();
    }
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{url}?{q}")
}

/// The links of a page: `self`, `collection`, and `next`/`prev` cursors
/// where there are more before or after.
pub fn page_links(
    base: &str,
    collection: &str,
    query: &ItemsQuery,
    next: Option<String>,
    prev: Option<String>,
) -> Vec<Value> {
    let items_url = format!("{base}/ogc/collections/{collection}/items");
    let mut here = query.kept.clone();
    if let Some(cursor) = &query.cursor {
        here.push(("cursor".into(), cursor.clone()));
    }
    let mut links = vec![
        link(with_query(&items_url, &here), "self", GEOJSON, "This page"),
        link(
            format!("{base}/ogc/collections/{collection}"),
            "collection",
            "application/json",
            "The collection",
        ),
    ];
    for (rel, cursor, title) in [("next", next, "Next page"), ("prev", prev, "Previous page")] {
        if let Some(cursor) = cursor {
            let mut pairs = query.kept.clone();
            if !cursor.is_empty() {
                pairs.push(("cursor".into(), cursor));
            }
            links.push(link(with_query(&items_url, &pairs), rel, GEOJSON, title));
        }
    }
    links
}

/// The page the request asks for of what the collection selects (and the
/// filter keeps), as a FeatureCollection marked for the disclosure layer.
pub async fn selected_page<C: Collection + ?Sized>(
    collection: &'static str,
    disclosed_as: &'static str,
    layer: &C,
    request: Request<'_>,
) -> Result<Response, Problem> {
    let selection = layer.select(&request).await?;
    let selection = filtered(&request, selection, true).await?;
    page(collection, disclosed_as, &request, selection)
}

/// The selection the request's filter keeps (all of it without one).
/// Every feature is written and tested: costly work, so it counts against
/// the principal's budget of aggregate queries (unless `charge` is false:
/// the caller charged) and runs on the bounded analysis pool within its
/// time budget.
async fn filtered(
    request: &Request<'_>,
    mut selection: Selection,
    charge: bool,
) -> Result<Selection, Problem> {
    if let Some(filter) = request.filter.clone() {
        let (state, viewer) = (request.state, request.viewer);
        if charge {
            state
                .charge(viewer, crate::service::budget::Kind::Aggregate)
                .await?;
        }
        let extra = std::mem::take(&mut selection.extra);
        let kept = state
            .analysis
            .run("filter", move |budget| {
                let mut kept = Vec::new();
                for i in 0..selection.len {
                    if i % 512 == 0 {
                        budget.check()?;
                    }
                    let feature = (selection.render)(i);
                    if filter.keeps(&feature) {
                        kept.push(feature);
                    }
                }
                Ok(kept)
            })
            .await?;
        selection = Selection::of(kept).with(extra);
    }
    Ok(selection)
}

/// A download asked for without saying why.
pub fn purpose_required() -> Problem {
    Problem::bad_parameter(
        "purpose-required",
        "purpose",
        "a download leaves the service: state why (purpose=…); it is kept in the audit trail",
    )
}

/// Most features one download may hold.
pub const MAX_DOWNLOAD: usize = 100_000;

/// Every feature the request selects (and its filter keeps), as a file in
/// `format`: the same features, as shown, as the GeoJSON answer. A
/// disclosure with its stated purpose, recorded before the file is sent,
/// whoever asks (a person in the app or a tool).
pub async fn download(
    layer: &dyn Collection,
    request: Request<'_>,
    format: Format,
    purpose: &str,
) -> Result<Response, Problem> {
    let (state, viewer) = (request.state, request.viewer);
    let purpose = purpose.trim();
    if purpose.is_empty() {
        return Err(purpose_required());
    }
    if purpose.chars().count() > 500 {
        return Err(Problem::bad_parameter(
            "too-long",
            "purpose",
            "a purpose is at most 500 characters",
        ));
    }
    let warnings = crate::domain::lint::lint("purpose", purpose);
    if !warnings.is_empty() {
        return Err(crate::service::ServiceError::PersonalIdentifiers(warnings).into());
    }
    state
        .charge(viewer, crate::service::budget::Kind::Aggregate)
        .await?;
    let selection = layer.select(&request).await?;
    let selection = filtered(&request, selection, false).await?;
    if selection.len() > MAX_DOWNLOAD {
        return Err(crate::service::ServiceError::TooCostly {
            parameter: "bbox",
            detail: format!(
                "{} features match; a download holds at most {MAX_DOWNLOAD}: narrow the box, the dates or the filter",
                selection.len()
            ),
        }
        .into());
    }
    let crs = request.query.crs;
    let id = layer.id();
    let matched = selection.len();
    // A place among the downloads being written, taken before anything is
    // recorded: when all are taken the answer is busy, and nothing was
    // disclosed.
    let place = state.downloads.place().await?;
    let filters = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            request
                .query
                .kept
                .iter()
                .filter(|(name, _)| name != "purpose"),
        )
        .finish();
    // Long selections (a long filter) keep their start and a digest.
    let filters = if filters.chars().count() > 500 {
        use sha2::Digest;
        format!(
            "{}… (sha256 {})",
            filters.chars().take(400).collect::<String>(),
            hex::encode(sha2::Sha256::digest(filters.as_bytes()))
        )
    } else {
        filters
    };
    // Who asked, and how: a tool's token or the command line is named, so
    // a script's download is never taken for a person's.
    let via = match &viewer.credential {
        crate::domain::viewer::Credential::Token { id, .. } => format!(" (token {id})"),
        crate::domain::viewer::Credential::Console => " (command line)".to_owned(),
        _ => String::new(),
    };
    let entry = crate::store::AuditEntry::by(
        viewer,
        crate::domain::vocabulary::AuditAction::Disclosure,
        "download",
        format!(
            "{id}: {matched} features as {}{via}; {filters}",
            format.extension()
        ),
        "",
        Some(purpose),
        state.clock.now(),
    );
    if !Box::pin(state.audit.record(entry)).await {
        // Nothing is disclosed that is not on the record first; the record
        // could not be made because the store is out of reach or busy.
        return Err(Problem::store_unavailable());
    }
    // Written as it is sent, off the HTTP workers: the features in the
    // file's own axis order, each as the GeoJSON answer shows it.
    let written_in = format.written_in(crs);
    let render = selection.render;
    let nth = move |i: usize| {
        let mut feature = render(i);
        written_in
            .transform_feature(&mut feature)
            .then_some(feature)
    };
    let body = axum::body::Body::from_stream(crate::render::download::stream(
        format,
        id.to_owned(),
        crs,
        matched,
        Box::new(nth),
        place,
        state.downloads.budget(),
    ));
    let mut response = with_crs(body.into_response(), crs);
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(format.media_type()),
    );
    // How many features the file holds, for the app to say so (and not
    // save an empty file) without reading it.
    headers.insert("x-number-matched", axum::http::HeaderValue::from(matched));
    let name = format!(
        "attachment; filename=\"safetymap-{id}-{}.{}\"",
        state.clock.now().format("%Y-%m-%d"),
        format.extension()
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&name) {
        headers.insert(axum::http::header::CONTENT_DISPOSITION, value);
    }
    // Recorded above, with its purpose.
    Ok(crate::api::disclosure::audited(response))
}

/// The page of `selection` the request asks for, as a FeatureCollection
/// marked for the disclosure layer.
fn page(
    collection: &str,
    disclosed_as: &'static str,
    request: &Request<'_>,
    selection: Selection,
) -> Result<Response, Problem> {
    let query = &request.query;
    let offset = match &query.cursor {
        None => 0,
        Some(c) => c.parse::<usize>().map_err(|_| {
            Problem::bad_parameter("invalid-cursor", "cursor", "use the next link as given")
        })?,
    };
    let matched = selection.len();
    let features: Vec<Value> = (offset.min(matched)
        ..matched.min(offset.saturating_add(query.limit)))
        .map(|i| (selection.render)(i))
        .filter_map(|mut f| query.crs.transform_feature(&mut f).then_some(f))
        .collect();
    let returned = features.len();
    let next = (offset + returned < matched).then(|| (offset + returned).to_string());
    let prev = (offset > 0).then(|| {
        let back = offset.saturating_sub(query.limit);
        if back == 0 {
            String::new()
        } else {
            back.to_string()
        }
    });
    let mut body = json!({
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": returned,
        "timeStamp": Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "features": features,
        "links": page_links(&request.base, collection, query, next, prev),
    });
    if let Some(map) = body.as_object_mut() {
        map.extend(selection.extra);
    }
    let bytes = serde_json::to_vec(&body).map_err(|_| Problem::internal())?;
    Ok(disclosed(
        with_crs(geojson_response(bytes), query.crs),
        disclosed_as,
        returned,
    ))
}

/// Says which CRS an answer's coordinates are in (Part 2's `Content-Crs`).
pub fn with_crs(mut response: Response, crs: Crs) -> Response {
    if let Ok(value) = axum::http::HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        response.headers_mut().insert("content-crs", value);
    }
    response
}

/// One feature with its links, marked for the disclosure layer.
pub fn single(
    collection: &str,
    disclosed_as: &'static str,
    request: &Request<'_>,
    mut feature: Value,
    id: &str,
) -> Result<Response, Problem> {
    if !request.query.crs.transform_feature(&mut feature) {
        return Err(Problem::bad_parameter(
            "unsupported-crs",
            "crs",
            "this feature lies outside the CRS's cover",
        ));
    }
    let base = &request.base;
    let item_url = format!(
        "{base}/ogc/collections/{collection}/items/{}",
        form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    );
    if let Some(map) = feature.as_object_mut() {
        map.insert(
            "links".into(),
            json!([
                link(
                    with_query(&item_url, &request.query.kept),
                    "self",
                    GEOJSON,
                    "This feature"
                ),
                link(
                    format!("{base}/ogc/collections/{collection}"),
                    "collection",
                    "application/json",
                    "The collection"
                ),
            ]),
        );
    }
    let bytes = serde_json::to_vec(&feature).map_err(|_| Problem::internal())?;
    Ok(disclosed(
        with_crs(geojson_response(bytes), request.query.crs),
        disclosed_as,
        1,
    ))
}

/// A collection's description document.
pub fn document(collection: &dyn Collection, state: &AppState, base: &str) -> Value {
    let id = collection.id();
    let d = collection.describe(state);
    let mut extent = Map::new();
    if let Some([x0, y0, x1, y1]) = d.bbox {
        extent.insert(
            "spatial".into(),
            json!({ "bbox": [[x0, y0, x1, y1]], "crs": CRS84 }),
        );
    }
    if d.temporal {
        extent.insert(
            "temporal".into(),
            json!({
                "interval": [[null, null]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
            }),
        );
    }
    let mut document = json!({
        "id": id,
        "title": d.title,
        "description": d.description,
        "itemType": "feature",
        "crs": Crs::ALL.map(Crs::uri),
        "storageCrs": CRS84,
        "extent": extent,
        "links": [
            link(format!("{base}/ogc/collections/{id}"), "self", "application/json", "This collection"),
            link(format!("{base}/ogc/collections/{id}/items"), "items", GEOJSON, "Items as GeoJSON"),
        ]
    });
    if let Some(Value::Array(links)) = document.get_mut("links") {
        links.extend(crate::api::tilejson::links(base, id));
    }
    let mut more = d.more;
    if let Some(Value::Array(extra)) = more.remove("links") {
        if let Some(Value::Array(links)) = document.get_mut("links") {
            links.extend(extra);
        }
    }
    if let Some(map) = document.as_object_mut() {
        map.extend(more);
    }
    document
}
