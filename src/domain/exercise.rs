//! Mapping exercises and location assessments: what a panel sets up, draws,
//! decides and agrees to do, checked at the edge.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::lint::lint;
use super::observation::{FieldError, ValidationRules};
use super::vocabulary::{ActionStatus, ExerciseKind};

/// Longest note, decision or action text, in characters.
pub const MAX_TEXT: usize = 2000;

/// A new exercise as a client sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseInput {
    /// `mapping-exercise` or `location-assessment`.
    #[serde(default)]
    pub kind: String,
    /// What the panel calls it.
    #[serde(default)]
    pub title: String,
    /// The area in scope.
    pub area_id: i64,
    /// Observed-at window start (RFC 3339, or a date: its start).
    #[serde(default)]
    pub from: String,
    /// Observed-at window end (RFC 3339, or a date: its end).
    #[serde(default)]
    pub to: String,
    /// Participating agency codes.
    #[serde(default)]
    pub agencies: Vec<String>,
    /// When the panel will look again (YYYY-MM-DD).
    #[serde(default)]
    pub review_on: Option<String>,
}

/// A checked new exercise (the area and agencies are checked against the
/// store when it is saved).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewExercise {
    /// Kind.
    pub kind: ExerciseKind,
    /// Title.
    pub title: String,
    /// Area in scope.
    pub area_id: i64,
    /// Window start.
    pub from: DateTime<Utc>,
    /// Window end.
    pub to: DateTime<Utc>,
    /// Participating agencies, sorted, without repeats.
    pub agencies: Vec<String>,
    /// Review date.
    pub review_on: Option<NaiveDate>,
}

/// Reads an instant, or a UK date as its first (`start`) or last moment.
fn instant_or_date(s: &str, start: bool) -> Option<DateTime<Utc>> {
    if let Some(t) = super::time::parse_instant(s) {
        return Some(t);
    }
    let day = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    let local = if start {
        day.and_hms_opt(0, 0, 0)?
    } else {
        day.and_hms_milli_opt(23, 59, 59, 999)?
    };
    Some(super::time::uk_to_utc(local))
}

/// Checks free text: present, not too long, and not naming people.
pub fn note(errors: &mut Vec<FieldError>, field: &str, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_TEXT {
        errors.push(FieldError::new(
            field,
            "invalid-length",
            format!("1 to {MAX_TEXT} characters"),
        ));
    } else if !lint(field, value).is_empty() {
        errors.push(FieldError::new(
            field,
            "looks-like-personal-data",
            "write about places and what was seen; names and contact details belong in case systems",
        ));
    }
    value.to_owned()
}

impl ExerciseInput {
    /// Checks the input; every fault is reported.
    pub fn validate(&self) -> Result<NewExercise, Vec<FieldError>> {
        let mut errors = Vec::new();
        let kind = ExerciseKind::from_code(self.kind.trim());
        if kind.is_none() {
            errors.push(FieldError::new(
                "kind",
                "not-in-vocabulary",
                "mapping-exercise or location-assessment",
            ));
        }
        let title = self.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > 200 {
            errors.push(FieldError::new(
                "title",
                "invalid-length",
                "1 to 200 characters",
            ));
        }
        let from = instant_or_date(&self.from, true);
        if from.is_none() {
            errors.push(FieldError::new(
                "from",
                "invalid-datetime",
                "a date (YYYY-MM-DD) or RFC 3339 date-time",
            ));
        }
        let to = instant_or_date(&self.to, false);
        if to.is_none() {
            errors.push(FieldError::new(
                "to",
                "invalid-datetime",
                "a date (YYYY-MM-DD) or RFC 3339 date-time",
            ));
        }
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                errors.push(FieldError::new(
                    "to",
                    "window-reversed",
                    "the window ends before it starts",
                ));
            }
        }
        let mut agencies: Vec<String> = self
            .agencies
            .iter()
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty())
            .collect();
        agencies.sort();
        agencies.dedup();
        if agencies.is_empty() {
            errors.push(FieldError::new(
                "agencies",
                "missing-field",
                "name at least one participating agency",
            ));
        }
        let review_on = match self.review_on.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(d) => {
                let parsed = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
                if parsed.is_none() {
                    errors.push(FieldError::new(
                        "review_on",
                        "invalid-date",
                        "a date, YYYY-MM-DD",
                    ));
                }
                parsed
            }
        };
        match (kind, from, to) {
            (Some(kind), Some(from), Some(to)) if errors.is_empty() => Ok(NewExercise {
                kind,
                title,
                area_id: self.area_id,
                from,
                to,
                agencies,
                review_on,
            }),
            _ => Err(errors),
        }
    }
}

