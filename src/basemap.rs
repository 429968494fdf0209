//! The basemap, served by the service itself so the map works with no
//! internet: vector tiles from an MBTiles file, a `style.json` for them,
//! and label glyphs generated from a font on the machine. Or a configured
//! remote style; or, with neither, a plain background with the service
//! area's outline.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

/// Where the basemap comes from.
#[derive(Debug, Clone, Default)]
pub struct BasemapConfig {
    /// An MBTiles file of Mapbox Vector Tiles.
    pub mbtiles: Option<PathBuf>,
    /// A remote MapLibre style URL, used when no MBTiles file is set.
    pub style_url: Option<String>,
    /// A TrueType/OpenType font for label glyphs.
    pub font: Option<PathBuf>,
    /// Attribution for the tiles' data.
    pub attribution: String,
}

/// An open MBTiles file.
#[derive(Debug, Clone)]
pub struct Tiles {
    pool: SqlitePool,
    minzoom: u8,
    maxzoom: u8,
    bounds: Option<[f64; 4]>,
    center: Option<[f64; 2]>,
}

/// Label glyphs from one font, made on first request per range and kept.
pub struct Glyphs {
    face: glyphore_core::FontFace,
    ranges: Mutex<HashMap<u32, Arc<Vec<u8>>>>,
}

impl std::fmt::Debug for Glyphs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Glyphs")
            .field("font", &self.face.fontstack_name())
            .finish()
    }
}

/// The `highway` values the style draws as major roads (and the pack's
/// map too).
pub const MAJOR_ROADS: [&str; 8] = [
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "motorway_link",
    "trunk_link",
    "primary_link",
];

/// The fontstack name styles use for the one font served.
pub const FONTSTACK: &str = "safetymap-sans";

/// The basemap as configured and opened.
#[derive(Debug, Clone, Default)]
pub struct Basemap {
    tiles: Option<Tiles>,
    /// The tiles' street names, read on first use.
    streets: Arc<tokio::sync::OnceCell<Arc<Vec<crate::gazetteer::Street>>>>,
    glyphs: Option<Arc<Glyphs>>,
    style_url: Option<String>,
    attribution: String,
}

