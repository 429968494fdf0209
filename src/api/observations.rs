//! The JSON write API for observations, under `/api`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::body::{typed, JsonBody};
use super::problem::Problem;
use crate::domain::observation::{
    FieldError, Observation, ObservationId, ObservationInput, ObservationPatch,
};
use crate::domain::viewer::Viewer;
use crate::privacy::Precision;
use crate::service::{Observations, Receipt, Shown, WriteAnswer};
use crate::store::Revision;

/// An observation's full record with its history: the single-item read.
#[derive(Debug, Serialize)]
pub struct ObservationView {
    /// The record.
    #[serde(flatten)]
    pub observation: Observation,
    /// Every change, oldest first (absent in the reply to a create).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Revision>>,
    /// How precisely the location is shown to this viewer.
    pub precision: Precision,
}

impl From<Shown> for ObservationView {
    fn from(shown: Shown) -> Self {
        ObservationView {
            observation: shown.observation,
            history: Some(shown.history),
            precision: shown.precision,
        }
    }
}

/// The answer to a write (see [`Observations::answer`]): the record as a
/// read without a purpose shows it, or a receipt.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum WriteView {
    /// The record.
    Record(Box<ObservationView>),
    /// Id, version and status only.
    Receipt(Receipt),
}

impl From<WriteAnswer> for WriteView {
    fn from(answer: WriteAnswer) -> Self {
        match answer {
            WriteAnswer::Record(shown) => WriteView::Record(Box::new((*shown).into())),
            WriteAnswer::Receipt(receipt) => WriteView::Receipt(receipt),
        }
    }
}

/// Parses an id from the path; anything else is simply not found.
pub fn parse_id(raw: &str) -> Result<ObservationId, Problem> {
    raw.parse::<i64>()
        .map(ObservationId)
        .map_err(|_| Problem::not_found().detail("observation ids are whole numbers"))
}

/// A GeoJSON Feature with a Point geometry becomes the plain input shape:
/// its properties, with `longitude`/`latitude` from the geometry.
fn from_feature(value: serde_json::Value) -> Result<serde_json::Value, Problem> {
    if value.get("type").and_then(|t| t.as_str()) != Some("Feature") {
        return Ok(value);
    }
    let invalid =
        |code, message: &str| Problem::invalid(vec![FieldError::new("geometry", code, message)]);
    let feature = geojson::Feature::from_json_value(value)
        .map_err(|e| invalid("invalid-geometry", &format!("not a GeoJSON Feature: {e}")))?;
    let point = match feature.geometry.map(|g| g.value) {
        Some(geojson::Value::Point(p)) if matches!(p.len(), 2 | 3) => p,
        Some(geojson::Value::Point(p)) => {
            return Err(invalid(
                "invalid-position",
                &format!(
                "a position is two or three numbers (longitude, latitude[, height]); this has {}",
                p.len()
            ),
            ))
        }
        _ => {
            return Err(invalid(
                "invalid-geometry",
                "the Feature's geometry must be a Point [longitude, latitude]",
            ))
        }
    };
    let mut properties = feature.properties.unwrap_or_default();
    for name in ["longitude", "latitude"] {
        if properties.contains_key(name) {
            return Err(Problem::invalid(vec![FieldError::new(
                name,
                "unknown-field",
                "in a Feature the location is its geometry, not a property",
            )]));
        }
    }
    properties.insert("longitude".into(), point[0].into());
    properties.insert("latitude".into(), point[1].into());
    Ok(serde_json::Value::Object(properties))
}

pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or("").trim();
    if key.is_empty() || key.len() > 200 {
        return Err(Problem::invalid(vec![FieldError::new(
            "Idempotency-Key",
            "invalid-idempotency-key",
            "Idempotency-Key must be 1 to 200 visible characters",
        )]));
    }
    Ok(Some(key.to_owned()))
}

/// The key a create is kept under: the client's Idempotency-Key, scoped to
/// the principal, so two people's keys never meet.
pub(super) fn client_key(viewer: &Viewer, headers: &HeaderMap) -> Result<Option<String>, Problem> {
    Ok(idempotency_key(headers)?.map(|k| format!("{}:{k}", viewer.principal)))
}

/// `POST /api/observations`: log an observation (JSON or a GeoJSON Feature).
pub async fn create(
    State(observations): State<Observations>,
    viewer: Viewer,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let input: ObservationInput = typed(from_feature(body)?)?;
    let created = observations.create(&viewer, input, key, Utc::now()).await?;
    let id = created.observation.id();
    let view = WriteView::from(observations.answer(&viewer, id).await?);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/observations/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if created.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The one query parameter of a single-record read: `purpose`, the stated
/// reason for opening it (up to 500 characters).
pub fn purpose_parameter(raw: Option<&str>) -> Result<Option<String>, Problem> {
    let mut purpose = None;
    for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "purpose" if value.chars().count() <= 500 => purpose = Some(value.into_owned()),
            "purpose" => {
                return Err(Problem::bad_parameter(
                    "too-long",
                    "purpose",
                    "a purpose is at most 500 characters",
                ))
            }
            // GDAL and browsers may add a format parameter.
            "f" => {}
            other => return Err(Problem::unknown_parameter(other)),
        }
    }
    Ok(purpose)
}

/// `GET /api/observations/{id}?purpose=…`: the full record with its
/// history; audited as a consultation.
pub async fn read(
    State(observations): State<Observations>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let purpose = purpose_parameter(raw.as_deref())?;
    let shown = observations
        .open(
            &viewer,
            parse_id(&id)?,
            purpose.as_deref(),
            false,
            Utc::now(),
        )
        .await?;
    // Opening it was recorded as a consultation, with its purpose.
    Ok(super::disclosure::audited(
        Json(ObservationView::from(shown)).into_response(),
    ))
}

/// `PATCH /api/observations/{id}`: a JSON merge patch; history keeps the change.
pub async fn edit(
    State(observations): State<Observations>,
    viewer: Viewer,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<WriteView>, Problem> {
    let id = parse_id(&id)?;
    let patch: ObservationPatch = typed(body)?;
    observations.edit(&viewer, id, patch, Utc::now()).await?;
    Ok(Json(observations.answer(&viewer, id).await?.into()))
}

/// The body of a withdrawal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawInput {
    /// Why the observation is withdrawn.
    pub reason: String,
}

/// `POST /api/observations/{id}/withdraw`: soft delete with a reason.
pub async fn withdraw(
    State(observations): State<Observations>,
    viewer: Viewer,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<WriteView>, Problem> {
    let id = parse_id(&id)?;
    let input: WithdrawInput = typed(body)?;
    observations
        .withdraw(&viewer, id, &input.reason, Utc::now())
        .await?;
    Ok(Json(observations.answer(&viewer, id).await?.into()))
}
