//! Vector tiles (MVT, Web Mercator, XYZ) at `/tiles/{layer}/{z}/{x}/{y}`
//! for observations, grid counts, hot spots and the police.uk layer.
//!
//! Tiles are built from the same index, the same privacy decisions and the
//! same suppression as the GeoJSON paths, then cached per viewer: an entry
//! is keyed by the layer, the tile, the query and who is looking, and is
//! stale as soon as the index (or the police layer) moves on, so a write is
//! visible on the next request. Each tile carries an `ETag` (a hash of its
//! bytes); `If-None-Match` with it answers `304`. A tile is gzipped once,
//! when a client that accepts gzip first asks for it; the route skips the
//! per-request span and compression layers the rest of the API has, since
//! a map asks for dozens of tiles at a time.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::analysis::{
    grid_parameter, hotspot_parameters, run_hotspots, shown_points, HOTSPOT_PARAMETERS,
};
use super::disclosure::disclosed;
use super::features::ItemsQuery;
use super::problem::Problem;
use super::AppState;
use crate::analysis::{HotspotRun, ShownCount, Suppression};
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::{DayKind, Role, TimeBand};
use crate::index::LayerFilter;
use crate::mvt::{encode, Layer, TileId, Value};
use crate::privacy::Precision;

/// The media type of a vector tile.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";
/// Tile units of margin around each tile, so symbols at the edge are drawn
/// whole on both sides.
const BUFFER: u32 = 64;
/// Entries kept before the cache starts again (a simple bound: tiles are
/// cheap to rebuild, and a full clear keeps the bookkeeping off the hot path).
const MAX_ENTRIES: usize = 20_000;
/// Bytes kept before the cache starts again.
const MAX_BYTES: usize = 256 << 20;

/// What a tile is of: the layer, the tile, the query and who is looking.
/// Entries are found by a hash of this and then compared whole, so that a
/// hash collision can only ever miss, never hand one viewer another's tile.
#[derive(Debug)]
struct Identity {
    layer: &'static str,
    tile: TileId,
    query: Box<str>,
    principal: Box<str>,
    role: Role,
    agency: Box<str>,
}

impl Identity {
    /// The hash a request looks its tile up by, from borrowed parts (a
    /// cached tile is a few microseconds of work; building an owned key
    /// for each was a measurable part of it).
    fn hash(layer: &str, tile: TileId, query: &str, viewer: &Viewer) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (layer, tile, query).hash(&mut h);
        (
            viewer.principal.as_str(),
            viewer.role.code(),
            viewer.agency.as_str(),
        )
            .hash(&mut h);
        h.finish()
    }

    fn new(layer: &'static str, tile: TileId, query: &str, viewer: &Viewer) -> Identity {
        Identity {
            layer,
            tile,
            query: query.into(),
            principal: viewer.principal.as_str().into(),
            role: viewer.role,
            agency: viewer.agency.as_str().into(),
        }
    }

    fn is(&self, layer: &str, tile: TileId, query: &str, viewer: &Viewer) -> bool {
        self.layer == layer
            && self.tile == tile
            && *self.query == *query
            && self.role == viewer.role
            && *self.principal == *viewer.principal
            && *self.agency == *viewer.agency
    }
}

/// One cached tile.
#[derive(Debug)]
struct Cached {
    identity: Identity,
    generation: u64,
    body: Bytes,
    /// The same, gzipped once, when a client that accepts gzip first asks
    /// for it (tiles skip the per-response compression layer; clients that
    /// do not accept it never pay for it).
    gzipped: std::sync::OnceLock<Bytes>,
    etag: HeaderValue,
}

impl Cached {
    /// Bytes the entry may come to hold: the tile, and at most as much
    /// again gzipped (an MVT never grows by more than gzip's header).
    fn weight(&self) -> usize {
        2 * self.body.len() + 32
    }
}

#[derive(Debug, Default)]
struct Entries {
    /// By [`Identity::hash`].
    tiles: HashMap<u64, Arc<Cached>>,
    bytes: usize,
    runs: HashMap<String, (u64, Arc<HotspotRun>)>,
}

/// Encoded tiles, per viewer, and the hot-spot runs they are cut from.
#[derive(Debug, Default)]
pub struct TileCache {
    entries: Mutex<Entries>,
}