/// An annotation as a client sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationInput {
    /// A GeoJSON Point, LineString or Polygon.
    pub geometry: serde_json::Value,
    /// What the panel noted about it.
    #[serde(default)]
    pub note: String,
}

/// A checked annotation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAnnotation {
    /// The geometry, as GeoJSON.
    pub geometry: serde_json::Value,
    /// The note.
    pub note: String,
}

impl AnnotationInput {
    /// Checks the shape (inside the service area, rings closed) and note.
    pub fn validate(&self, rules: &ValidationRules) -> Result<NewAnnotation, Vec<FieldError>> {
        let mut errors = Vec::new();
        let note = note(&mut errors, "note", &self.note);
        use super::geometry::{read, Kind, Rules};
        if let Err(fault) = read(
            &self.geometry,
            &Rules {
                field: "geometry",
                kinds: &[Kind::Point, Kind::LineString, Kind::Polygon],
                expected: "a GeoJSON Point, LineString or Polygon",
                max_positions: 5000,
                area: rules.service_area,
            },
        ) {
            errors.push(fault);
        }
        if errors.is_empty() {
            Ok(NewAnnotation {
                geometry: self.geometry.clone(),
                note,
            })
        } else {
            Err(errors)
        }
    }
}

/// An agreed action as a client sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    /// What is to be done.
    #[serde(default)]
    pub what: String,
    /// The agency that owns it.
    #[serde(default)]
    pub owner_agency: String,
    /// By when (YYYY-MM-DD).
    #[serde(default)]
    pub due_on: String,
    /// Status; `open` when absent.
    #[serde(default)]
    pub status: Option<String>,
    /// Linked place.
    #[serde(default)]
    pub place_id: Option<i64>,
    /// Linked area.
    #[serde(default)]
    pub area_id: Option<i64>,
    /// Linked annotation (of the same exercise).
    #[serde(default)]
    pub annotation_id: Option<i64>,
}

/// A checked action (links are checked against the store when saved).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAction {
    /// What.
    pub what: String,
    /// Owning agency.
    pub owner_agency: String,
    /// Due date.
    pub due_on: NaiveDate,
    /// Status.
    pub status: ActionStatus,
    /// Linked place.
    pub place_id: Option<i64>,
    /// Linked area.
    pub area_id: Option<i64>,
    /// Linked annotation.
    pub annotation_id: Option<i64>,
}

/// Reads an action status code.
pub fn action_status(errors: &mut Vec<FieldError>, value: Option<&str>) -> ActionStatus {
    match value.map(str::trim) {
        None | Some("") => ActionStatus::Open,
        Some(code) => ActionStatus::from_code(code).unwrap_or_else(|| {
            errors.push(FieldError::new(
                "status",
                "not-in-vocabulary",
                "open, in-progress, done or dropped",
            ));
            ActionStatus::Open
        }),
    }
}

