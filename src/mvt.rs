//! Mapbox Vector Tiles (specification 2.1), written by hand: a tile is a few
//! protobuf messages, and encoding straight into one buffer keeps an
//! uncached tile cheap. A small reader ([`read_layer`]) takes a basemap
//! tile's named features back out (for the street gazetteer).
//!
//! Tiles are addressed in Web Mercator (EPSG:3857, XYZ scheme), 4096 units
//! a side.

use std::collections::HashMap;

/// Units along a tile's side.
pub const EXTENT: u32 = 4096;

/// A tile address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    /// Zoom.
    pub z: u8,
    /// Column, from the antimeridian eastwards.
    pub x: u32,
    /// Row, from the north.
    pub y: u32,
}

impl TileId {
    /// A valid address (zoom 0–22, x and y inside the zoom's range).
    pub fn new(z: u32, x: u32, y: u32) -> Option<TileId> {
        let n = 1u64 << z.min(31);
        (z <= 22 && u64::from(x) < n && u64::from(y) < n).then_some(TileId { z: z as u8, x, y })
    }

    /// The tile's box `[west, south, east, north]` in degrees, widened by
    /// `buffer` tile units on every side.
    pub fn bounds(&self, buffer: u32) -> [f64; 4] {
        let n = f64::from(1u32 << self.z);
        let b = f64::from(buffer) / f64::from(EXTENT);
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| {
            let t = std::f64::consts::PI * (1.0 - 2.0 * y / n);
            t.sinh().atan().to_degrees()
        };
        let (x, y) = (f64::from(self.x), f64::from(self.y));
        [lon(x - b), lat(y + 1.0 + b), lon(x + 1.0 + b), lat(y - b)]
    }

    /// The WGS84 position `[lon, lat]` of a point in this tile's units, for
    /// a tile `extent` units a side.
    pub fn unproject(&self, (x, y): (i32, i32), extent: u32) -> [f64; 2] {
        let n = f64::from(1u32 << self.z);
        let e = f64::from(extent.max(1));
        let gx = f64::from(self.x) + f64::from(x) / e;
        let gy = f64::from(self.y) + f64::from(y) / e;
        let t = std::f64::consts::PI * (1.0 - 2.0 * gy / n);
        [gx / n * 360.0 - 180.0, t.sinh().atan().to_degrees()]
    }

    /// A WGS84 position in this tile's units (may fall outside 0…4096).
    pub fn project(&self, [lon, lat]: [f64; 2]) -> (i32, i32) {
        let n = f64::from(1u32 << self.z);
        let x = (lon + 180.0) / 360.0 * n;
        let s = lat.to_radians().tan().asinh();
        let y = (1.0 - s / std::f64::consts::PI) / 2.0 * n;
        let e = f64::from(EXTENT);
        (
            ((x - f64::from(self.x)) * e).round() as i32,
            ((y - f64::from(self.y)) * e).round() as i32,
        )
    }
}

/// A property value, borrowed while a feature is added.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Text.
    Text(&'a str),
    /// A whole number.
    Int(i64),
    /// A real number.
    Double(f64),
    /// True or false.
    Bool(bool),
}