impl TileCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(
        &self,
        key: u64,
        generation: u64,
        is: impl FnOnce(&Identity) -> bool,
    ) -> Option<Arc<Cached>> {
        let found = self
            .lock()
            .tiles
            .get(&key)
            .filter(|c| c.generation == generation && is(&c.identity))
            .cloned();
        crate::telemetry::cache_lookup("tiles", found.is_some());
        found
    }

    fn put(&self, key: u64, cached: Arc<Cached>) {
        let mut entries = self.lock();
        if entries.tiles.len() >= MAX_ENTRIES || entries.bytes + cached.weight() > MAX_BYTES {
            entries.tiles.clear();
            entries.bytes = 0;
        }
        entries.bytes += cached.weight();
        if let Some(old) = entries.tiles.insert(key, cached) {
            entries.bytes -= old.weight();
        }
    }

    fn run(&self, key: &str, generation: u64) -> Option<Arc<HotspotRun>> {
        self.lock()
            .runs
            .get(key)
            .filter(|(g, _)| *g == generation)
            .map(|(_, r)| r.clone())
    }

    fn put_run(&self, key: String, generation: u64, run: Arc<HotspotRun>) {
        let mut entries = self.lock();
        // A run is big (every cell of the study area); keep a few.
        if entries.runs.len() >= 16 {
            entries.runs.clear();
        }
        entries.runs.insert(key, (generation, run));
    }

    /// How many tiles are cached (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.lock().tiles.len()
    }

    /// How many tiles are cached and about how many bytes they hold.
    pub fn size(&self) -> (usize, usize) {
        let entries = self.lock();
        (entries.tiles.len(), entries.bytes)
    }

    /// Whether no tile is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Who is looking, as far as what a tile shows depends on it.
fn viewer_key(viewer: &Viewer) -> String {
    format!(
        "{}|{}|{}",
        viewer.principal,
        viewer.role.code(),
        viewer.agency
    )
}

fn tile_id(z: &str, x: &str, y: &str) -> Result<TileId, Problem> {
    let y = y
        .strip_suffix(".mvt")
        .or_else(|| y.strip_suffix(".pbf"))
        .unwrap_or(y);
    let parse = |v: &str| v.parse::<u32>().ok();
    parse(z)
        .zip(parse(x))
        .zip(parse(y))
        .and_then(|((z, x), y)| TileId::new(z, x, y))
        .ok_or_else(|| Problem::not_found().detail("no such tile: zoom 0–22, x and y within it"))
}

fn observations_tile(
    state: &AppState,
    viewer: &Viewer,
    tile: TileId,
    filter: &LayerFilter,
) -> Layer {
    let scope = state.index.scope(viewer);
    let agencies = scope.agency_names();
    let mut layer = Layer::new("observations");
    let filter = LayerFilter {
        bbox: Some(tile.bounds(BUFFER)),
        ..filter.clone()
    };
    scope.for_each(&filter, |o| {
        let agency = agencies
            .get(usize::from(o.agency))
            .map_or("", String::as_str);
        layer.point(
            u64::try_from(o.id).ok(),
            tile.project(o.position),
            // The id is the feature's own id, not a property.
            &[
                ("category", Value::Text(o.category.code())),
                ("severity", Value::Text(o.severity.code())),
                ("status", Value::Text(o.status.code())),
                ("sensitivity", Value::Text(o.sensitivity.code())),
                ("setting", Value::Text(o.setting.code())),
                ("agency", Value::Text(agency)),
                (
                    "time_band",
                    Value::Text(TimeBand::of_hour(o.local_hour).code()),
                ),
                (
                    "day",
                    Value::Text(DayKind::of_weekday(o.local_weekday).code()),
                ),
                (
                    "precision",
                    Value::Text(match o.precision {
                        Precision::Exact => "exact",
                        Precision::Generalised => "bng-100m",
                        Precision::Hidden => "hidden",
                    }),
                ),
            ],
        );
    });
    layer
}

fn cell_tags(count: u32, suppression: &Suppression) -> Vec<(&'static str, Value<'static>)> {
    match suppression.show(count) {
        ShownCount::Exact(n) => vec![
            ("count", Value::Int(i64::from(n))),
            ("suppressed", Value::Bool(false)),
        ],
        ShownCount::Suppressed => vec![("suppressed", Value::Bool(true))],
    }
}

