//! The observation: a place-based record of what was seen, where and when.
//!
//! Requests arrive as loosely typed input (`ObservationInput`,
//! `ObservationPatch`), are validated once here into `ObservationDetails`,
//! and nothing downstream re-checks them.

use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use geo::{Coord, Rect};
use serde::{Deserialize, Deserializer, Serialize};

use super::time::format_instant;
use super::vocabulary::{
    Category, Handling, Indicator, InformationAssessment, Sensitivity, SettingType, Severity,
    SourceReliability, Status,
};

/// An observation's id: assigned by the store, stable for life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObservationId(pub i64);

impl std::fmt::Display for ObservationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A WGS84 position, longitude first (RFC 7946 order). Units: degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LonLat {
    /// Longitude in degrees east.
    pub lon: f64,
    /// Latitude in degrees north.
    pub lat: f64,
}

/// 3×5×2-style source grading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Grading {
    /// How reliable the source is.
    pub source: SourceReliability,
    /// How the information is known.
    pub information: InformationAssessment,
    /// How it may be handled.
    pub handling: Handling,
}

impl Default for Grading {
    /// A council officer reporting what they saw themselves: a reliable
    /// source, known directly, which may be shared.
    fn default() -> Self {
        Grading {
            source: SourceReliability::Reliable,
            information: InformationAssessment::KnownDirectly,
            handling: Handling::MayBeShared,
        }
    }
}

/// Everything about an observation that its recorder says (and may edit).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservationDetails {
    /// Where it was seen.
    pub location: LonLat,
    /// Optional area or route, as a GeoJSON LineString or Polygon.
    pub extent: Option<geojson::Geometry>,
    /// When it was seen.
    #[serde(serialize_with = "serialize_instant")]
    pub observed_at: DateTime<Utc>,
    /// What kind of concern.
    pub category: Category,
    /// What was seen, as tags.
    pub indicators: Vec<Indicator>,
    /// The kind of place.
    pub setting: SettingType,
    /// Optional link to a registered place.
    pub place_id: Option<i64>,
    /// Free text about the place; never about named people.
    pub description: String,
    /// How serious.
    pub severity: Severity,
    /// 3×5×2 grading.
    pub grading: Grading,
    /// Who may see it, and how precisely.
    pub sensitivity: Sensitivity,
    /// Opaque reference into a case system (WCCIS, Mosaic, police records).
    pub case_reference: Option<String>,
    /// Where it is in review.
    pub status: Status,
}

/// A withdrawn (soft-deleted) observation's withdrawal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Withdrawal {
    /// When.
    #[serde(serialize_with = "serialize_instant")]
    pub at: DateTime<Utc>,
    /// Who.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// An observation as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    /// Its id.
    pub id: ObservationId,
    /// What the recorder said.
    #[serde(flatten)]
    pub details: ObservationDetails,
    /// When it reached the store.
    #[serde(serialize_with = "serialize_instant")]
    pub recorded_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "serialize_instant")]
    pub updated_at: DateTime<Utc>,
    /// Recording agency.
    pub agency: String,
    /// Recording officer (a principal reference, never a name).
    pub recorded_by: String,
    /// When it must be reviewed (kept with a reason, or erased).
    pub review_by: NaiveDate,
    /// Increments with every change.
    pub version: i64,
    /// Set when withdrawn.
    pub withdrawn: Option<Withdrawal>,
}

fn serialize_instant<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_instant(*t))
}

/// Review-by date for a category recorded at `recorded_at`.
pub fn review_by(category: Category, recorded_at: DateTime<Utc>) -> NaiveDate {
    let date = recorded_at.date_naive();
    date.checked_add_months(Months::new(category.review_months()))
        .unwrap_or(date)
}

/// The JSON body of `POST /api/observations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationInput {
    /// Degrees east, WGS84.
    pub longitude: f64,
    /// Degrees north, WGS84.
    pub latitude: f64,
    /// Optional GeoJSON LineString or Polygon.
    #[serde(default)]
    pub extent: Option<serde_json::Value>,
    /// RFC 3339.
    pub observed_at: String,
    /// Category code.
    pub category: String,
    /// Indicator codes.
    #[serde(default)]
    pub indicators: Vec<String>,
    /// Setting code.
    pub setting: String,
    /// Registered place.
    #[serde(default)]
    pub place_id: Option<i64>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Severity code.
    pub severity: String,
    /// Grading; defaults to reliable / known directly / may be shared.
    #[serde(default)]
    pub grading: Option<GradingInput>,
    /// Sensitivity code; defaults to the category's.
    #[serde(default)]
    pub sensitivity: Option<String>,
    /// Opaque case reference.
    #[serde(default)]
    pub case_reference: Option<String>,
    /// The recorder has seen the free-text warnings and saves anyway.
    #[serde(default)]
    pub acknowledge_warnings: bool,
}

