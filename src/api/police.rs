//! The police.uk context layer over HTTP: an OGC collection
//! `police-crimes` (its own layer, labelled with source and licence, never
//! mixed with observations) and the import log.

use std::collections::HashSet;

use axum::extract::State;
use axum::Json;
use serde_json::json;

use super::features::{DEFAULT_LIMIT, MAX_LIMIT};
use super::problem::Problem;
use super::AppState;
use crate::domain::viewer::Viewer;
use crate::import::police::{month_number, type_code, ATTRIBUTION};
use crate::index::police::{PolicePoint, PoliceSnapshot};
use crate::store::police::PoliceImportRecord;

/// A parsed police-layer query.
#[derive(Debug, Clone, Default)]
pub struct PoliceQuery {
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: Option<[f64; 4]>,
    /// First month kept (month number).
    pub from: Option<u32>,
    /// Last month kept.
    pub to: Option<u32>,
    /// Crime types kept (indices); `None`: all.
    pub types: Option<HashSet<u16>>,
    /// Page size.
    pub limit: usize,
    /// Features to skip (from a `next` link).
    pub offset: usize,
}

fn month_end(value: &str, field: &str) -> Result<Option<u32>, Problem> {
    if value.is_empty() || value == ".." {
        return Ok(None);
    }
    // A month, or anything starting with one (a date or an instant).
    value
        .get(..7)
        .and_then(month_number)
        .map(Some)
        .ok_or_else(|| {
            Problem::bad_parameter(
                "invalid-datetime",
                field,
                "datetime is a month (YYYY-MM), a date, or an interval start/end with .. for an open end",
            )
        })
}

impl PoliceQuery {
    /// Parses `bbox`, `datetime` (months), `crime_type` (codes), `limit`
    /// and `cursor`; anything else is refused by name.
    pub fn parse(raw: Option<&str>, snapshot: &PoliceSnapshot) -> Result<PoliceQuery, Problem> {
        let mut q = PoliceQuery {
            limit: DEFAULT_LIMIT,
            ..PoliceQuery::default()
        };
        let mut seen = HashSet::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if !seen.insert(name.to_string()) {
                return Err(Problem::bad_parameter(
                    "repeated-parameter",
                    &name,
                    format!("`{name}` is given more than once"),
                ));
            }
            match &*name {
                "bbox" => {
                    let parsed = super::features::ItemsQuery::parse(Some(&format!(
                        "bbox={}",
                        form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
                    )))?;
                    q.bbox = parsed.filter.bbox;
                }
                "datetime" => {
                    let (a, b) = value.split_once('/').unwrap_or((&value, &value));
                    q.from = month_end(a, "datetime")?;
                    q.to = month_end(b, "datetime")?;
                }
                "crime_type" => {
                    let mut types = HashSet::new();
                    for code in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                        match snapshot.type_index(code) {
                            Some(i) => {
                                types.insert(i);
                            }
                            None if known_type(code) => {}
                            None => {
                                return Err(Problem::bad_parameter(
                                    "not-in-vocabulary",
                                    "crime_type",
                                    format!("`{code}` is not a police.uk crime type (e.g. anti-social-behaviour, drugs, violence-and-sexual-offences)"),
                                ))
                            }
                        }
                    }
                    q.types = Some(types);
                }
                "limit" => {
                    q.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            Problem::bad_parameter(
                                "invalid-limit",
                                "limit",
                                "limit must be a whole number from 1",
                            )
                        })?
                        .min(MAX_LIMIT)
                }
                "cursor" => {
                    q.offset = value.parse().map_err(|_| {
                        Problem::bad_parameter(
                            "invalid-cursor",
                            "cursor",
                            "use the next link as given",
                        )
                    })?
                }
                "f" => {}
                other => return Err(Problem::unknown_parameter(other)),
            }
        }
        Ok(q)
    }

    /// Whether a point passes the month and type filters (not the box).
    pub fn keeps(&self, p: &PolicePoint) -> bool {
        self.from.is_none_or(|f| p.month >= f)
            && self.to.is_none_or(|t| p.month <= t)
            && self
                .types
                .as_ref()
                .is_none_or(|t| t.contains(&p.crime_type))
    }
}

/// The police.uk crime types (as of 2022), so filtering on one no row has
/// yet is an empty answer rather than an error.
const CRIME_TYPES: [&str; 14] = [
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
];

fn known_type(code: &str) -> bool {
    CRIME_TYPES.iter().any(|t| type_code(t) == code)
}

/// `GET /api/police-imports`: what each import read, kept and left out.
pub async fn imports(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<serde_json::Value>, Problem> {
    let log: Vec<PoliceImportRecord> = state.police_imports.imports(&viewer).await?;
    Ok(Json(json!({
        "imports": log,
        "rows": state.police.snapshot().tree.size(),
        "attribution": ATTRIBUTION,
    })))
}