fn grid_tile(
    state: &AppState,
    viewer: &Viewer,
    tile: TileId,
    query: &ItemsQuery,
) -> Result<Layer, Problem> {
    let grid = grid_parameter(query)?;
    let suppression = Suppression::for_role(viewer.role, state.settings.small_count_threshold);
    // Cells straddling the tile's edge need every point of the cell, so
    // widen the box by a cell (at most 500 m: under 0.01°).
    let [w, s, e, n] = tile.bounds(BUFFER);
    let pad = 0.01;
    let filter = LayerFilter {
        bbox: Some([w - pad, s - pad, e + pad, n + pad]),
        ..query.filter.clone()
    };
    let points = shown_points(state, viewer, &filter);
    let counts = crate::analysis::grid::count(grid, points.iter().map(|p| (p.e, p.n)));
    let mut layer = Layer::new("grid");
    let mut cells: Vec<_> = counts.into_iter().collect();
    cells.sort_unstable();
    for (cell, count) in cells {
        let Some(ring) = grid.outline(cell) else {
            continue;
        };
        let ring: Vec<(i32, i32)> = ring.iter().map(|&p| tile.project(p)).collect();
        layer.polygon(None, &ring, &cell_tags(count, &suppression));
    }
    Ok(layer)
}

async fn hotspot_tile(
    state: &AppState,
    viewer: &Viewer,
    tile: TileId,
    query: &ItemsQuery,
    raw: &str,
    generation: u64,
) -> Result<Layer, Problem> {
    let parameters = hotspot_parameters(query)?;
    let suppression = Suppression::for_role(viewer.role, state.settings.small_count_threshold);
    // Gi* compares each cell with the whole study area, so it runs once per
    // query and viewer (not per tile) and tiles are cut from the run.
    let key = format!("{raw}#{}", viewer_key(viewer));
    let run = match state.tiles.run(&key, generation) {
        Some(run) => run,
        None => {
            let (work_state, work_viewer, filter) =
                (state.clone(), viewer.clone(), query.filter.clone());
            let run = state
                .analysis
                .run("cell", move |budget| {
                    let points = shown_points(&work_state, &work_viewer, &filter);
                    run_hotspots(&filter, &points, parameters, &suppression, budget)
                })
                .await?;
            let run = Arc::new(run);
            state.tiles.put_run(key, generation, run.clone());
            run
        }
    };
    let [w, s, e, n] = tile.bounds(BUFFER);
    let mut layer = Layer::new("hotspots");
    for (i, &cell) in run.cells.iter().enumerate() {
        let class = run.result.class[i];
        if run.counts[i] == 0 && class == 0 {
            continue;
        }
        let Some(centre) = run.grid.centre_lonlat(cell) else {
            continue;
        };
        let pad = 0.01;
        if centre[0] < w - pad || centre[0] > e + pad || centre[1] < s - pad || centre[1] > n + pad
        {
            continue;
        }
        let Some(ring) = run.grid.outline(cell) else {
            continue;
        };
        let ring: Vec<(i32, i32)> = ring.iter().map(|&p| tile.project(p)).collect();
        let mut tags = cell_tags(run.counts[i], &suppression);
        // Where a count is withheld, so is everything derived from it
        // (and it entered the statistic as a constant).
        if run.is_withheld(i) {
            layer.polygon(None, &ring, &tags);
            continue;
        }
        tags.push(("class", Value::Int(i64::from(class))));
        if run.result.z[i].is_finite() {
            tags.push(("z", Value::Double(run.result.z[i])));
            tags.push(("p", Value::Double(run.result.p[i])));
        }
        layer.polygon(None, &ring, &tags);
    }
    Ok(layer)
}

fn police_tile(state: &AppState, tile: TileId, query: &super::police::PoliceQuery) -> Layer {
    let snapshot = state.police.snapshot();
    let mut layer = Layer::new("police-crimes");
    let [w, s, e, n] = tile.bounds(BUFFER);
    for p in snapshot
        .tree
        .locate_in_envelope(&rstar::AABB::from_corners([w, s], [e, n]))
        .filter(|p| query.keeps(p))
    {
        let crime_type = snapshot
            .types
            .get(usize::from(p.crime_type))
            .map_or("", String::as_str);
        let code = crate::import::police::type_code(crime_type);
        let month = crate::import::police::month_text(p.month);
        layer.point(
            None,
            tile.project(p.position),
            &[
                ("crime_type", Value::Text(&code)),
                ("crime_type_name", Value::Text(crime_type)),
                ("month", Value::Text(&month)),
            ],
        );
    }
    layer
}