/// Grading as it arrives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradingInput {
    /// Source reliability code.
    pub source: String,
    /// Information assessment code.
    pub information: String,
    /// Handling code.
    pub handling: String,
}

/// The JSON body of `PATCH /api/observations/{id}` (JSON merge patch:
/// absent fields stay, `null` clears an optional field).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationPatch {
    /// New longitude (with latitude).
    pub longitude: Option<f64>,
    /// New latitude (with longitude).
    pub latitude: Option<f64>,
    /// New extent, or `null` to clear.
    #[serde(default, deserialize_with = "double_option")]
    pub extent: Option<Option<serde_json::Value>>,
    /// New observed-at time.
    pub observed_at: Option<String>,
    /// New category.
    pub category: Option<String>,
    /// New indicators (replaces the list).
    pub indicators: Option<Vec<String>>,
    /// New setting.
    pub setting: Option<String>,
    /// New place link, or `null` to clear.
    #[serde(default, deserialize_with = "double_option")]
    pub place_id: Option<Option<i64>>,
    /// New description.
    pub description: Option<String>,
    /// New severity.
    pub severity: Option<String>,
    /// New grading.
    pub grading: Option<GradingInput>,
    /// New sensitivity.
    pub sensitivity: Option<String>,
    /// New case reference, or `null` to clear.
    #[serde(default, deserialize_with = "double_option")]
    pub case_reference: Option<Option<String>>,
    /// New status.
    pub status: Option<String>,
    /// The editor has seen the free-text warnings and saves anyway.
    #[serde(default)]
    pub acknowledge_warnings: bool,
}

/// Tells "absent" (outer `None`) from "null" (`Some(None)`) in a merge patch.
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// One reason an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The offending field, as a dotted path (`grading.source`, `indicators[2]`).
    pub field: String,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

impl FieldError {
    /// A new field error.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// The limits input is checked against; configurable where councils differ.
#[derive(Debug, Clone)]
pub struct ValidationRules {
    /// Locations must fall inside this box (default: Wales). Units: degrees.
    pub service_area: Rect<f64>,
    /// How far back `observed_at` may be.
    pub horizon: Duration,
    /// How far ahead of the server clock `observed_at` may be (clock skew).
    pub future_tolerance: Duration,
    /// Longest description, in characters.
    pub max_description_chars: usize,
    /// Longest case reference, in characters.
    pub max_case_reference_chars: usize,
    /// Most positions in an extent.
    pub max_extent_positions: usize,
}

impl ValidationRules {
    /// Wales' bounding box, lon/lat degrees (from ONS boundaries).
    pub const WALES: [f64; 4] = [-5.670, 51.375, -2.650, 53.436];

    /// Rules with the given service area and horizon, and the fixed text limits.
    pub fn new(service_area: [f64; 4], horizon_days: i64) -> Self {
        ValidationRules {
            service_area: Rect::new(
                Coord {
                    x: service_area[0],
                    y: service_area[1],
                },
                Coord {
                    x: service_area[2],
                    y: service_area[3],
                },
            ),
            horizon: Duration::days(horizon_days),
            future_tolerance: Duration::minutes(5),
            max_description_chars: 2000,
            max_case_reference_chars: 64,
            max_extent_positions: 1000,
        }
    }

    fn in_service_area(&self, lon: f64, lat: f64) -> bool {
        let (min, max) = (self.service_area.min(), self.service_area.max());
        lon >= min.x && lon <= max.x && lat >= min.y && lat <= max.y
    }

    pub(crate) fn location(
        &self,
        lon: f64,
        lat: f64,
        errors: &mut Vec<FieldError>,
    ) -> Option<LonLat> {
        let mut ok = true;
        if !(-180.0..=180.0).contains(&lon) || !lon.is_finite() {
            errors.push(FieldError::new(
                "longitude",
                "out-of-range",
                "longitude must be between -180 and 180 degrees",
            ));
            ok = false;
        }
        if !(-90.0..=90.0).contains(&lat) || !lat.is_finite() {
            errors.push(FieldError::new(
                "latitude",
                "out-of-range",
                "latitude must be between -90 and 90 degrees",
            ));
            ok = false;
        }
        if ok && !self.in_service_area(lon, lat) {
            errors.push(FieldError::new(
                "longitude",
                "outside-service-area",
                "the location is outside the service area",
            ));
            ok = false;
        }
        ok.then_some(LonLat { lon, lat })
    }