impl ActionInput {
    /// Checks the input; every fault is reported.
    pub fn validate(&self) -> Result<NewAction, Vec<FieldError>> {
        let mut errors = Vec::new();
        let what = note(&mut errors, "what", &self.what);
        let owner_agency = self.owner_agency.trim().to_lowercase();
        if owner_agency.is_empty() {
            errors.push(FieldError::new(
                "owner_agency",
                "missing-field",
                "the agency that owns the action",
            ));
        }
        let due_on = NaiveDate::parse_from_str(self.due_on.trim(), "%Y-%m-%d").ok();
        if due_on.is_none() {
            errors.push(FieldError::new(
                "due_on",
                "invalid-date",
                "a date, YYYY-MM-DD",
            ));
        }
        let status = action_status(&mut errors, self.status.as_deref());
        match due_on {
            Some(due_on) if errors.is_empty() => Ok(NewAction {
                what,
                owner_agency,
                due_on,
                status,
                place_id: self.place_id,
                area_id: self.area_id,
                annotation_id: self.annotation_id,
            }),
            _ => Err(errors),
        }
    }
}

/// An exercise as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExerciseRow {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: ExerciseKind,
    /// Title.
    pub title: String,
    /// Area in scope.
    pub area_id: i64,
    /// Window start (RFC 3339).
    pub from: String,
    /// Window end (RFC 3339).
    pub to: String,
    /// Participating agency codes.
    pub agencies: Vec<String>,
    /// Facilitator (principal).
    pub facilitator: String,
    /// Facilitator's display name.
    pub facilitator_name: String,
    /// Review date.
    pub review_on: Option<String>,
    /// When set up.
    pub created_at: String,
    /// When frozen.
    pub frozen_at: Option<String>,
    /// The exercise before it on the same area (frozen), if any.
    pub previous_id: Option<i64>,
    /// The frozen snapshot (JSON), once frozen.
    #[serde(skip)]
    pub snapshot: Option<String>,
}

/// An annotation.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Annotation {
    /// Id.
    pub id: i64,
    /// GeoJSON geometry.
    pub geometry: serde_json::Value,
    /// Note.
    pub note: String,
    /// When drawn.
    pub created_at: String,
}

/// A decision.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Decision {
    /// Id.
    pub id: i64,
    /// What was decided.
    pub text: String,
    /// When recorded.
    pub created_at: String,
}

/// An agreed action.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ActionRow {
    /// Id.
    pub id: i64,
    /// Its exercise.
    pub exercise_id: i64,
    /// What.
    pub what: String,
    /// Owning agency code.
    pub owner_agency: String,
    /// Due date, YYYY-MM-DD.
    pub due_on: String,
    /// Status code.
    pub status: String,
    /// Linked place.
    pub place_id: Option<i64>,
    /// Linked area.
    pub area_id: Option<i64>,
    /// Linked annotation.
    pub annotation_id: Option<i64>,
    /// Edit counter.
    pub version: i64,
}

/// One observation a frozen exercise showed.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotItem {
    /// Observation id.
    pub observation_id: i64,
    /// What the panel saw (JSON), or `None` once erased.
    pub content: Option<String>,
    /// When it was erased, if it was.
    pub erased_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_window_runs_from_the_first_to_the_last_moment_of_its_uk_days() {
        let input = ExerciseInput {
            kind: "mapping-exercise".into(),
            title: "Riverside".into(),
            area_id: 1,
            from: "2026-07-01".into(),
            to: "2026-07-31".into(),
            agencies: vec!["police".into(), "council".into(), "police".into()],
            review_on: None,
        };
        let e = input.validate().expect("valid");
        assert_eq!(e.from.to_rfc3339(), "2026-06-30T23:00:00+00:00");
        assert_eq!(e.to.format("%H:%M:%S").to_string(), "22:59:59");
        assert_eq!(e.agencies, ["council", "police"]);
    }

    #[test]
    fn an_open_polygon_annotation_is_refused() {
        let rules = ValidationRules::new(ValidationRules::WALES, 365);
        let input = AnnotationInput {
            geometry: serde_json::json!({"type": "Polygon", "coordinates": [[[-3.0, 51.58], [-2.99, 51.58], [-2.99, 51.59]]]}),
            note: "Gap in the fence".into(),
        };
        assert_eq!(
            input.validate(&rules).expect_err("refused")[0].field,
            "geometry"
        );
    }
}