fn etag_of(body: &[u8]) -> HeaderValue {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    HeaderValue::from_str(&format!("\"{:016x}\"", h.finish()))
        .unwrap_or(HeaderValue::from_static("\"0\""))
}

fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3 + 64),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    Bytes::from(encoder.finish().unwrap_or_default())
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

fn reply(cached: &Cached, headers: &HeaderMap) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == cached.etag.to_str().unwrap_or(""))
        });
    let common = [
        (header::ETAG, cached.etag.clone()),
        // Browsers may keep a tile but must ask again each time; the ETag
        // makes asking cheap. Never shared: tiles differ by viewer.
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        ),
        (
            header::VARY,
            HeaderValue::from_static("Cookie, Authorization, Accept-Encoding"),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let gzipped = accepts_gzip(headers) && !cached.body.is_empty();
    let body = if gzipped {
        cached.gzipped.get_or_init(|| gzip(&cached.body)).clone()
    } else {
        cached.body.clone()
    };
    let mut response = (common, body).into_response();
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
    if gzipped {
        out.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// `GET /tiles/{layer}/{z}/{x}/{y}`: one vector tile of `observations`,
/// `grid`, `hotspots` or `police-crimes`, for the same query parameters as
/// the layer's collection.
///
/// Tiles are data, never documents, so they carry `nosniff` and their own
/// cache headers rather than the page headers (CSP, framing, referrer,
/// permissions) every other answer gets through a middleware, which costs a
/// tenth of a cached tile's time. Refusals (401, 403, 400) get the same.
///
/// The path and query are read from the request rather than extracted: the
/// route's four segments are plain ASCII, and a cached tile should cost no
/// more than finding it.
pub async fn tile(
    State(state): State<AppState>,
    viewer: Result<Viewer, Problem>,
    request: Request,
) -> Response {
    let answer = match viewer {
        Ok(viewer) => make_tile(&state, viewer, &request.into_parts().0).await,
        Err(refused) => Err(refused),
    };
    let mut response = answer.unwrap_or_else(IntoResponse::into_response);
    let out = response.headers_mut();
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !out.contains_key(header::CACHE_CONTROL) {
        out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn make_tile(state: &AppState, viewer: Viewer, request: &Parts) -> Result<Response, Problem> {
    let headers = &request.headers;
    // `/tiles/{layer}/{z}/{x}/{y}`, as routed.
    let mut segments = request.uri.path().rsplit('/');
    let mut segment = || segments.next().unwrap_or("");
    let (y, x, z, layer) = (segment(), segment(), segment(), segment());
    let tile = tile_id(z, x, y)?;
    super::allow(&viewer, Action::ReadLayers)?;
    let raw = request.uri.query();
    let raw_text = raw.unwrap_or("");
    // Read the generation before the data: content cached under it is
    // never older than it (see `SpatialIndex::generation`).
    let (layer, generation, audited_as) = match layer {
        "police-crimes" => (
            "police-crimes",
            state.police.generation(),
            "police-crimes-tiles",
        ),
        "observations" => (
            "observations",
            state.index.generation(),
            "observations-tiles",
        ),
        "grid" => ("grid", state.index.generation(), "grid-tiles"),
        "hotspots" => ("hotspots", state.index.generation(), "hotspots-tiles"),
        _ => {
            return Err(Problem::not_found()
                .detail("no such tile layer: observations, grid, hotspots or police-crimes"))
        }
    };
    let key = Identity::hash(layer, tile, raw_text, &viewer);
    let cache = state.settings.tile_cache;
    let found = cache
        .then(|| {
            state.tiles.get(key, generation, |identity| {
                identity.is(layer, tile, raw_text, &viewer)
            })
        })
        .flatten();
    if let Some(cached) = found {
        return Ok(disclosed(reply(&cached, headers), audited_as, 1));
    }
    tracing::debug!(generation, cached = state.tiles.len(), "tile cache miss");
    if matches!(layer, "grid" | "hotspots") {
        // Aggregates made afresh count against the viewer's budget.
        Box::pin(state.charge(&viewer, crate::service::budget::Kind::Aggregate)).await?;
    }
    let encoded = match layer {
        "observations" => {
            let query = ItemsQuery::parse(raw)?;
            let l = observations_tile(state, &viewer, tile, &query.filter);
            encode(&[l])
        }
        "grid" => {
            let query = ItemsQuery::parse_with(raw, &["cell", "shape"])?;
            encode(&[grid_tile(state, &viewer, tile, &query)?])
        }
        "hotspots" => {
            let query = ItemsQuery::parse_with(raw, HOTSPOT_PARAMETERS)?;
            // Boxed: only hot-spot tiles wait for the analysis pool, and
            // every tile's future would otherwise carry room for it.
            encode(&[Box::pin(hotspot_tile(
                state, &viewer, tile, &query, raw_text, generation,
            ))
            .await?])
        }
        _ => {
            let query = super::police::PoliceQuery::parse(raw, &state.police.snapshot())?;
            encode(&[police_tile(state, tile, &query)])
        }
    };
    let cached = Arc::new(Cached {
        identity: Identity::new(layer, tile, raw_text, &viewer),
        generation,
        etag: etag_of(&encoded),
        gzipped: std::sync::OnceLock::new(),
        body: Bytes::from(encoded),
    });
    if cache {
        state.tiles.put(key, cached.clone());
    }
    Ok(disclosed(reply(&cached, headers), audited_as, 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::viewer::Credential;

    fn viewer(principal: &str, role: Role, agency: &str) -> Viewer {
        Viewer {
            principal: principal.into(),
            name: "Test viewer".into(),
            agency: agency.into(),
            role,
            admin: false,
            credential: Credential::Session,
        }
    }

    fn tile_for(viewer: &Viewer, tile: TileId, query: &str) -> Arc<Cached> {
        Arc::new(Cached {
            identity: Identity::new("observations", tile, query, viewer),
            generation: 7,
            body: Bytes::from_static(b"tile"),
            gzipped: std::sync::OnceLock::new(),
            etag: etag_of(b"tile"),
        })
    }

    #[test]
    fn a_cached_tile_found_under_another_viewers_hash_is_not_handed_out() {
        let cache = TileCache::default();
        let tile = TileId::new(14, 8054, 5441).expect("a tile");
        let owner = viewer("user:1", Role::PanelMember, "police");
        let other = viewer("user:2", Role::PanelMember, "police");
        let key = Identity::hash("observations", tile, "", &owner);
        cache.put(key, tile_for(&owner, tile, ""));
        // The same slot, as if the other viewer's hash had collided with it.
        let found = |v: &Viewer, query: &str, generation| {
            cache
                .get(key, generation, |i| i.is("observations", tile, query, v))
                .is_some()
        };
        assert!(found(&owner, "", 7));
        assert!(!found(&other, "", 7), "another person");
        assert!(
            !found(&viewer("user:1", Role::Coordinator, "police"), "", 7),
            "the same person in another role"
        );
        assert!(
            !found(&viewer("user:1", Role::PanelMember, "health"), "", 7),
            "the same person for another agency"
        );
        assert!(!found(&owner, "category=drugs", 7), "another query");
        assert!(!found(&owner, "", 8), "after a write");
        assert!(
            cache
                .get(key, 7, |i| i.is("grid", tile, "", &owner))
                .is_none(),
            "another layer"
        );
    }

    #[test]
    fn lookups_hash_the_layer_tile_query_and_viewer() {
        let tile = TileId::new(12, 2012, 1359).expect("a tile");
        let next = TileId::new(12, 2013, 1359).expect("a tile");
        let a = viewer("user:1", Role::PanelMember, "police");
        let b = viewer("user:2", Role::PanelMember, "police");
        let h = Identity::hash("observations", tile, "", &a);
        assert_eq!(h, Identity::hash("observations", tile, "", &a));
        assert_ne!(h, Identity::hash("observations", next, "", &a));
        assert_ne!(h, Identity::hash("grid", tile, "", &a));
        assert_ne!(h, Identity::hash("observations", tile, "status=open", &a));
        assert_ne!(h, Identity::hash("observations", tile, "", &b));
    }
}
