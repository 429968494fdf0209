//! Downloads of a collection's features — GeoJSON, CSV, GeoPackage and
//! FlatGeobuf — written from exactly the features the GeoJSON answer holds
//! (as the viewer is shown them, in the answer's CRS), so a download can
//! carry no more than the map does.
//!
//! A download is written feature by feature on a blocking thread (never an
//! HTTP worker) and streamed as it is written, so neither the features nor
//! the file are held in memory whole: formats that need every column
//! before the first row read the features twice; GeoPackage and
//! FlatGeobuf, which must be finished before they can be read, are built
//! in a temporary file and streamed from it.
//!
//! The GeoPackage is written without GDAL: an SQLite file with the
//! GeoPackage tables and geometry blobs (the `GP` header, an envelope, then
//! little-endian WKB), which GDAL's `validate_gpkg.py` accepts.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use crate::domain::crs::Crs;

/// A download format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GeoJSON FeatureCollection.
    GeoJson,
    /// Comma-separated values, a row per feature.
    Csv,
    /// OGC GeoPackage (SQLite).
    GeoPackage,
    /// FlatGeobuf.
    FlatGeobuf,
}

impl Format {
    /// The format `f=` names.
    pub fn from_f(f: &str) -> Option<Format> {
        match f {
            "json" | "geojson" => Some(Format::GeoJson),
            "csv" => Some(Format::Csv),
            "gpkg" | "geopackage" => Some(Format::GeoPackage),
            "fgb" | "flatgeobuf" => Some(Format::FlatGeobuf),
            _ => None,
        }
    }

    /// The format an `Accept` header asks for first, if any of these.
    pub fn from_accept(accept: &str) -> Option<Format> {
        accept
            .split(',')
            .find_map(|part| match part.split(';').next().unwrap_or("").trim() {
                "text/csv" => Some(Format::Csv),
                "application/geopackage+sqlite3" => Some(Format::GeoPackage),
                "application/flatgeobuf" => Some(Format::FlatGeobuf),
                "application/geo+json" => Some(Format::GeoJson),
                _ => None,
            })
    }

    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::GeoJson => "application/geo+json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::GeoPackage => "application/geopackage+sqlite3",
            Format::FlatGeobuf => "application/flatgeobuf",
        }
    }

    /// The CRS its features are written in when `crs` is asked for:
    /// GeoPackage and FlatGeobuf store x then y whatever the CRS's axis
    /// order, so an EPSG:4326 file holds longitude, latitude (and the
    /// properties that hold positions say them the same way round).
    pub fn written_in(self, crs: Crs) -> Crs {
        match (self, crs) {
            (Format::GeoPackage | Format::FlatGeobuf, Crs::Epsg4326) => Crs::Crs84,
            _ => crs,
        }
    }

    /// Its file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::Csv => "csv",
            Format::GeoPackage => "gpkg",
            Format::FlatGeobuf => "fgb",
        }
    }
}

/// Why a download could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// Writing CSV failed.
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Writing the GeoPackage failed.
    #[error("writing the GeoPackage: {0}")]
    Sqlite(#[from] sqlx::Error),
    /// A file could not be made or read.
    #[error("a temporary file: {0}")]
    Io(#[from] std::io::Error),
    /// Writing FlatGeobuf failed.
    #[error("writing FlatGeobuf: {0}")]
    FlatGeobuf(#[from] flatgeobuf::Error),
    /// A feature's geometry or a property would not go in.
    #[error("writing a feature: {0}")]
    Feature(#[from] geozero::error::GeozeroError),
}

/// The features of a download: how many, and the n-th as written (`None`
/// when it cannot be: outside the CRS's cover).
pub struct Features<'a> {
    /// How many there are.
    pub len: usize,
    /// The n-th.
    pub nth: &'a dyn Fn(usize) -> Option<Value>,
}

impl Features<'_> {
    fn each(&self) -> impl Iterator<Item = Value> + '_ {
        (0..self.len).filter_map(|i| (self.nth)(i))
    }
}