/// Why the basemap could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BasemapError {
    /// The MBTiles file could not be read.
    #[error("cannot read the MBTiles file {path}: {source}")]
    Mbtiles {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// The font could not be read or parsed.
    #[error("cannot use the font {path}: {reason}")]
    Font {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

fn parse_numbers<const N: usize>(text: &str) -> Option<[f64; N]> {
    let numbers: Vec<f64> = text
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    numbers.get(..N)?.try_into().ok()
}

impl Tiles {
    /// Opens an MBTiles file read-only (it may sit on a read-only disk).
    pub async fn open(path: &Path) -> Result<Tiles, BasemapError> {
        let failed = |source| BasemapError::Mbtiles {
            path: path.display().to_string(),
            source,
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .immutable(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(failed)?;
        let rows = sqlx::query("SELECT name, value FROM metadata")
            .fetch_all(&pool)
            .await
            .map_err(failed)?;
        let metadata: HashMap<String, String> = rows
            .iter()
            .filter_map(|r| Some((r.try_get("name").ok()?, r.try_get("value").ok()?)))
            .collect();
        let zoom = |name: &str, default| {
            metadata
                .get(name)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default)
        };
        Ok(Tiles {
            minzoom: zoom("minzoom", 0),
            maxzoom: zoom("maxzoom", 14),
            bounds: metadata.get("bounds").and_then(|b| parse_numbers::<4>(b)),
            center: metadata.get("center").and_then(|c| parse_numbers::<2>(c)),
            pool,
        })
    }

    /// Calls `each` with every tile stored at the most detailed zoom, one
    /// at a time (a large file is never held in memory whole).
    pub async fn each_at_max_zoom(
        &self,
        mut each: impl FnMut(crate::mvt::TileId, &[u8]),
    ) -> Result<(), sqlx::Error> {
        use futures_util::TryStreamExt;
        let z = self.maxzoom;
        let mut rows =
            sqlx::query("SELECT tile_column, tile_row, tile_data FROM tiles WHERE zoom_level = ?1")
                .bind(i64::from(z))
                .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let (x, row_number): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            // MBTiles rows count from the south (TMS); XYZ from the north.
            let y = (1_i64 << z) - 1 - row_number;
            let (Ok(x), Ok(y)) = (u32::try_from(x), u32::try_from(y)) else {
                continue;
            };
            if let Some(id) = crate::mvt::TileId::new(u32::from(z), x, y) {
                let data: Vec<u8> = row.try_get(2)?;
                each(id, &data);
            }
        }
        Ok(())
    }

    /// Calls `each` with every tile stored over `bbox` (`[west, south, east,
    /// north]`), at the most detailed zoom whose tiles over it number at
    /// most `most` (or the least detailed zoom held).
    pub async fn each_within(
        &self,
        bbox: [f64; 4],
        most: u64,
        mut each: impl FnMut(crate::mvt::TileId, &[u8]),
    ) -> Result<(), sqlx::Error> {
        use futures_util::TryStreamExt;
        let range = |z: u8| {
            let n = f64::from(1u32 << z);
            let x = |lon: f64| (((lon + 180.0) / 360.0 * n).floor().clamp(0.0, n - 1.0)) as i64;
            let y = |lat: f64| {
                let s = lat.clamp(-85.0, 85.0).to_radians().tan().asinh();
                (((1.0 - s / std::f64::consts::PI) / 2.0 * n)
                    .floor()
                    .clamp(0.0, n - 1.0)) as i64
            };
            (x(bbox[0]), x(bbox[2]), y(bbox[3]), y(bbox[1]))
        };
        let mut z = self.maxzoom;
        while z > self.minzoom {
            let (x0, x1, y0, y1) = range(z);
            if ((x1 - x0 + 1) * (y1 - y0 + 1)) as u64 <= most {
                break;
            }
            z -= 1;
        }
        let (x0, x1, y0, y1) = range(z);
        let flip = |y: i64| (1_i64 << z) - 1 - y;
        let mut rows = sqlx::query(
            "SELECT tile_column, tile_row, tile_data FROM tiles
             WHERE zoom_level = ?1 AND tile_column BETWEEN ?2 AND ?3 AND tile_row BETWEEN ?4 AND ?5",
        )
        .bind(i64::from(z))
        .bind(x0)
        .bind(x1)
        .bind(flip(y1))
        .bind(flip(y0))
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let (x, row_number): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            let (Ok(x), Ok(y)) = (u32::try_from(x), u32::try_from(flip(row_number))) else {
                continue;
            };
            if let Some(id) = crate::mvt::TileId::new(u32::from(z), x, y) {
                let data: Vec<u8> = row.try_get(2)?;
                each(id, &data);
            }
        }
        Ok(())
    }

    /// One tile's stored bytes (usually gzip-compressed MVT), if present.
    pub async fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, sqlx::Error> {
        if z > 30 || x >= (1 << z) || y >= (1 << z) {
            return Ok(None);
        }
        // MBTiles rows count from the south (TMS); XYZ from the north.
        let row = (1_u32 << z) - 1 - y;
        let found = sqlx::query(
            "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
        )
        .bind(i64::from(z))
        .bind(i64::from(x))
        .bind(i64::from(row))
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.and_then(|r| r.try_get("tile_data").ok()))
    }
}