/// A value as the layer keeps it.
#[derive(Debug, Clone, PartialEq)]
enum Stored {
    Text(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

/// FNV-1a: the layer's lookups hash short keys many times per tile, where
/// SipHash's resistance to flooding buys nothing (the keys are ours).
#[derive(Default, Clone, Copy)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Writes `values` as a packed field.
fn packed_field(out: &mut Vec<u8>, field: u32, values: &[u32], scratch: &mut Vec<u8>) {
    scratch.clear();
    for &v in values {
        varint(scratch, u64::from(v));
    }
    bytes_field(out, field, scratch);
}

fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn command(id: u32, count: u32) -> u32 {
    (id & 7) | (count << 3)
}

/// One layer being written. Keys and values are interned as features are
/// added, without allocating for ones already seen.
pub struct Layer {
    name: String,
    features: Vec<u8>,
    keys: Vec<String>,
    values: Vec<Stored>,
    text_ids: FnvMap<String, u32>,
    other_ids: FnvMap<(u8, u64), u32>,
    count: usize,
    tags: Vec<u32>,
    geometry: Vec<u32>,
    feature: Vec<u8>,
    packed: Vec<u8>,
}

impl Layer {
    /// An empty layer.
    pub fn new(name: &str) -> Layer {
        Layer {
            name: name.to_owned(),
            features: Vec::new(),
            keys: Vec::new(),
            values: Vec::new(),
            text_ids: FnvMap::default(),
            other_ids: FnvMap::default(),
            count: 0,
            tags: Vec::new(),
            geometry: Vec::new(),
            feature: Vec::new(),
            packed: Vec::new(),
        }
    }

    /// How many features it holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn key_id(&mut self, k: &str) -> u32 {
        // A layer has a handful of keys: a scan beats hashing.
        match self.keys.iter().position(|known| known == k) {
            Some(i) => i as u32,
            None => {
                self.keys.push(k.to_owned());
                (self.keys.len() - 1) as u32
            }
        }
    }

    fn value_id(&mut self, v: Value<'_>) -> u32 {
        let next = self.values.len() as u32;
        match v {
            Value::Text(t) => {
                if let Some(&id) = self.text_ids.get(t) {
                    return id;
                }
                self.text_ids.insert(t.to_owned(), next);
                self.values.push(Stored::Text(t.to_owned()));
            }
            other => {
                let (kind, bits, stored) = match other {
                    Value::Int(i) => (0u8, i as u64, Stored::Int(i)),
                    Value::Double(d) => (1, d.to_bits(), Stored::Double(d)),
                    Value::Bool(b) => (2, u64::from(b), Stored::Bool(b)),
                    Value::Text(_) => unreachable!("handled above"),
                };
                if let Some(&id) = self.other_ids.get(&(kind, bits)) {
                    return id;
                }
                self.other_ids.insert((kind, bits), next);
                self.values.push(stored);
            }
        }
        next
    }

    fn set_tags(&mut self, properties: &[(&str, Value<'_>)]) {
        let mut tags = std::mem::take(&mut self.tags);
        tags.clear();
        for (k, v) in properties {
            tags.push(self.key_id(k));
            tags.push(self.value_id(*v));
        }
        self.tags = tags;
    }

    /// Writes a feature from `self.tags` and `self.geometry`.
    fn feature(&mut self, id: Option<u64>, kind: u32) {
        let f = &mut self.feature;
        f.clear();
        if let Some(id) = id {
            key(f, 1, 0);
            varint(f, id);
        }
        packed_field(f, 2, &self.tags, &mut self.packed);
        key(f, 3, 0);
        varint(f, u64::from(kind));
        packed_field(f, 4, &self.geometry, &mut self.packed);
        bytes_field(&mut self.features, 2, f);
        self.count += 1;
    }

    /// Adds a point (tile units).
    pub fn point(&mut self, id: Option<u64>, (x, y): (i32, i32), properties: &[(&str, Value<'_>)]) {
        self.set_tags(properties);
        self.geometry.clear();
        self.geometry.extend([command(1, 1), zigzag(x), zigzag(y)]);
        self.feature(id, 1);
    }

    /// Adds a polygon of one ring (tile units, not closed); rings that
    /// collapse at this zoom are left out. The ring is wound as the
    /// specification wants an exterior ring, whatever order it came in.
    pub fn polygon(
        &mut self,
        id: Option<u64>,
        ring: &[(i32, i32)],
        properties: &[(&str, Value<'_>)],
    ) {
        let mut ring: Vec<(i32, i32)> = ring.to_vec();
        ring.dedup();
        while ring.len() > 1 && ring.first() == ring.last() {
            ring.pop();
        }
        if ring.len() < 3 {
            return;
        }
        // Shoelace area in tile coordinates (y down): exterior rings are positive.
        let area: i64 = ring
            .iter()
            .zip(ring.iter().cycle().skip(1))
            .map(|(a, b)| i64::from(a.0) * i64::from(b.1) - i64::from(b.0) * i64::from(a.1))
            .sum();
        if area == 0 {
            return;
        }
        if area < 0 {
            ring.reverse();
        }
        self.set_tags(properties);
        let g = &mut self.geometry;
        g.clear();
        g.push(command(1, 1));
        g.push(zigzag(ring[0].0));
        g.push(zigzag(ring[0].1));
        g.push(command(2, ring.len() as u32 - 1));
        for w in ring.windows(2) {
            g.push(zigzag(w[1].0 - w[0].0));
            g.push(zigzag(w[1].1 - w[0].1));
        }
        g.push(command(7, 1));
        self.feature(id, 3);
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let mut l = Vec::with_capacity(self.features.len() + 64 + self.keys.len() * 16);
        key(&mut l, 15, 0);
        varint(&mut l, 2);
        bytes_field(&mut l, 1, self.name.as_bytes());
        l.extend_from_slice(&self.features);
        for k in &self.keys {
            bytes_field(&mut l, 3, k.as_bytes());
        }
        let mut v = Vec::new();
        for value in &self.values {
            v.clear();
            match value {
                Stored::Text(s) => bytes_field(&mut v, 1, s.as_bytes()),
                Stored::Double(d) => {
                    key(&mut v, 3, 1);
                    v.extend_from_slice(&d.to_le_bytes());
                }
                Stored::Int(i) => {
                    key(&mut v, 6, 0);
                    varint(&mut v, ((i << 1) ^ (i >> 63)) as u64);
                }
                Stored::Bool(b) => {
                    key(&mut v, 7, 0);
                    varint(&mut v, u64::from(*b));
                }
            }
            bytes_field(&mut l, 4, &v);
        }
        key(&mut l, 5, 0);
        varint(&mut l, u64::from(EXTENT));
        bytes_field(out, 3, &l);
    }
}

/// Encodes layers into a tile; empty layers are left out.
pub fn encode(layers: &[Layer]) -> Vec<u8> {
    let mut out = Vec::with_capacity(layers.iter().map(|l| l.features.len() + 256).sum());
    for layer in layers.iter().filter(|l| !l.is_empty()) {
        layer.encode(&mut out);
    }
    out
}

// ---------------------------------------------------------------- reading

/// A tile that is not a valid vector tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid vector tile: {0}")]
pub struct MalformedTile(&'static str);

/// One feature read back: its text properties and its geometry's parts
/// (each line, ring or point a MoveTo starts), in tile units.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadFeature {
    /// Properties whose values are text (others are skipped).
    pub properties: Vec<(String, String)>,
    /// The geometry's parts, each its vertices in order, whatever its type.
    pub parts: Vec<Vec<(i32, i32)>>,
}

impl ReadFeature {
    /// The text property `key`, if it has one.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A protobuf reader over one message.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// A field's payload.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    fn varint(&mut self) -> Result<u64, MalformedTile> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .bytes
                .get(self.at)
                .ok_or(MalformedTile("truncated varint"))?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(MalformedTile("varint too long"))
    }

    fn skip(&mut self, n: usize) -> Result<&'a [u8], MalformedTile> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(MalformedTile("truncated field"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// The next field's number and payload, or None at the end.
    fn field(&mut self) -> Result<Option<(u64, Field<'a>)>, MalformedTile> {
        if self.at >= self.bytes.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let payload = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.skip(8)?;
                Field::Fixed
            }
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| MalformedTile("length"))?;
                Field::Bytes(self.skip(n)?)
            }
            5 => {
                self.skip(4)?;
                Field::Fixed
            }
            _ => return Err(MalformedTile("unknown wire type")),
        };
        Ok(Some((key >> 3, payload)))
    }
}

/// Packed (or single) unsigned integers of a repeated field.
fn uints(payload: Field<'_>, out: &mut Vec<u32>) -> Result<(), MalformedTile> {
    match payload {
        Field::Varint(v) => out.push(v as u32),
        Field::Bytes(b) => {
            let mut r = Reader::new(b);
            while r.at < b.len() {
                out.push(r.varint()? as u32);
            }
        }
        Field::Fixed => return Err(MalformedTile("fixed-width integers")),
    }
    Ok(())
}

fn text(payload: Field<'_>) -> Result<String, MalformedTile> {
    match payload {
        Field::Bytes(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        _ => Err(MalformedTile("text expected")),
    }
}

/// The parts a geometry's commands draw: each MoveTo starts one.
fn parts(commands: &[u32]) -> Vec<Vec<(i32, i32)>> {
    let unzig = |v: u32| ((v >> 1) as i32) ^ -((v & 1) as i32);
    let (mut x, mut y) = (0i32, 0i32);
    let mut out: Vec<Vec<(i32, i32)>> = Vec::new();
    let mut i = 0;
    while i < commands.len() {
        let (id, count) = (commands[i] & 7, (commands[i] >> 3) as usize);
        i += 1;
        if id == 7 {
            continue; // ClosePath has no parameters.
        }
        for _ in 0..count {
            let (Some(&dx), Some(&dy)) = (commands.get(i), commands.get(i + 1)) else {
                return out;
            };
            i += 2;
            x = x.wrapping_add(unzig(dx));
            y = y.wrapping_add(unzig(dy));
            // Points: each MoveTo parameter is a part of its own.
            if id == 1 || out.is_empty() {
                out.push(Vec::new());
            }
            if let Some(part) = out.last_mut() {
                part.push((x, y));
            }
        }
    }
    out
}

/// The features of layer `name` in a (decompressed) tile, with the layer's
/// extent; None when the tile has no such layer.
pub fn read_layer(
    tile: &[u8],
    name: &str,
) -> Result<Option<(u32, Vec<ReadFeature>)>, MalformedTile> {
    let mut r = Reader::new(tile);
    while let Some((number, payload)) = r.field()? {
        let (3, Field::Bytes(layer)) = (number, payload) else {
            continue;
        };
        let mut lr = Reader::new(layer);
        let (mut layer_name, mut extent) = (String::new(), EXTENT);
        let (mut keys, mut values, mut raw) = (Vec::new(), Vec::new(), Vec::new());
        while let Some((n, p)) = lr.field()? {
            match (n, p) {
                (1, p) => layer_name = text(p)?,
                (2, Field::Bytes(f)) => raw.push(f),
                (3, p) => keys.push(text(p)?),
                (4, Field::Bytes(v)) => {
                    let mut vr = Reader::new(v);
                    let mut value = None;
                    while let Some((vn, vp)) = vr.field()? {
                        if vn == 1 {
                            value = Some(text(vp)?);
                        }
                    }
                    values.push(value);
                }
                (5, Field::Varint(e)) => extent = e as u32,
                _ => {}
            }
        }
        if layer_name != name {
            continue;
        }
        let mut features = Vec::with_capacity(raw.len());
        for f in raw {
            let mut fr = Reader::new(f);
            let (mut tags, mut geometry) = (Vec::new(), Vec::new());
            while let Some((n, p)) = fr.field()? {
                match n {
                    2 => uints(p, &mut tags)?,
                    4 => uints(p, &mut geometry)?,
                    _ => {}
                }
            }
            let properties = tags
                .chunks_exact(2)
                .filter_map(|kv| {
                    let key = keys.get(kv[0] as usize)?;
                    let value = values.get(kv[1] as usize)?.as_ref()?;
                    Some((key.clone(), value.clone()))
                })
                .collect();
            features.push(ReadFeature {
                properties,
                parts: parts(&geometry),
            });
        }
        return Ok(Some((extent, features)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_layer_reads_back_with_its_text_properties_and_vertices() {
        let mut layer = Layer::new("roads");
        layer.point(
            Some(1),
            (25, 17),
            &[
                ("name", Value::Text("Made-up Street")),
                ("rank", Value::Int(3)),
            ],
        );
        layer.polygon(
            None,
            &[(0, 0), (10, 0), (10, 10), (0, 0)],
            &[("name", Value::Text("Made-up Square"))],
        );
        let tile = encode(&[Layer::new("other"), layer]);
        let (extent, features) = read_layer(&tile, "roads")
            .expect("valid")
            .expect("the layer");
        assert_eq!(extent, EXTENT);
        assert_eq!(features.len(), 2);
        assert_eq!(features[0].text("name"), Some("Made-up Street"));
        assert_eq!(features[0].text("rank"), None, "numbers are skipped");
        assert_eq!(features[0].parts, vec![vec![(25, 17)]]);
        assert_eq!(features[1].text("name"), Some("Made-up Square"));
        assert_eq!(
            features[1].parts.len(),
            1,
            "one ring: {:?}",
            features[1].parts
        );
        assert!(
            features[1].parts[0].contains(&(10, 10)),
            "{:?}",
            features[1].parts
        );
        assert_eq!(read_layer(&tile, "missing").expect("valid"), None);
    }

    #[test]
    fn a_truncated_tile_is_refused_not_misread() {
        let mut layer = Layer::new("roads");
        layer.point(None, (1, 2), &[("name", Value::Text("Made-up Street"))]);
        let tile = encode(&[layer]);
        assert!(read_layer(&tile[..tile.len() - 3], "roads").is_err());
    }

    #[test]
    fn unproject_undoes_project() {
        let tile = TileId::new(15, 16111, 10886).expect("valid");
        let at = tile.project([-2.9977, 51.5886]);
        let [lon, lat] = tile.unproject(at, EXTENT);
        assert!(
            (lon + 2.9977).abs() < 1e-5 && (lat - 51.5886).abs() < 1e-5,
            "{lon} {lat}"
        );
    }

    #[test]
    fn newport_lies_in_its_zoom_twelve_tile() {
        let tile = TileId::new(12, 2013, 1360).expect("valid");
        let [w, s, e, n] = tile.bounds(0);
        assert!(w < -2.9977 && -2.9977 < e, "{w} {e}");
        assert!(s < 51.5886 && 51.5886 < n, "{s} {n}");
        let (x, y) = tile.project([-2.9977, 51.5886]);
        assert!((0..4096).contains(&x) && (0..4096).contains(&y));
    }

    #[test]
    fn addresses_outside_the_zoom_are_refused() {
        assert!(TileId::new(2, 4, 0).is_none());
        assert!(TileId::new(23, 0, 0).is_none());
    }

    #[test]
    fn a_point_encodes_as_the_specification_example() {
        // Specification 4.3.5.1: a point at (25, 17) is [9, 50, 34].
        let mut layer = Layer::new("p");
        layer.point(None, (25, 17), &[]);
        let tile = encode(&[layer]);
        let geometry = [0x22u8, 3, 9, 50, 34];
        assert!(tile.windows(5).any(|w| w == geometry));
    }

    #[test]
    fn empty_layers_are_left_out() {
        assert!(encode(&[Layer::new("empty")]).is_empty());
    }
}
