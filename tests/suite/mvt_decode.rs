//! A minimal vector-tile reader for the tests: enough protobuf to list each
//! layer's features with their properties and geometry, written apart from
//! the encoder so the two check each other.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Text(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

#[derive(Debug, Clone)]
pub struct Feature {
    pub id: Option<u64>,
    pub kind: u64,
    pub properties: HashMap<String, Prop>,
    /// Every vertex, in tile units (rings not closed).
    pub points: Vec<(i64, i64)>,
}

#[derive(Debug, Clone)]
pub struct TileLayer {
    pub name: String,
    pub extent: u64,
    pub features: Vec<Feature>,
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, at: 0 }
    }
    fn done(&self) -> bool {
        self.at >= self.buf.len()
    }
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = self.buf[self.at];
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    fn bytes(&mut self) -> &'a [u8] {
        let n = self.varint() as usize;
        let b = &self.buf[self.at..self.at + n];
        self.at += n;
        b
    }
    fn field(&mut self) -> (u64, u64) {
        let k = self.varint();
        (k >> 3, k & 7)
    }
    fn skip(&mut self, wire: u64) {
        match wire {
            0 => {
                self.varint();
            }
            1 => self.at += 8,
            2 => {
                self.bytes();
            }
            5 => self.at += 4,
            w => panic!("wire type {w}"),
        }
    }
}

fn packed(buf: &[u8]) -> Vec<u64> {
    let mut r = Reader::new(buf);
    let mut out = Vec::new();
    while !r.done() {
        out.push(r.varint());
    }
    out
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn value(buf: &[u8]) -> Prop {
    let mut r = Reader::new(buf);
    let (f, wire) = r.field();
    match (f, wire) {
        (1, 2) => Prop::Text(String::from_utf8(r.bytes().to_vec()).expect("utf-8")),
        (3, 1) => {
            let b: [u8; 8] = r.buf[r.at..r.at + 8].try_into().expect("8 bytes");
            Prop::Double(f64::from_le_bytes(b))
        }
        (4, 0) | (5, 0) => Prop::Int(r.varint() as i64),
        (6, 0) => Prop::Int(unzigzag(r.varint())),
        (7, 0) => Prop::Bool(r.varint() != 0),
        other => panic!("value field {other:?}"),
    }
}

pub fn decode(tile: &[u8]) -> Vec<TileLayer> {
    let mut layers = Vec::new();
    let mut r = Reader::new(tile);
    while !r.done() {
        let (f, wire) = r.field();
        if f != 3 || wire != 2 {
            r.skip(wire);
            continue;
        }
        let mut l = Reader::new(r.bytes());
        let (mut name, mut extent) = (String::new(), 4096);
        let mut keys = Vec::new();
        let mut values = Vec::new();
        let mut raw_features = Vec::new();
        while !l.done() {
            match l.field() {
                (1, 2) => name = String::from_utf8(l.bytes().to_vec()).expect("utf-8"),
                (2, 2) => raw_features.push(l.bytes()),
                (3, 2) => keys.push(String::from_utf8(l.bytes().to_vec()).expect("utf-8")),
                (4, 2) => values.push(value(l.bytes())),
                (5, 0) => extent = l.varint(),
                (15, 0) => assert_eq!(l.varint(), 2, "version 2"),
                (_, wire) => l.skip(wire),
            }
        }
        let features = raw_features
            .into_iter()
            .map(|buf| {
                let mut fr = Reader::new(buf);
                let mut feature = Feature {
                    id: None,
                    kind: 0,
                    properties: HashMap::new(),
                    points: Vec::new(),
                };
                while !fr.done() {
                    match fr.field() {
                        (1, 0) => feature.id = Some(fr.varint()),
                        (2, 2) => {
                            let tags = packed(fr.bytes());
                            for pair in tags.chunks(2) {
                                feature.properties.insert(
                                    keys[pair[0] as usize].clone(),
                                    values[pair[1] as usize].clone(),
                                );
                            }
                        }
                        (3, 0) => feature.kind = fr.varint(),
                        (4, 2) => {
                            let g = packed(fr.bytes());
                            let (mut x, mut y) = (0i64, 0i64);
                            let mut i = 0;
                            while i < g.len() {
                                let (cmd, count) = (g[i] & 7, g[i] >> 3);
                                i += 1;
                                if cmd == 7 {
                                    continue;
                                }
                                for _ in 0..count {
                                    x += unzigzag(g[i]);
                                    y += unzigzag(g[i + 1]);
                                    i += 2;
                                    feature.points.push((x, y));
                                }
                            }
                        }
                        (_, wire) => fr.skip(wire),
                    }
                }
                feature
            })
            .collect();
        layers.push(TileLayer {
            name,
            extent,
            features,
        });
    }
    layers
}

/// The web-mercator tile holding a position at a zoom, and the position's
/// place in it (tile units, 4096 a side).
pub fn tile_of(lon: f64, lat: f64, z: u32) -> ((u32, u32), (i64, i64)) {
    let n = f64::from(1u32 << z);
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    let (tx, ty) = (x.floor(), y.floor());
    (
        (tx as u32, ty as u32),
        (
            ((x - tx) * 4096.0).round() as i64,
            ((y - ty) * 4096.0).round() as i64,
        ),
    )
}
