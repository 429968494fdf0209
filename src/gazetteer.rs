//! The basemap's street names, for the map's search box: read once from
//! the MBTiles file's most detailed tiles (the `roads` layer the style
//! draws), each name with the box it covers. Public map data only — no
//! record of the service's goes near it — so it can be cached by the
//! browser and searched offline.

use std::collections::HashMap;
use std::io::Read;

use serde::Serialize;

use crate::basemap::Tiles;
use crate::mvt::{self, TileId};

/// The basemap layer holding streets, and their name property.
const ROADS_LAYER: &str = "roads";
const NAME: &str = "name";

/// Two pieces of a street with the same name are one street when their
/// boxes come this close (degrees; about 300 m across, 550 m north to
/// south here): "High Street" in two villages stays two entries.
const SAME_STREET: f64 = 0.005;

/// A named street and the box `[west, south, east, north]` it covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Street {
    /// Its name as the basemap writes it.
    pub name: String,
    /// Where it runs, in degrees (WGS84).
    pub bbox: [f64; 4],
}

/// Why the streets could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GazetteerError {
    /// The MBTiles file could not be read.
    #[error("reading the basemap tiles: {0}")]
    Tiles(#[from] sqlx::Error),
}

fn near(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] - SAME_STREET <= b[2]
        && b[0] - SAME_STREET <= a[2]
        && a[1] - SAME_STREET <= b[3]
        && b[1] - SAME_STREET <= a[3]
}

fn widen(a: &mut [f64; 4], b: &[f64; 4]) {
    a[0] = a[0].min(b[0]);
    a[1] = a[1].min(b[1]);
    a[2] = a[2].max(b[2]);
    a[3] = a[3].max(b[3]);
}

/// Streets gathered piece by piece.
#[derive(Debug, Default)]
struct Gathered {
    by_name: HashMap<String, Vec<[f64; 4]>>,
}

impl Gathered {
    fn add(&mut self, name: &str, piece: [f64; 4]) {
        let boxes = self.by_name.entry(name.to_owned()).or_default();
        match boxes.iter().position(|b| near(b, &piece)) {
            Some(i) => {
                widen(&mut boxes[i], &piece);
                // The wider box may now reach another piece: fold those in.
                let merged = boxes.swap_remove(i);
                let (mut joined, rest): (Vec<_>, Vec<_>) =
                    boxes.drain(..).partition(|b| near(b, &merged));
                let mut whole = merged;
                for b in joined.drain(..) {
                    widen(&mut whole, &b);
                }
                boxes.extend(rest);
                boxes.push(whole);
            }
            None => boxes.push(piece),
        }
    }

    /// Reads one stored tile (gzip-compressed or not); a tile that cannot be
    /// read adds nothing.
    fn tile(&mut self, id: TileId, stored: &[u8]) {
        let Some(bytes) = inflated(stored) else {
            return;
        };
        let Ok(Some((extent, features))) = mvt::read_layer(&bytes, ROADS_LAYER) else {
            return;
        };
        for feature in features {
            let Some(name) = feature.text(NAME).map(str::trim).filter(|n| !n.is_empty()) else {
                continue;
            };
            let mut piece = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
            for &v in feature.parts.iter().flatten() {
                // Tiles carry a buffer beyond their edge: keep to the tile.
                let v = (v.0.clamp(0, extent as i32), v.1.clamp(0, extent as i32));
                let [lon, lat] = id.unproject(v, extent);
                widen(&mut piece, &[lon, lat, lon, lat]);
            }
            if piece[0] <= piece[2] {
                self.add(name, piece);
            }
        }
    }

    fn finish(self) -> Vec<Street> {
        let round = |v: f64| (v * 1e5).round() / 1e5;
        let mut streets: Vec<Street> = self
            .by_name
            .into_iter()
            .flat_map(|(name, boxes)| {
                boxes.into_iter().map(move |b| Street {
                    name: name.clone(),
                    bbox: b.map(round),
                })
            })
            .collect();
        streets.sort_by(|a, b| a.name.cmp(&b.name).then(a.bbox[0].total_cmp(&b.bbox[0])));
        streets
    }
}