impl Glyphs {
    /// Reads and parses a font file.
    pub fn open(path: &Path) -> Result<Glyphs, BasemapError> {
        let failed = |reason: String| BasemapError::Font {
            path: path.display().to_string(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
        let face = glyphore_core::FontFace::parse(&bytes).map_err(|e| failed(e.to_string()))?;
        Ok(Glyphs {
            face,
            ranges: Mutex::new(HashMap::new()),
        })
    }

    /// The glyph PBF for the 256 code points from `start`.
    pub fn range(&self, start: u32) -> Option<Arc<Vec<u8>>> {
        if !start.is_multiple_of(256) || start > 65_280 {
            return None;
        }
        let mut ranges = self.ranges.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = ranges.get(&start) {
            return Some(found.clone());
        }
        let made = Arc::new(glyphore_core::generate_range(&self.face, start).ok()?);
        ranges.insert(start, made.clone());
        Some(made)
    }
}

impl Basemap {
    /// Opens what the configuration names. A missing MBTiles file or font
    /// is an error only when it was asked for explicitly; the caller decides.
    pub async fn open(config: &BasemapConfig) -> Result<Basemap, BasemapError> {
        let tiles = match &config.mbtiles {
            Some(path) => Some(Tiles::open(path).await?),
            None => None,
        };
        let glyphs = match &config.font {
            Some(path) => Some(Arc::new(Glyphs::open(path)?)),
            None => None,
        };
        Ok(Basemap {
            tiles,
            streets: Arc::default(),
            glyphs,
            style_url: config.style_url.clone(),
            attribution: config.attribution.clone(),
        })
    }

    /// The tiles, if an MBTiles file is served.
    pub fn tiles(&self) -> Option<&Tiles> {
        self.tiles.as_ref()
    }

    /// The named streets of the served tiles (read once, then kept), or
    /// None when no MBTiles file is served.
    pub async fn streets(
        &self,
    ) -> Option<Result<Arc<Vec<crate::gazetteer::Street>>, crate::gazetteer::GazetteerError>> {
        let tiles = self.tiles.as_ref()?;
        Some(
            self.streets
                .get_or_try_init(|| async { crate::gazetteer::streets(tiles).await.map(Arc::new) })
                .await
                .cloned(),
        )
    }

    /// The roads over `bbox`, for drawing on printed maps (empty without an
    /// MBTiles file), and the attribution their data needs.
    pub async fn roads_within(
        &self,
        bbox: [f64; 4],
    ) -> Result<(Vec<crate::gazetteer::Road>, &str), crate::gazetteer::GazetteerError> {
        let Some(tiles) = &self.tiles else {
            return Ok((Vec::new(), &self.attribution));
        };
        Ok((
            crate::gazetteer::roads_within(tiles, bbox).await?,
            &self.attribution,
        ))
    }

    /// The glyphs, if a font is served.
    pub fn glyphs(&self) -> Option<Arc<Glyphs>> {
        self.glyphs.clone()
    }

    /// The origin (`https://host`) of a configured remote style, which the
    /// browser must be allowed to reach.
    pub fn remote_origin(&self) -> Option<String> {
        let url = self.remote_style()?;
        let (scheme, rest) = url.split_once("://")?;
        let host = rest.split('/').next()?;
        Some(format!("{scheme}://{host}"))
    }

    /// A remote style to redirect to, when configured and no MBTiles is served.
    pub fn remote_style(&self) -> Option<&str> {
        if self.tiles.is_some() {
            None
        } else {
            self.style_url.as_deref()
        }
    }

    /// The style for the served tiles (or the plain fallback), with URLs
    /// under `base` and `area` outlined.
    pub fn style(&self, base: &str, area: [f64; 4]) -> Value {
        let mut style = json!({
            "version": 8,
            "name": "safetymap",
            "sources": {},
            "layers": [{ "id": "background", "type": "background", "paint": { "background-color": "#f3f1ec" } }],
        });
        if self.glyphs.is_some() {
            style["glyphs"] = json!(format!("{base}/basemap/fonts/{{fontstack}}/{{range}}.pbf"));
        }
        let [w, s, e, n] = area;
        style["sources"]["service-area"] = json!({
            "type": "geojson",
            "data": { "type": "Feature", "properties": {}, "geometry": {
                "type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } }
        });
        match &self.tiles {
            Some(tiles) => {
                let mut source = json!({
                    "type": "vector",
                    "tiles": [format!("{base}/basemap/tiles/{{z}}/{{x}}/{{y}}.pbf")],
                    "minzoom": tiles.minzoom,
                    "maxzoom": tiles.maxzoom,
                    "attribution": self.attribution,
                });
                if let Some(bounds) = tiles.bounds {
                    source["bounds"] = json!(bounds);
                }
                style["sources"]["basemap"] = source;
                let center = tiles.center.unwrap_or([(w + e) / 2.0, (s + n) / 2.0]);
                style["center"] = json!(center);
                style["zoom"] = json!(13);
                if let Some(layers) = style["layers"].as_array_mut() {
                    layers.extend(osm_layers(self.glyphs.is_some()));
                }
            }
            None => {
                style["center"] = json!([(w + e) / 2.0, (s + n) / 2.0]);
                style["zoom"] = json!(8);
            }
        }
        if let Some(layers) = style["layers"].as_array_mut() {
            layers.push(json!({
                "id": "service-area", "type": "line", "source": "service-area",
                "paint": { "line-color": "#5a5f6b", "line-width": 2, "line-dasharray": [4, 2] }
            }));
        }
        style
    }
}

/// Layers for the OpenStreetMap schema of the Newport extract (roads,
/// buildings, landuse_parks_water, railways_waterways, pois): muted, so
/// the observations on top stand out.
fn osm_layers(labels: bool) -> Vec<Value> {
    let mut layers = vec![
        json!({ "id": "landuse", "type": "fill", "source": "basemap", "source-layer": "landuse_parks_water",
            "filter": ["has", "landuse"],
            "paint": { "fill-color": ["match", ["get", "landuse"],
                ["grass", "meadow", "recreation_ground", "village_green", "forest", "allotments", "cemetery"], "#dfe9d4",
                ["industrial", "commercial", "retail", "railway"], "#ebe5e0",
                "#efece6"] } }),
        json!({ "id": "parks", "type": "fill", "source": "basemap", "source-layer": "landuse_parks_water",
            "filter": ["any", ["has", "leisure"], ["==", ["get", "natural"], "wood"]],
            "paint": { "fill-color": "#d3e6c4" } }),
        json!({ "id": "water", "type": "fill", "source": "basemap", "source-layer": "landuse_parks_water",
            "filter": ["==", ["get", "natural"], "water"],
            "paint": { "fill-color": "#b9d3e6" } }),
        json!({ "id": "waterways", "type": "line", "source": "basemap", "source-layer": "railways_waterways",
            "filter": ["has", "waterway"],
            "paint": { "line-color": "#9cc0dc", "line-width": ["interpolate", ["linear"], ["zoom"], 10, 1, 15, 4] } }),
        json!({ "id": "buildings", "type": "fill", "source": "basemap", "source-layer": "buildings", "minzoom": 14,
            "paint": { "fill-color": "#dcd7d0", "fill-outline-color": "#c9c2b8" } }),
        json!({ "id": "railways", "type": "line", "source": "basemap", "source-layer": "railways_waterways",
            "filter": ["has", "railway"],
            "paint": { "line-color": "#8a8a8a", "line-width": 1.5, "line-dasharray": [3, 2] } }),
        json!({ "id": "roads-minor", "type": "line", "source": "basemap", "source-layer": "roads",
            "filter": ["!", ["match", ["get", "highway"], MAJOR_ROADS, true, false]],
            "layout": { "line-cap": "round", "line-join": "round" },
            "paint": { "line-color": "#ffffff", "line-width": ["interpolate", ["linear"], ["zoom"], 12, 0.5, 16, 5] } }),
        json!({ "id": "roads-major", "type": "line", "source": "basemap", "source-layer": "roads",
            "filter": ["match", ["get", "highway"], MAJOR_ROADS, true, false],
            "layout": { "line-cap": "round", "line-join": "round" },
            "paint": { "line-color": "#f7d9a4", "line-width": ["interpolate", ["linear"], ["zoom"], 10, 1, 16, 8] } }),
    ];
    if labels {
        layers.push(json!({ "id": "road-labels", "type": "symbol", "source": "basemap", "source-layer": "roads", "minzoom": 13,
            "filter": ["has", "name"],
            "layout": { "symbol-placement": "line", "text-field": ["get", "name"], "text-font": [FONTSTACK],
                "text-size": ["interpolate", ["linear"], ["zoom"], 13, 10, 16, 13] },
            "paint": { "text-color": "#3d3d3d", "text-halo-color": "#ffffff", "text-halo-width": 1.5 } }));
        layers.push(json!({ "id": "place-labels", "type": "symbol", "source": "basemap", "source-layer": "pois",
            "filter": ["has", "place"],
            "layout": { "text-field": ["get", "name"], "text-font": [FONTSTACK], "text-size": 13 },
            "paint": { "text-color": "#2b2b2b", "text-halo-color": "#ffffff", "text-halo-width": 1.5 } }));
    }
    layers
}