/// What every feature of a download holds, found by reading them all once
/// before writing: the properties, in the order first seen, with what they
/// hold (for column types), and the geometry types.
struct Layout {
    columns: Vec<(String, &'static str)>,
    kinds: std::collections::BTreeSet<String>,
}

impl Layout {
    fn of(features: &Features<'_>) -> Layout {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut columns: Vec<(String, &'static str)> = Vec::new();
        let mut kinds = std::collections::BTreeSet::new();
        for f in features.each() {
            if let Some(kind) = f["geometry"]["type"].as_str() {
                if !kinds.contains(kind) {
                    kinds.insert(kind.to_owned());
                }
            }
            let Some(props) = f["properties"].as_object() else {
                continue;
            };
            for (k, v) in props {
                let kind = match v {
                    Value::Number(n) if n.is_i64() => "INTEGER",
                    Value::Number(_) => "REAL",
                    Value::Bool(_) => "BOOLEAN",
                    _ => "TEXT",
                };
                match seen.get(k) {
                    Some(&i) => {
                        // A column seen with numbers and something else is
                        // text; integers and reals together are real.
                        let was = columns[i].1;
                        if was != kind && !v.is_null() {
                            columns[i].1 = match (was, kind) {
                                ("INTEGER", "REAL") | ("REAL", "INTEGER") => "REAL",
                                _ => "TEXT",
                            };
                        }
                    }
                    None => {
                        seen.insert(k.clone(), columns.len());
                        columns.push((k.clone(), kind));
                    }
                }
            }
        }
        Layout { columns, kinds }
    }

    /// The one geometry type all features share, if they share one.
    fn one_kind(&self) -> Option<&str> {
        match self.kinds.len() {
            1 => self.kinds.iter().next().map(String::as_str),
            _ => None,
        }
    }
}

/// Writes `features` as `format` to `out`, naming its layer `name`;
/// answers how many features were written. Blocking: call it off the
/// async workers (the GeoPackage is written through the runtime it is
/// called from).
pub fn write(
    format: Format,
    name: &str,
    crs: Crs,
    features: &Features<'_>,
    out: &mut dyn Write,
) -> Result<usize, DownloadError> {
    match format {
        Format::GeoJson => geojson(features, out),
        Format::Csv => csv(features, crs, out),
        Format::FlatGeobuf => flatgeobuf(name, features, crs, out),
        Format::GeoPackage => {
            let file = tempfile::Builder::new()
                .prefix("safetymap-download-")
                .suffix(".gpkg")
                .tempfile()?;
            let written = tokio::runtime::Handle::current().block_on(geopackage(
                &name.replace('-', "_"),
                features,
                crs,
                file.path(),
            ))?;
            std::io::copy(&mut std::fs::File::open(file.path())?, out)?;
            Ok(written)
        }
    }
}

/// Writes `features` as `format` on a blocking thread, answering the file
/// in chunks as it is written, while `held` (a place in a bounded pool) is
/// kept. A failure part way ends the stream with an error (the client sees
/// a cut-off download, never a file that looks whole). A client that goes
/// away, or reads so slowly that the writing outlasts `budget`, stops it.
pub fn stream(
    format: Format,
    name: String,
    crs: Crs,
    len: usize,
    nth: Box<dyn Fn(usize) -> Option<Value> + Send>,
    held: impl Send + 'static,
    budget: std::time::Duration,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let deadline = tokio::time::Instant::now() + budget;
    tokio::task::spawn_blocking(move || {
        let _held = held;
        let mut out = Chunks {
            buf: Vec::with_capacity(CHUNK),
            tx: tx.clone(),
            deadline,
        };
        // Nothing more is written for a client that has gone or is out of
        // time: the rest of the features are skipped, not rendered.
        let stopped = std::cell::Cell::new(false);
        let until_stopped = |i: usize| {
            if stopped.get()
                || (i.is_multiple_of(512)
                    && (tx.is_closed() || tokio::time::Instant::now() > deadline))
            {
                stopped.set(true);
                return None;
            }
            nth(i)
        };
        let features = Features {
            len,
            nth: &until_stopped,
        };
        let done = write(format, &name, crs, &features, &mut out).and_then(|_| {
            if stopped.get() {
                return Err(DownloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the client went away or read too slowly",
                )));
            }
            Ok(out.flush()?)
        });
        match done {
            Ok(()) => {}
            // Whichever writer noticed, a reader that went away is not the
            // service's fault (and a script must not fill the log with it).
            Err(e) if stopped.get() || tx.is_closed() || tokio::time::Instant::now() > deadline => {
                tracing::debug!(format = format.extension(), "a download stopped: {e}");
            }
            Err(e) => {
                tracing::error!(error = %e, format = format.extension(), "writing a download");
                let _ = tx.try_send(Err(std::io::Error::other(
                    "the download could not be written",
                )));
            }
        }
    });
    // A receiver answers "ended" as often as it is asked (compression
    // layers ask again after the end), unlike `stream::unfold`.
    let mut rx = rx;
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// How much is sent at a time.
const CHUNK: usize = 64 * 1024;