/// A road of the basemap, for drawing: its name, whether the style draws
/// it as major, and its lines in degrees (`[lon, lat]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Road {
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Whether it is a major road (see [`crate::basemap::MAJOR_ROADS`]).
    pub major: bool,
    /// Its lines.
    pub lines: Vec<Vec<[f64; 2]>>,
}

/// Tiles read at most for one printed map: a ward at the most detailed
/// zoom, a county a few zooms out.
const MOST_TILES: u64 = 36;

/// The roads over `bbox` (`[west, south, east, north]`), read from the
/// tiles over it (a road crossing tiles comes as one piece per tile).
pub async fn roads_within(tiles: &Tiles, bbox: [f64; 4]) -> Result<Vec<Road>, GazetteerError> {
    let mut roads = Vec::new();
    tiles
        .each_within(bbox, MOST_TILES, |id, stored| {
            let Some(bytes) = inflated(stored) else {
                return;
            };
            let Ok(Some((extent, features))) = mvt::read_layer(&bytes, ROADS_LAYER) else {
                return;
            };
            for feature in features {
                let major = feature
                    .text("highway")
                    .is_some_and(|h| crate::basemap::MAJOR_ROADS.contains(&h));
                let lines = feature
                    .parts
                    .iter()
                    .filter(|p| p.len() > 1)
                    .map(|p| p.iter().map(|&v| id.unproject(v, extent)).collect())
                    .collect();
                let name = feature
                    .text(NAME)
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned);
                roads.push(Road { name, major, lines });
            }
        })
        .await?;
    Ok(roads)
}

/// A stored tile's bytes, decompressed when gzip-compressed (None when they cannot be).
fn inflated(stored: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    if !stored.starts_with(&[0x1f, 0x8b]) {
        return Some(std::borrow::Cow::Borrowed(stored));
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(stored)
        .read_to_end(&mut out)
        .ok()?;
    Some(std::borrow::Cow::Owned(out))
}

/// Every named street of the basemap's most detailed zoom.
pub async fn streets(tiles: &Tiles) -> Result<Vec<Street>, GazetteerError> {
    let mut gathered = Gathered::default();
    tiles
        .each_at_max_zoom(|id, stored| gathered.tile(id, stored))
        .await?;
    Ok(gathered.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_of_one_street_join_and_namesakes_far_apart_stay_apart() {
        let mut g = Gathered::default();
        g.add("High Street", [-3.0, 51.58, -2.999, 51.581]);
        g.add("High Street", [-2.999, 51.581, -2.998, 51.582]);
        g.add("High Street", [-2.95, 51.61, -2.949, 51.611]);
        let streets = g.finish();
        assert_eq!(streets.len(), 2, "{streets:?}");
        assert_eq!(streets[0].bbox, [-3.0, 51.58, -2.998, 51.582]);
    }

    #[test]
    fn a_tiles_named_roads_are_read_and_unnamed_ones_left_out() {
        let id = TileId::new(15, 16111, 10886).expect("valid");
        let mut layer = mvt::Layer::new(ROADS_LAYER);
        layer.point(
            None,
            id.project([-2.9977, 51.5886]),
            &[(NAME, mvt::Value::Text("Made-up Street"))],
        );
        layer.point(None, id.project([-2.9970, 51.5880]), &[]);
        let mut g = Gathered::default();
        g.tile(id, &mvt::encode(&[layer]));
        let streets = g.finish();
        assert_eq!(streets.len(), 1);
        assert_eq!(streets[0].name, "Made-up Street");
        assert!(
            (streets[0].bbox[0] + 2.9977).abs() < 1e-4,
            "{:?}",
            streets[0].bbox
        );
    }
}
