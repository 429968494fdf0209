//! Aggregate layers: grid counts, Gi\* hot spots, DBSCAN clusters and time
//! profiles, each over what the viewer may see, for any observation filter.
//!
//! Positions are taken as shown to the viewer (generalised ones at their
//! square's centre), and counts below the small-count threshold are
//! suppressed for roles below coordinator, on every path: these GeoJSON
//! collections, the time profile, and the grid and hot-spot tiles.

use std::collections::{HashMap, HashSet};

use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use super::disclosure::disclosed;
use super::features::ItemsQuery;
use super::ogc::Selection;
use super::problem::Problem;
use super::AppState;
use crate::analysis::dbscan::dbscan_within;
use crate::analysis::gistar::Weights;
use crate::analysis::gistar::MAX_BAND_CELLS;
use crate::analysis::grid::{grid_position, Cell, Grid, Shape, CELL_SIZES};
use crate::analysis::OverBudget;
use crate::analysis::{
    extent, hot_spots_on, hot_spots_within, time_profile, Budget, CountView, HotspotRun,
    ShownCount, Suppression,
};
use crate::domain::viewer::{Action, Viewer};
use crate::index::{LayerFilter, ShownObservation};
use crate::service::budget::Kind;
use crate::service::ServiceError;

/// Most cells one Gi\* run may cover: enough for Gwent at 250 m.
pub const MAX_STUDY_CELLS: usize = 400_000;

/// One observation as the viewer is shown it, in grid metres.
#[derive(Debug, Clone, Copy)]
pub struct ShownPoint {
    /// Easting, metres.
    pub e: f64,
    /// Northing, metres.
    pub n: f64,
    /// The record as shown.
    pub entry: ShownObservation,
}

/// Everything matching `filter` that `viewer` may see, at shown positions.
pub fn shown_points(state: &AppState, viewer: &Viewer, filter: &LayerFilter) -> Vec<ShownPoint> {
    let mut points = Vec::new();
    state.index.scope(viewer).for_each(filter, |o| {
        if let Some((e, n)) = grid_position(o.position) {
            points.push(ShownPoint { e, n, entry: *o });
        }
    });
    points
}