    fn observed_at(
        &self,
        s: &str,
        now: DateTime<Utc>,
        errors: &mut Vec<FieldError>,
    ) -> Option<DateTime<Utc>> {
        let Some(t) = super::time::parse_instant(s) else {
            errors.push(FieldError::new(
                "observed_at",
                "invalid-datetime",
                "observed_at must be an RFC 3339 date-time, e.g. 2026-05-01T19:30:00Z",
            ));
            return None;
        };
        if t > now + self.future_tolerance {
            errors.push(FieldError::new(
                "observed_at",
                "in-the-future",
                "observed_at is in the future",
            ));
            return None;
        }
        if t < now - self.horizon {
            errors.push(FieldError::new(
                "observed_at",
                "before-horizon",
                format!(
                    "observed_at is more than {} days ago",
                    self.horizon.num_days()
                ),
            ));
            return None;
        }
        Some(t)
    }

    fn extent(
        &self,
        v: serde_json::Value,
        errors: &mut Vec<FieldError>,
    ) -> Option<geojson::Geometry> {
        use super::geometry::{read, Kind, Rules};
        read(
            &v,
            &Rules {
                field: "extent",
                kinds: &[Kind::LineString, Kind::Polygon],
                expected: "extent must be a LineString (a route) or a Polygon (an area)",
                max_positions: self.max_extent_positions,
                area: self.service_area,
            },
        )
        .map_err(|fault| errors.push(fault))
        .ok()
    }

    fn text(
        &self,
        field: &str,
        s: String,
        max: usize,
        errors: &mut Vec<FieldError>,
    ) -> Option<String> {
        let trimmed = s.trim().to_owned();
        if trimmed.chars().count() > max {
            errors.push(FieldError::new(
                field,
                "too-long",
                format!("{field} must be at most {max} characters"),
            ));
            return None;
        }
        Some(trimmed)
    }

    fn case_reference(
        &self,
        s: Option<String>,
        errors: &mut Vec<FieldError>,
    ) -> Option<Option<String>> {
        match s {
            None => Some(None),
            Some(s) => self
                .text("case_reference", s, self.max_case_reference_chars, errors)
                .map(|t| (!t.is_empty()).then_some(t)),
        }
    }

    /// Validates a new observation into its details, or says every field at fault.
    pub fn validate_new(
        &self,
        input: ObservationInput,
        now: DateTime<Utc>,
    ) -> Result<ObservationDetails, Vec<FieldError>> {
        let mut errors = Vec::new();
        let location = self.location(input.longitude, input.latitude, &mut errors);
        let extent = match input.extent {
            Some(serde_json::Value::Null) | None => Some(None),
            Some(v) => self.extent(v, &mut errors).map(Some),
        };
        let observed_at = self.observed_at(&input.observed_at, now, &mut errors);
        let category = term(
            "category",
            &input.category,
            Category::from_code,
            &mut errors,
        );
        let indicators = indicators(&input.indicators, &mut errors);
        let setting = term(
            "setting",
            &input.setting,
            SettingType::from_code,
            &mut errors,
        );
        let description = self.text(
            "description",
            input.description,
            self.max_description_chars,
            &mut errors,
        );
        let severity = term(
            "severity",
            &input.severity,
            Severity::from_code,
            &mut errors,
        );
        let grading = match input.grading {
            None => Some(Grading::default()),
            Some(g) => grading(&g, &mut errors),
        };
        let sensitivity = match &input.sensitivity {
            None => category.map(Category::default_sensitivity),
            Some(s) => term("sensitivity", s, Sensitivity::from_code, &mut errors),
        };
        let case_reference = self.case_reference(input.case_reference, &mut errors);
        match (
            location,
            extent,
            observed_at,
            category,
            indicators,
            setting,
            description,
            severity,
            grading,
            sensitivity,
            case_reference,
        ) {
            (
                Some(location),
                Some(extent),
                Some(observed_at),
                Some(category),
                Some(indicators),
                Some(setting),
                Some(description),
                Some(severity),
                Some(grading),
                Some(sensitivity),
                Some(case_reference),
            ) if errors.is_empty() => Ok(ObservationDetails {
                location,
                extent,
                observed_at,
                category,
                indicators,
                setting,
                place_id: input.place_id,
                description,
                severity,
                grading,
                sensitivity,
                case_reference,
                status: Status::New,
            }),
            _ => Err(errors),
        }
    }