/// A writer sending what is written in chunks down a channel, waiting when
/// the reader is behind (so a slow client slows the writing rather than
/// filling memory).
struct Chunks {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    /// When a reader still behind is given up on.
    deadline: tokio::time::Instant,
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let sent = tokio::runtime::Handle::current().block_on(tokio::time::timeout_at(
            self.deadline,
            self.tx.send(Ok(chunk)),
        ));
        match sent {
            Ok(Ok(())) => Ok(()),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the client went away or read too slowly",
            )),
        }
    }
}

/// A GeoJSON FeatureCollection, feature by feature; the counts come after
/// the features (member order does not matter in JSON).
fn geojson(features: &Features<'_>, out: &mut dyn Write) -> Result<usize, DownloadError> {
    out.write_all(br#"{"type":"FeatureCollection","features":["#)?;
    let mut n = 0;
    for f in features.each() {
        if n > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, &f).map_err(std::io::Error::from)?;
        n += 1;
    }
    write!(
        out,
        r#"],"numberMatched":{n},"numberReturned":{n},"timeStamp":"{}"}}"#,
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    )?;
    Ok(n)
}

/// FlatGeobuf (with its spatial index), the same features and properties
/// as the GeoJSON answer, in `crs` (longitude first for EPSG:4326, as the
/// format stores x then y).
fn flatgeobuf(
    name: &str,
    features: &Features<'_>,
    crs: Crs,
    out: &mut dyn Write,
) -> Result<usize, DownloadError> {
    use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
    use geozero::{ColumnValue, PropertyProcessor};
    let code = match crs {
        Crs::Epsg27700 => 27700,
        _ => 4326,
    };
    let layout = Layout::of(features);
    // One geometry type is declared when all features share it; mixed
    // layers (safety mapping's squares, areas and routes) stay "unknown".
    let one_kind = layout.kinds.len() <= 1;
    let mut fgb = FgbWriter::create_with_options(
        name,
        GeometryType::Unknown,
        FgbWriterOptions {
            crs: FgbCrs {
                code,
                ..Default::default()
            },
            detect_type: one_kind,
            promote_to_multi: one_kind,
            ..Default::default()
        },
    )?;
    // Every column declared first, so a feature may leave one out (null).
    let columns = &layout.columns;
    fgb.add_column("feature_id", ColumnType::String, |_, _| {});
    for (c, kind) in columns {
        let t = match *kind {
            "INTEGER" => ColumnType::Long,
            "REAL" => ColumnType::Double,
            "BOOLEAN" => ColumnType::Bool,
            _ => ColumnType::String,
        };
        fgb.add_column(c, t, |_, _| {});
    }
    let mut n = 0;
    for f in features.each() {
        let text = f["geometry"].to_string();
        let id = cell_text(&f["id"]);
        let mut failed = None;
        fgb.add_feature_geom(geozero::geojson::GeoJson(&text), |w| {
            let mut put = |i: usize, name: &str, v: &ColumnValue| {
                if let Err(e) = w.property(i, name, v) {
                    failed = Some(e);
                }
            };
            put(0, "feature_id", &ColumnValue::String(&id));
            for (i, (c, kind)) in columns.iter().enumerate() {
                let v = &f["properties"][c.as_str()];
                let text = cell_text(v);
                match (*kind, v) {
                    (_, Value::Null) => {}
                    ("INTEGER", Value::Number(n)) => {
                        put(i + 1, c, &ColumnValue::Long(n.as_i64().unwrap_or(0)))
                    }
                    ("REAL", Value::Number(n)) => put(
                        i + 1,
                        c,
                        &ColumnValue::Double(n.as_f64().unwrap_or(f64::NAN)),
                    ),
                    ("BOOLEAN", Value::Bool(b)) => put(i + 1, c, &ColumnValue::Bool(*b)),
                    _ => put(i + 1, c, &ColumnValue::String(&text)),
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        n += 1;
    }
    fgb.write(out)?;
    Ok(n)
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// CSV: the feature's id, its position (`longitude,latitude`, or
/// `easting,northing` in the National Grid) for points and `wkt` for other
/// shapes, then its properties (lists and objects as JSON).
fn csv(features: &Features<'_>, crs: Crs, out: &mut dyn Write) -> Result<usize, DownloadError> {
    let columns = Layout::of(features).columns;
    let (x, y) = match crs {
        Crs::Epsg27700 => ("easting", "northing"),
        Crs::Epsg4326 => ("latitude", "longitude"),
        Crs::Crs84 => ("longitude", "latitude"),
    };
    let mut out = csv::Writer::from_writer(out);
    let mut header = vec![
        "id".to_owned(),
        x.to_owned(),
        y.to_owned(),
        "wkt".to_owned(),
    ];
    header.extend(columns.iter().map(|(c, _)| c.clone()));
    out.write_record(&header)?;
    let mut n = 0;
    for f in features.each() {
        let geometry = &f["geometry"];
        let (px, py, wkt) = match (
            geometry["type"].as_str(),
            geometry["coordinates"].as_array(),
        ) {
            (Some("Point"), Some(c)) => (cell_text(&c[0]), cell_text(&c[1]), String::new()),
            _ => (String::new(), String::new(), wkt(geometry)),
        };
        let mut row = vec![cell_text(&f["id"]), px, py, wkt];
        row.extend(
            columns
                .iter()
                .map(|(c, _)| match &f["properties"][c.as_str()] {
                    // Text a spreadsheet would run as a formula (a place's name
                    // typed as "=HYPERLINK(…)") is kept as text.
                    Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => {
                        format!("'{s}")
                    }
                    other => cell_text(other),
                }),
        );
        out.write_record(&row)?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

fn positions(v: &Value) -> String {
    match v.as_array() {
        Some(items) if items.first().is_some_and(Value::is_number) => items
            .iter()
            .take(2)
            .map(cell_text)
            .collect::<Vec<_>>()
            .join(" "),
        Some(items) => format!(
            "({})",
            items.iter().map(positions).collect::<Vec<_>>().join(", ")
        ),
        None => String::new(),
    }
}

/// A GeoJSON geometry as WKT.
fn wkt(geometry: &Value) -> String {
    let kind = geometry["type"].as_str().unwrap_or("");
    let c = &geometry["coordinates"];
    match kind {
        "Point" => format!("POINT ({})", positions(c)),
        "" => String::new(),
        other => format!("{} {}", other.to_uppercase(), positions(c)),
    }
}

/// Little-endian WKB of a GeoJSON geometry, with its envelope.
fn wkb(geometry: &Value, out: &mut Vec<u8>, lo: &mut [f64; 2], hi: &mut [f64; 2]) -> Option<u32> {
    let kind: u32 = match geometry["type"].as_str()? {
        "Point" => 1,
        "LineString" => 2,
        "Polygon" => 3,
        "MultiPoint" => 4,
        "MultiLineString" => 5,
        "MultiPolygon" => 6,
        _ => return None,
    };
    fn point(c: &Value, out: &mut Vec<u8>, lo: &mut [f64; 2], hi: &mut [f64; 2]) -> Option<()> {
        let x = c.get(0)?.as_f64()?;
        let y = c.get(1)?.as_f64()?;
        *lo = [lo[0].min(x), lo[1].min(y)];
        *hi = [hi[0].max(x), hi[1].max(y)];
        out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&y.to_le_bytes());
        Some(())
    }
    fn ring(c: &Value, out: &mut Vec<u8>, lo: &mut [f64; 2], hi: &mut [f64; 2]) -> Option<()> {
        let items = c.as_array()?;
        out.extend_from_slice(&u32::try_from(items.len()).ok()?.to_le_bytes());
        items.iter().try_for_each(|p| point(p, out, lo, hi))
    }
    fn rings(c: &Value, out: &mut Vec<u8>, lo: &mut [f64; 2], hi: &mut [f64; 2]) -> Option<()> {
        let items = c.as_array()?;
        out.extend_from_slice(&u32::try_from(items.len()).ok()?.to_le_bytes());
        items.iter().try_for_each(|r| ring(r, out, lo, hi))
    }
    out.push(1);
    out.extend_from_slice(&kind.to_le_bytes());
    let c = &geometry["coordinates"];
    match kind {
        1 => point(c, out, lo, hi)?,
        2 => ring(c, out, lo, hi)?,
        3 => rings(c, out, lo, hi)?,
        _ => {
            let parts = c.as_array()?;
            out.extend_from_slice(&u32::try_from(parts.len()).ok()?.to_le_bytes());
            let part_type = match kind {
                4 => "Point",
                5 => "LineString",
                _ => "Polygon",
            };
            for p in parts {
                wkb(
                    &serde_json::json!({"type": part_type, "coordinates": p}),
                    out,
                    lo,
                    hi,
                )?;
            }
        }
    }
    Some(kind)
}

/// A GeoPackage geometry blob: `GP`, version 0, flags (little-endian, an
/// xy envelope), the SRS id, the envelope, then the WKB.
fn gpkg_geometry(geometry: &Value, srs: i32) -> Option<(Vec<u8>, [f64; 4], u32)> {
    let mut body = Vec::new();
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    let kind = wkb(geometry, &mut body, &mut lo, &mut hi)?;
    let mut blob = vec![b'G', b'P', 0, 0b0000_0011];
    blob.extend_from_slice(&srs.to_le_bytes());
    for v in [lo[0], hi[0], lo[1], hi[1]] {
        blob.extend_from_slice(&v.to_le_bytes());
    }
    blob.extend_from_slice(&body);
    Some((blob, [lo[0], lo[1], hi[0], hi[1]], kind))
}

const WGS84_WKT: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#;
const BNG_WKT: &str = r#"PROJCS["OSGB36 / British National Grid",GEOGCS["OSGB36",DATUM["Ordnance_Survey_of_Great_Britain_1936",SPHEROID["Airy 1830",6377563.396,299.3249646,AUTHORITY["EPSG","7001"]],AUTHORITY["EPSG","6277"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4277"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",49],PARAMETER["central_meridian",-2],PARAMETER["scale_factor",0.9996012717],PARAMETER["false_easting",400000],PARAMETER["false_northing",-100000],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],AUTHORITY["EPSG","27700"]]"#;

/// Writes the features as a GeoPackage at `path`, as table `table`, in
/// `crs` (CRS84 and EPSG:4326 both store longitude, latitude, as EPSG:4326
/// does in a GeoPackage); answers how many were written.
async fn geopackage(
    table: &str,
    features: &Features<'_>,
    crs: Crs,
    path: &std::path::Path,
) -> Result<usize, DownloadError> {
    let mut db: SqliteConnection = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete)
        .connect()
        .await?;
    let (srs, srs_name, definition) = match crs {
        Crs::Epsg27700 => (27700, "OSGB36 / British National Grid", BNG_WKT),
        _ => (4326, "WGS 84 geodetic", WGS84_WKT),
    };
    let layout = Layout::of(features);
    let columns = &layout.columns;
    let quoted = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let mut tx = db.begin().await?;
    for sql in [
        "PRAGMA application_id = 1196444487",
        "PRAGMA user_version = 10300",
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
            organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)",
        "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
            identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
            CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))",
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
            geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
            CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
            CONSTRAINT uk_gc_table_name UNIQUE (table_name),
            CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
            CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))",
        "INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system')",
        "INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system')",
    ] {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    // WGS 84 is always there (the standard asks for it), and the answer's
    // own CRS beside it.
    for (name, id, wkt) in [
        ("WGS 84 geodetic", 4326, WGS84_WKT),
        (srs_name, srs, definition),
    ] {
        sqlx::query("INSERT INTO gpkg_spatial_ref_sys VALUES ($1, $2, 'EPSG', $3, $4, NULL) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(id)
            .bind(id)
            .bind(wkt)
            .execute(&mut *tx)
            .await?;
    }
    // One geometry type where all agree; GEOMETRY where they do not. The
    // column's declared type and gpkg_geometry_columns must say the same.
    let type_name = match layout.one_kind() {
        Some("Point") => "POINT",
        Some("LineString") => "LINESTRING",
        Some("Polygon") => "POLYGON",
        Some("MultiPoint") => "MULTIPOINT",
        Some("MultiLineString") => "MULTILINESTRING",
        Some("MultiPolygon") => "MULTIPOLYGON",
        _ => "GEOMETRY",
    };
    let mut create = format!(
        "CREATE TABLE {} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom {type_name}, feature_id TEXT",
        quoted(table)
    );
    for (c, kind) in columns {
        create.push_str(&format!(", {} {kind}", quoted(c)));
    }
    create.push(')');
    sqlx::query(&create).execute(&mut *tx).await?;
    let placeholders: Vec<String> = (0..columns.len() + 2)
        .map(|i| format!("${}", i + 1))
        .collect();
    let names: Vec<String> = columns.iter().map(|(c, _)| quoted(c)).collect();
    let insert = format!(
        "INSERT INTO {} (geom, feature_id{}{}) VALUES ({})",
        quoted(table),
        if names.is_empty() { "" } else { ", " },
        names.join(", "),
        placeholders.join(", ")
    );
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    let mut n = 0;
    for f in features.each() {
        let made = gpkg_geometry(&f["geometry"], srs);
        let mut q = sqlx::query(&insert).bind(made.as_ref().map(|(b, _, _)| b.clone()));
        if let Some((_, [x0, y0, x1, y1], _)) = made {
            lo = [lo[0].min(x0), lo[1].min(y0)];
            hi = [hi[0].max(x1), hi[1].max(y1)];
        }
        q = q.bind(cell_text(&f["id"]));
        for (c, kind) in columns {
            let v = &f["properties"][c.as_str()];
            q = match (*kind, v) {
                (_, Value::Null) => q.bind(None::<String>),
                ("INTEGER", Value::Number(n)) => q.bind(n.as_i64()),
                ("REAL", Value::Number(n)) => q.bind(n.as_f64()),
                ("BOOLEAN", Value::Bool(b)) => q.bind(i64::from(*b)),
                _ => q.bind(cell_text(v)),
            };
        }
        q.execute(&mut *tx).await?;
        n += 1;
    }
    let extent = (lo[0] <= hi[0]).then_some([lo[0], lo[1], hi[0], hi[1]]);
    sqlx::query(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id)
         VALUES ($1, 'features', $1, 'safetymap download', $2, $3, $4, $5, $6)",
    )
    .bind(table)
    .bind(extent.map(|e| e[0]))
    .bind(extent.map(|e| e[1]))
    .bind(extent.map(|e| e[2]))
    .bind(extent.map(|e| e[3]))
    .bind(srs)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO gpkg_geometry_columns VALUES ($1, 'geom', $2, $3, 0, 0)")
        .bind(table)
        .bind(type_name)
        .bind(srs)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    db.close().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written_csv(features: &[Value]) -> String {
        let nth = |i: usize| features.get(i).cloned();
        let mut out = Vec::new();
        let source = Features {
            len: features.len(),
            nth: &nth,
        };
        write(Format::Csv, "test", Crs::Crs84, &source, &mut out).expect("csv");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn text_a_spreadsheet_would_run_as_a_formula_is_kept_as_text() {
        let features = vec![serde_json::json!({"type": "Feature", "id": 1,
            "geometry": {"type": "Point", "coordinates": [-2.99, 51.58]},
            "properties": {"name_en": "=HYPERLINK(\"http://example.invalid\")", "count": -3}})];
        let text = written_csv(&features);
        let row = text.lines().nth(1).expect("row");
        assert!(
            row.starts_with("1,-2.99,51.58,,"),
            "coordinates untouched: {row}"
        );
        assert!(row.contains("\"'=HYPERLINK("), "{row}");
        assert!(row.contains(",-3,"), "numbers untouched: {row}");
    }

    #[test]
    fn a_point_is_a_position_and_other_shapes_are_wkt() {
        let features = vec![
            serde_json::json!({"type": "Feature", "id": 1, "geometry": {"type": "Point", "coordinates": [-2.99, 51.58]},
                "properties": {"category": "safe-place", "count": 3}}),
            serde_json::json!({"type": "Feature", "id": "square-1", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
                "properties": {"count": null}}),
        ];
        let text = written_csv(&features);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "id,longitude,latitude,wkt,category,count");
        assert_eq!(lines[1], "1,-2.99,51.58,,safe-place,3");
        assert_eq!(lines[2], "square-1,,,\"POLYGON ((0 0, 1 0, 1 1, 0 0))\",,");
    }
}