pub(super) fn param<'a>(query: &'a ItemsQuery, name: &str) -> Option<&'a str> {
    query
        .extra
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    query: &ItemsQuery,
    name: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, Problem> {
    let Some(raw) = param(query, name) else {
        return Ok(default);
    };
    raw.parse::<T>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| {
            Problem::bad_parameter(
                "invalid-number",
                name,
                format!(
                    "{name} must be a number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// The grid a request names (`cell` metres, `shape`).
pub fn grid_parameter(query: &ItemsQuery) -> Result<Grid, Problem> {
    let size = match param(query, "cell") {
        None => 250,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|s| CELL_SIZES.contains(s))
            .ok_or_else(|| {
                Problem::bad_parameter(
                    "invalid-cell",
                    "cell",
                    "cell must be 100, 250 or 500 (metres)",
                )
            })?,
    };
    let shape = match param(query, "shape") {
        None => Shape::Square,
        Some(v) => Shape::from_code(v).ok_or_else(|| {
            Problem::bad_parameter("invalid-shape", "shape", "shape must be square or hexagon")
        })?,
    };
    Ok(Grid::new(shape, size))
}

/// The Gi\* settings a request names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HotspotParameters {
    /// The grid.
    pub grid: Grid,
    /// Neighbours.
    pub weights: Weights,
    /// False-discovery-rate correction.
    pub fdr: bool,
}

/// Parameters the hot-spot layer takes beyond the filter.
pub const HOTSPOT_PARAMETERS: &[&str] = &["cell", "shape", "weights", "band", "k", "fdr"];

/// Parses `cell`, `shape`, `weights` (`distance` or `nearest`), `band`
/// (metres; default 1.5 cells: the touching cells), `k` (default 8) and
/// `fdr` (default true).
pub fn hotspot_parameters(query: &ItemsQuery) -> Result<HotspotParameters, Problem> {
    let grid = grid_parameter(query)?;
    let weights = match param(query, "weights").unwrap_or("distance") {
        "distance" => Weights::DistanceBand(number(
            query,
            "band",
            1.5 * f64::from(grid.size),
            f64::from(grid.size)..=20_000.0,
        )?),
        "nearest" => Weights::Nearest(number(query, "k", 8usize, 1..=64)?),
        _ => {
            return Err(Problem::bad_parameter(
                "invalid-weights",
                "weights",
                "weights must be distance (with band, metres) or nearest (with k)",
            ))
        }
    };
    let fdr = match param(query, "fdr").unwrap_or("true") {
        "true" => true,
        "false" => false,
        _ => {
            return Err(Problem::bad_parameter(
                "invalid-fdr",
                "fdr",
                "true or false",
            ))
        }
    };
    Ok(HotspotParameters { grid, weights, fdr })
}

/// The study area: the filter's box when it has one, else the points'
/// extent, in grid metres.
fn study_box(filter: &LayerFilter, points: &[ShownPoint]) -> Option<[f64; 4]> {
    match filter.bbox {
        Some([x0, y0, x1, y1]) => extent(
            [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
                .into_iter()
                .filter_map(grid_position),
        ),
        None => extent(points.iter().map(|p| (p.e, p.n))),
    }
}

/// Runs Gi\* over `points` on every cell of the study area (empty cells
/// count as zeros, as they must for the statistic to mean anything),
/// within `budget`.
///
/// The work is sized before anything is allocated: the number of cells is
/// found from the box by arithmetic and refused over [`MAX_STUDY_CELLS`],
/// and a distance band wider than [`MAX_BAND_CELLS`] cells is refused.
pub fn run_hotspots(
    filter: &LayerFilter,
    points: &[ShownPoint],
    parameters: HotspotParameters,
    suppression: &Suppression,
    budget: &Budget,
) -> Result<HotspotRun, ServiceError> {
    let grid = parameters.grid;
    if let Weights::DistanceBand(band) = parameters.weights {
        let most = f64::from(MAX_BAND_CELLS * grid.size);
        if band > most {
            return Err(ServiceError::TooCostly {
                parameter: "band",
                detail: format!(
                    "a band reaches at most {MAX_BAND_CELLS} cells: at most {most} m with {} m cells; choose a smaller band or bigger cells",
                    grid.size
                ),
            });
        }
    }
    let Some(area) = study_box(filter, points) else {
        return Ok(hot_spots_on(
            grid,
            Vec::new(),
            [],
            parameters.weights,
            parameters.fdr,
        ));
        // (No cells: nothing to withhold.)
    };
    let needed = grid.count_covering(area);
    if needed > MAX_STUDY_CELLS as u64 {
        return Err(ServiceError::TooCostly {
            parameter: "cell",
            detail: format!(
                "the area needs {needed} cells of {} m; choose a bigger cell or a smaller bbox (at most {MAX_STUDY_CELLS})",
                grid.size
            ),
        });
    }
    let cells = grid.cells_covering(area);
    Ok(hot_spots_within(
        grid,
        cells,
        points.iter().map(|p| (p.e, p.n)),
        parameters.weights,
        parameters.fdr,
        Some(suppression),
        budget,
    )?)
}

/// The words for a hot-spot class, English and Welsh.
pub fn class_label(class: i8) -> (&'static str, &'static str) {
    match class {
        3 => ("Hot spot, 99% confidence", "Man poeth, hyder 99%"),
        2 => ("Hot spot, 95% confidence", "Man poeth, hyder 95%"),
        1 => ("Hot spot, 90% confidence", "Man poeth, hyder 90%"),
        -1 => ("Cold spot, 90% confidence", "Man oer, hyder 90%"),
        -2 => ("Cold spot, 95% confidence", "Man oer, hyder 95%"),
        -3 => ("Cold spot, 99% confidence", "Man oer, hyder 99%"),
        _ => ("Not significant", "Ddim yn arwyddocaol"),
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn cell_id(grid: Grid, (a, b): Cell) -> String {
    format!("{}-{}-{a}-{b}", grid.shape.code(), grid.size)
}

#[derive(Serialize)]
struct CellProperties {
    cell: String,
    #[serde(flatten)]
    count: CountView,
    #[serde(flatten)]
    hotspot: Option<HotspotProperties>,
}

#[derive(Serialize)]
struct HotspotProperties {
    z: Option<f64>,
    p: Option<f64>,
    class: i8,
    label: &'static str,
    label_cy: &'static str,
}

fn cell_properties(
    grid: Grid,
    cell: Cell,
    count: u32,
    suppression: &Suppression,
    hotspot: Option<HotspotProperties>,
) -> CellProperties {
    CellProperties {
        cell: cell_id(grid, cell),
        count: suppression.view(count),
        hotspot,
    }
}

/// A selection of aggregate features with the members that say how they
/// were made.
fn selection(features: Vec<serde_json::Value>, extra: serde_json::Value) -> Selection {
    Selection::of(features).with(match extra {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    })
}

fn polygon(ring: Vec<[f64; 2]>) -> serde_json::Value {
    json!({ "type": "Polygon", "coordinates": [ring] })
}

/// `GET /ogc/collections/grid/items`: observation counts per cell.
pub async fn grid_selection(
    state: &AppState,
    viewer: &Viewer,
    query: &ItemsQuery,
) -> Result<Selection, Problem> {
    state.charge(viewer, Kind::Aggregate).await?;
    let grid = grid_parameter(query)?;
    let suppression = Suppression::for_role(viewer.role, state.settings.small_count_threshold);
    let points = shown_points(state, viewer, &query.filter);
    let counts = crate::analysis::grid::count(grid, points.iter().map(|p| (p.e, p.n)));
    let mut cells: Vec<(Cell, u32)> = counts.into_iter().collect();
    cells.sort_unstable();
    let features: Vec<serde_json::Value> = cells
        .into_iter()
        .filter_map(|(cell, count)| {
            let ring = grid.outline(cell)?;
            Some(json!({
                "type": "Feature",
                "id": cell_id(grid, cell),
                "geometry": polygon(ring),
                "properties": cell_properties(grid, cell, count, &suppression, None),
            }))
        })
        .collect();
    Ok(selection(
        features,
        json!({ "cellSize": grid.size, "shape": grid.shape.code(), "threshold": suppression.threshold }),
    ))
}

/// `GET /ogc/collections/hotspots/items`: Gi\* classes on a grid; cells that
/// are significant or hold observations.
pub async fn hotspot_selection(
    state: &AppState,
    viewer: &Viewer,
    query: &ItemsQuery,
) -> Result<Selection, Problem> {
    state.charge(viewer, Kind::Aggregate).await?;
    let parameters = hotspot_parameters(query)?;
    let suppression = Suppression::for_role(viewer.role, state.settings.small_count_threshold);
    let run = {
        let (work_state, work_viewer, filter) =
            (state.clone(), viewer.clone(), query.filter.clone());
        state
            .analysis
            .run("cell", move |budget| {
                let points = shown_points(&work_state, &work_viewer, &filter);
                run_hotspots(&filter, &points, parameters, &suppression, budget)
            })
            .await?
    };
    let grid = run.grid;
    let features: Vec<serde_json::Value> = run
        .cells
        .iter()
        .enumerate()
        .filter(|&(i, _)| run.counts[i] > 0 || run.result.class[i] != 0)
        .filter_map(|(i, &cell)| {
            let ring = grid.outline(cell)?;
            let class = run.result.class[i];
            let (label, label_cy) = class_label(class);
            // Where a count is withheld, so is everything derived from it
            // (and it entered the statistic as a constant: see
            // `hot_spots_within`).
            let hotspot = (!run.is_withheld(i)).then(|| HotspotProperties {
                z: finite(run.result.z[i]),
                p: finite(run.result.p[i]),
                class,
                label,
                label_cy,
            });
            Some(json!({
                "type": "Feature",
                "id": cell_id(grid, cell),
                "geometry": polygon(ring),
                "properties": cell_properties(grid, cell, run.counts[i], &suppression, hotspot),
            }))
        })
        .collect();
    let [t99, t95, t90] = run.result.thresholds;
    Ok(selection(
        features,
        json!({
            "cellSize": grid.size,
            "shape": grid.shape.code(),
            "studyCells": run.cells.len(),
            "weights": match parameters.weights {
                Weights::DistanceBand(d) => json!({ "type": "distance", "band": d }),
                Weights::Nearest(k) => json!({ "type": "nearest", "k": k }),
            },
            "fdr": parameters.fdr,
            "pThresholds": { "99": t99, "95": t95, "90": t90 },
            "threshold": suppression.threshold,
        }),
    ))
}

/// `GET /ogc/collections/clusters/items?eps=…&min=…`: DBSCAN clusters as
/// their convex hulls.
pub async fn cluster_selection(
    state: &AppState,
    viewer: &Viewer,
    query: &ItemsQuery,
) -> Result<Selection, Problem> {
    use geo::{ConvexHull, MultiPoint, Point};
    state.charge(viewer, Kind::Aggregate).await?;
    let eps: f64 = number(query, "eps", 150.0, 1.0..=5_000.0)?;
    let min: usize = number(query, "min", 5usize, 2..=10_000)?;
    let suppression = Suppression::for_role(viewer.role, state.settings.small_count_threshold);
    let (points, labels) = {
        let (work_state, work_viewer, filter) =
            (state.clone(), viewer.clone(), query.filter.clone());
        state
            .analysis
            .run("eps", move |budget| {
                let points = shown_points(&work_state, &work_viewer, &filter);
                let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.e, p.n)).collect();
                let labels = dbscan_within(&xy, eps, min, &|| budget.spent())
                    .ok_or(OverBudget { parameter: "eps" })?;
                Ok((points, labels))
            })
            .await?
    };
    let mut members: HashMap<u32, Vec<&ShownPoint>> = HashMap::new();
    for (p, label) in points.iter().zip(&labels) {
        if let Some(l) = label {
            members.entry(*l).or_default().push(p);
        }
    }
    let mut ids: Vec<u32> = members.keys().copied().collect();
    ids.sort_unstable();
    let features: Vec<serde_json::Value> = ids
        .into_iter()
        .map(|id| {
            let group = &members[&id];
            let distinct: HashSet<(u64, u64)> = group
                .iter()
                .map(|p| (p.entry.position[0].to_bits(), p.entry.position[1].to_bits()))
                .collect();
            let hull = MultiPoint::from(
                group
                    .iter()
                    .map(|p| Point::new(p.entry.position[0], p.entry.position[1]))
                    .collect::<Vec<_>>(),
            )
            .convex_hull();
            let geometry = if distinct.len() >= 3 {
                geojson::Geometry::from(&hull)
            } else {
                let p = group[0].entry.position;
                geojson::Geometry::new(geojson::Value::Point(p.to_vec()))
            };
            let first = group.iter().map(|p| p.entry.observed_at).min().unwrap_or(0);
            let last = group.iter().map(|p| p.entry.observed_at).max().unwrap_or(0);
            let count = u32::try_from(group.len()).unwrap_or(u32::MAX);
            let shown = suppression.show(count);
            json!({
                "type": "Feature",
                "id": id + 1,
                "geometry": geometry,
                "properties": {
                    "cluster": id + 1,
                    "count": shown,
                    "suppressed": shown == ShownCount::Suppressed,
                    "first_observed": crate::domain::time::format_instant(crate::domain::time::from_unix_millis(first)),
                    "last_observed": crate::domain::time::format_instant(crate::domain::time::from_unix_millis(last)),
                }
            })
        })
        .collect();
    Ok(selection(
        features,
        json!({ "eps": eps, "min": min, "threshold": suppression.threshold,
            "noise": suppression.show(u32::try_from(labels.iter().filter(|l| l.is_none()).count()).unwrap_or(u32::MAX)) }),
    ))
}

/// A time profile as served.
#[derive(Debug, Serialize)]
pub struct TimeProfile {
    /// Rows Monday … Sunday, columns hour 0 … 23 (UK local time); `null`
    /// where the count is suppressed.
    pub counts: Vec<Vec<Option<u32>>>,
    /// All observations in the profile (`null` when suppressed).
    pub total: Option<u32>,
    /// The smallest count shown.
    pub threshold: u32,
    /// Whether any count is withheld.
    pub suppressed: bool,
    /// What a withheld count means, English and Welsh.
    pub suppressed_label: [String; 2],
    /// What the profile covers: "filter", "hot" or "cold".
    pub within: String,
    /// The area it is limited to (`area=ID`), if any.
    pub area: Option<ProfileArea>,
}

/// The area a time profile is limited to.
#[derive(Debug, Serialize)]
pub struct ProfileArea {
    /// Id.
    pub id: i64,
    /// Code (an ONS code for imported wards and LSOAs).
    pub code: String,
    /// English name.
    pub name_en: String,
    /// Welsh name.
    pub name_cy: String,
}

/// The area `area=ID` names, if the query has one.
fn area_parameter(
    state: &AppState,
    query: &ItemsQuery,
) -> Result<Option<std::sync::Arc<crate::areas::Area>>, Problem> {
    let Some(value) = param(query, "area") else {
        return Ok(None);
    };
    value
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|id| state.areas.get(id))
        .map(Some)
        .ok_or_else(|| {
            Problem::bad_parameter(
                "unknown-area",
                "area",
                "`area` is the id of an area (see GET /api/areas)",
            )
        })
}

/// `GET /api/time-profile`: observations by UK local hour and weekday for
/// the filter, optionally only inside an area (`area=ID`, which replaces
/// `bbox`) and only inside hot (or cold) spots (`within=hot`, with the
/// hot-spot parameters; the area's box is then the study area).
///
/// An observation is in the area where it is shown to the viewer, as in the
/// areas layer: a generalised record counts at its square's centre.
pub async fn time_profile_endpoint(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<axum::response::Response, Problem> {
    let mut allowed = HOTSPOT_PARAMETERS.to_vec();
    allowed.extend(["within", "area"]);
    let query = ItemsQuery::parse_with(raw.as_deref(), &allowed)?;
    super::allow(&viewer, Action::ReadLayers)?;
    state.charge(&viewer, Kind::Aggregate).await?;
    let area = area_parameter(&state, &query)?;
    let suppression = Suppression::for_role(viewer.role, state.settings.small_count_threshold);
    let filter = LayerFilter {
        bbox: area.as_ref().map_or(query.filter.bbox, |a| Some(a.bbox)),
        ..query.filter.clone()
    };
    let within = param(&query, "within").unwrap_or("filter").to_owned();
    let hot = match within.as_str() {
        "filter" => None,
        "hot" => Some((true, hotspot_parameters(&query)?)),
        "cold" => Some((false, hotspot_parameters(&query)?)),
        _ => {
            return Err(Problem::bad_parameter(
                "invalid-within",
                "within",
                "within must be filter, hot or cold",
            ))
        }
    };
    let (table, profiled) = {
        let (work_state, work_viewer, work_area) = (state.clone(), viewer.clone(), area.clone());
        state
            .analysis
            .run("bbox", move |budget| {
                let points = shown_points(&work_state, &work_viewer, &filter);
                let in_area = |p: &&ShownPoint| {
                    work_area
                        .as_ref()
                        .is_none_or(|a| a.contains(p.entry.position))
                };
                let chosen: Vec<&ShownPoint> = match hot {
                    None => points.iter().filter(in_area).collect(),
                    Some((hot, parameters)) => {
                        let run = run_hotspots(&filter, &points, parameters, &suppression, budget)?;
                        // A cell whose count this viewer is not shown has no
                        // class for them either, so it is in no hot or cold
                        // spot of theirs.
                        let cells: HashSet<Cell> = run
                            .cells
                            .iter()
                            .zip(&run.result.class)
                            .zip(&run.counts)
                            .enumerate()
                            .filter(|&(i, ((_, &c), _))| {
                                (if hot { c > 0 } else { c < 0 }) && !run.is_withheld(i)
                            })
                            .map(|(_, ((cell, _), _))| *cell)
                            .collect();
                        // Gi* compares each cell with its whole study area
                        // (the area's box), so the run sees every point in
                        // it; only those inside the area itself are profiled.
                        points
                            .iter()
                            .filter(in_area)
                            .filter(|p| cells.contains(&run.grid.cell_of(p.e, p.n)))
                            .collect()
                    }
                };
                let table = time_profile(
                    chosen
                        .iter()
                        .map(|p| (p.entry.local_hour, p.entry.local_weekday)),
                );
                Ok((table, chosen.len()))
            })
            .await?
    };
    let mut suppressed = false;
    let mut shown = |n: u32| match suppression.show(n) {
        ShownCount::Exact(n) => Some(n),
        ShownCount::Suppressed => {
            suppressed = true;
            None
        }
    };
    let counts = table
        .iter()
        .map(|row| row.iter().map(|&n| shown(n)).collect())
        .collect();
    // The total less the cells shown is what the withheld cells hold
    // together: when that is itself a small count, the total is withheld
    // too, or it would give them back.
    let counts: Vec<Vec<Option<u32>>> = counts;
    let shown_sum: u64 = counts
        .iter()
        .flatten()
        .flatten()
        .map(|&n| u64::from(n))
        .sum();
    let remainder = (profiled as u64).saturating_sub(shown_sum);
    let total =
        if !suppression.exempt && remainder > 0 && remainder < u64::from(suppression.threshold) {
            None
        } else {
            shown(u32::try_from(profiled).unwrap_or(u32::MAX))
        };
    let (en, cy) = suppression.label();
    let profile = TimeProfile {
        counts,
        total,
        threshold: suppression.threshold,
        suppressed,
        suppressed_label: [en, cy],
        within,
        area: area.map(|a| ProfileArea {
            id: a.id,
            code: a.code.clone(),
            name_en: a.name_en.clone(),
            name_cy: a.name_cy.clone(),
        }),
    };
    Ok(disclosed(
        axum::response::IntoResponse::into_response(Json(profile)),
        "time-profile",
        profiled,
    ))
}