    /// Applies a merge patch to current details, validating each changed field.
    pub fn apply_patch(
        &self,
        current: &ObservationDetails,
        patch: ObservationPatch,
        now: DateTime<Utc>,
    ) -> Result<ObservationDetails, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut next = current.clone();
        match (patch.longitude, patch.latitude) {
            (None, None) => {}
            (Some(lon), Some(lat)) => {
                if let Some(l) = self.location(lon, lat, &mut errors) {
                    next.location = l;
                }
            }
            (None, Some(_)) => errors.push(FieldError::new(
                "longitude",
                "missing-field",
                "longitude and latitude change together",
            )),
            (Some(_), None) => errors.push(FieldError::new(
                "latitude",
                "missing-field",
                "longitude and latitude change together",
            )),
        }
        match patch.extent {
            None => {}
            Some(None) | Some(Some(serde_json::Value::Null)) => next.extent = None,
            Some(Some(v)) => {
                if let Some(g) = self.extent(v, &mut errors) {
                    next.extent = Some(g);
                }
            }
        }
        if let Some(s) = patch.observed_at {
            if let Some(t) = self.observed_at(&s, now, &mut errors) {
                next.observed_at = t;
            }
        }
        if let Some(s) = patch.category {
            if let Some(c) = term("category", &s, Category::from_code, &mut errors) {
                next.category = c;
            }
        }
        if let Some(list) = patch.indicators {
            if let Some(i) = indicators(&list, &mut errors) {
                next.indicators = i;
            }
        }
        if let Some(s) = patch.setting {
            if let Some(v) = term("setting", &s, SettingType::from_code, &mut errors) {
                next.setting = v;
            }
        }
        if let Some(p) = patch.place_id {
            next.place_id = p;
        }
        if let Some(s) = patch.description {
            if let Some(t) = self.text("description", s, self.max_description_chars, &mut errors) {
                next.description = t;
            }
        }
        if let Some(s) = patch.severity {
            if let Some(v) = term("severity", &s, Severity::from_code, &mut errors) {
                next.severity = v;
            }
        }
        if let Some(g) = patch.grading {
            if let Some(v) = grading(&g, &mut errors) {
                next.grading = v;
            }
        }
        if let Some(s) = patch.sensitivity {
            if let Some(v) = term("sensitivity", &s, Sensitivity::from_code, &mut errors) {
                next.sensitivity = v;
            }
        }
        if let Some(c) = patch.case_reference {
            if let Some(v) = self.case_reference(c, &mut errors) {
                next.case_reference = v;
            }
        }
        if let Some(s) = patch.status {
            if let Some(v) = term("status", &s, Status::from_code, &mut errors) {
                next.status = v;
            }
        }
        if errors.is_empty() {
            Ok(next)
        } else {
            Err(errors)
        }
    }
}

fn term<T>(
    field: &str,
    code: &str,
    from_code: fn(&str) -> Option<T>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let found = from_code(code);
    if found.is_none() {
        errors.push(FieldError::new(
            field,
            "not-in-vocabulary",
            format!("`{code}` is not a known {field}; see GET /api/vocabulary"),
        ));
    }
    found
}

fn indicators(codes: &[String], errors: &mut Vec<FieldError>) -> Option<Vec<Indicator>> {
    let mut out = Vec::with_capacity(codes.len());
    let before = errors.len();
    for (i, code) in codes.iter().enumerate() {
        if let Some(ind) = term(
            &format!("indicators[{i}]"),
            code,
            Indicator::from_code,
            errors,
        ) {
            if !out.contains(&ind) {
                out.push(ind);
            }
        }
    }
    (errors.len() == before).then_some(out)
}

fn grading(g: &GradingInput, errors: &mut Vec<FieldError>) -> Option<Grading> {
    let source = term(
        "grading.source",
        &g.source,
        SourceReliability::from_code,
        errors,
    );
    let information = term(
        "grading.information",
        &g.information,
        InformationAssessment::from_code,
        errors,
    );
    let handling = term("grading.handling", &g.handling, Handling::from_code, errors);
    Some(Grading {
        source: source?,
        information: information?,
        handling: handling?,
    })
}

/// Free-text warnings for the text fields that differ between `before`
/// (none for a new observation) and `after`.
pub fn text_warnings(
    before: Option<&ObservationDetails>,
    after: &ObservationDetails,
) -> Vec<super::lint::TextWarning> {
    let mut warnings = Vec::new();
    if before.is_none_or(|b| b.description != after.description) {
        warnings.extend(super::lint::lint("description", &after.description));
    }
    if let Some(reference) = &after.case_reference {
        if before.is_none_or(|b| b.case_reference.as_ref() != Some(reference)) {
            warnings.extend(super::lint::lint("case_reference", reference));
        }
    }
    warnings
}

/// Fields of `ObservationDetails` whose values differ, as
/// `{field: {"from": old, "to": new}}`, for the edit history.
pub fn changes(before: &ObservationDetails, after: &ObservationDetails) -> serde_json::Value {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return serde_json::Value::Null;
    };
    let mut out = serde_json::Map::new();
    for (key, new) in &b {
        let old = a.get(key).cloned().unwrap_or(serde_json::Value::Null);
        if &old != new {
            out.insert(key.clone(), serde_json::json!({ "from": old, "to": new }));
        }
    }
    serde_json::Value::Object(out)
}
