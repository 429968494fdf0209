//! Young people's safety mapping: a facilitator records, anonymously, the
//! places and routes young people mark red, amber or green, with reasons
//! from a fixed list. A participant is only a number within the session.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::observation::{FieldError, ValidationRules};
use super::vocabulary::{AgeBand, PerceptionReason, Rating, RouteUse, TimeOfDay};

/// Most participants one session numbers.
pub const MAX_PARTICIPANTS: i64 = 200;

/// A session as a client sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionInput {
    /// When it was held, YYYY-MM-DD.
    #[serde(default)]
    pub held_on: String,
    /// The area it was about, if any.
    #[serde(default)]
    pub area_id: Option<i64>,
    /// The participants' age band, if recorded.
    #[serde(default)]
    pub age_band: Option<String>,
}

/// A checked session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewSession {
    /// When.
    pub held_on: NaiveDate,
    /// Area.
    pub area_id: Option<i64>,
    /// Age band.
    pub age_band: Option<AgeBand>,
}

impl SessionInput {
    /// Checks the input.
    pub fn validate(&self) -> Result<NewSession, Vec<FieldError>> {
        let mut errors = Vec::new();
        let held_on = NaiveDate::parse_from_str(self.held_on.trim(), "%Y-%m-%d").ok();
        if held_on.is_none() {
            errors.push(FieldError::new(
                "held_on",
                "invalid-date",
                "a date, YYYY-MM-DD",
            ));
        }
        let age_band = match self.age_band.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => {
                let band = AgeBand::from_code(code);
                if band.is_none() {
                    errors.push(FieldError::new(
                        "age_band",
                        "not-in-vocabulary",
                        "an age band from /api/vocabulary",
                    ));
                }
                band
            }
        };
        match held_on {
            Some(held_on) if errors.is_empty() => Ok(NewSession {
                held_on,
                area_id: self.area_id,
                age_band,
            }),
            _ => Err(errors),
        }
    }
}

/// A mark as a client sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkInput {
    /// The participant's number in the session.
    pub participant: i64,
    /// `pin`, `area` or `route`.
    #[serde(default)]
    pub kind: String,
    /// Red, amber or green (pins and areas).
    #[serde(default)]
    pub rating: Option<String>,
    /// Used or avoided (routes).
    #[serde(default)]
    pub route_use: Option<String>,
    /// Point (pin), Polygon (area) or LineString (route).
    pub geometry: serde_json::Value,
    /// Reason codes.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Time of day code; `any` when absent.
    #[serde(default)]
    pub time_of_day: Option<String>,
}

/// What a mark is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MarkKind {
    /// A pin on a place.
    Pin,
    /// An area.
    Area,
    /// A route.
    Route,
}

impl MarkKind {
    /// Its code.
    pub fn code(self) -> &'static str {
        match self {
            MarkKind::Pin => "pin",
            MarkKind::Area => "area",
            MarkKind::Route => "route",
        }
    }

    /// From its code.
    pub fn from_code(code: &str) -> Option<MarkKind> {
        match code {
            "pin" => Some(MarkKind::Pin),
            "area" => Some(MarkKind::Area),
            "route" => Some(MarkKind::Route),
            _ => None,
        }
    }
}

/// A checked mark.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewMark {
    /// Participant number.
    pub participant: i64,
    /// Kind.
    pub kind: MarkKind,
    /// Rating (pins, areas).
    pub rating: Option<Rating>,
    /// Use (routes).
    pub route_use: Option<RouteUse>,
    /// The geometry.
    pub geometry: serde_json::Value,
    /// A representative position (the pin, or the shape's first position).
    pub at: [f64; 2],
    /// Reasons, sorted.
    pub reasons: Vec<PerceptionReason>,
    /// Time of day.
    pub time_of_day: TimeOfDay,
}

impl MarkInput {
    /// Checks the mark: the geometry fits the kind and lies in the service
    /// area; rating or use as the kind needs; reasons from the list.
    pub fn validate(&self, rules: &ValidationRules) -> Result<NewMark, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(1..=MAX_PARTICIPANTS).contains(&self.participant) {
            errors.push(FieldError::new(
                "participant",
                "out-of-range",
                format!("a participant number from 1 to {MAX_PARTICIPANTS} (never a name)"),
            ));
        }
        let kind = MarkKind::from_code(self.kind.trim());
        if kind.is_none() {
            errors.push(FieldError::new(
                "kind",
                "not-in-vocabulary",
                "pin, area or route",
            ));
        }
        let rating = self.rating.as_deref().map(|r| Rating::from_code(r.trim()));
        let route_use = self
            .route_use
            .as_deref()
            .map(|r| RouteUse::from_code(r.trim()));
        match kind {
            Some(MarkKind::Pin | MarkKind::Area) if !matches!(rating, Some(Some(_))) => errors
                .push(FieldError::new(
                    "rating",
                    "missing-field",
                    "red, amber or green",
                )),
            Some(MarkKind::Route) if !matches!(route_use, Some(Some(_))) => errors.push(
                FieldError::new("route_use", "missing-field", "used or avoided"),
            ),
            _ => {}
        }
        let shape = match kind {
            Some(MarkKind::Pin) => Some(super::geometry::Kind::Point),
            Some(MarkKind::Route) => Some(super::geometry::Kind::LineString),
            Some(MarkKind::Area) => Some(super::geometry::Kind::Polygon),
            None => None,
        };
        let mut at = None;
        if let Some(shape) = shape {
            let checked = super::geometry::read(
                &self.geometry,
                &super::geometry::Rules {
                    field: "geometry",
                    kinds: &[shape],
                    expected: "a Point for a pin, a Polygon for an area, a LineString for a route",
                    max_positions: 5000,
                    area: rules.service_area,
                },
            );
            match checked {
                Ok(geometry) => at = super::geometry::first_position(&geometry),
                Err(fault) => errors.push(fault),
            }
        }
        let mut reasons = Vec::new();
        for (i, code) in self.reasons.iter().enumerate() {
            match PerceptionReason::from_code(code.trim()) {
                Some(r) => reasons.push(r),
                None => errors.push(FieldError::new(
                    format!("reasons[{i}]"),
                    "not-in-vocabulary",
                    "a reason from the fixed list",
                )),
            }
        }
        reasons.sort();
        reasons.dedup();
        let time_of_day = match self.time_of_day.as_deref().map(str::trim) {
            None | Some("") => TimeOfDay::Any,
            Some(code) => TimeOfDay::from_code(code).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    "time_of_day",
                    "not-in-vocabulary",
                    "a time of day from /api/vocabulary",
                ));
                TimeOfDay::Any
            }),
        };
        match (kind, at) {
            (Some(kind), Some(at)) if errors.is_empty() => Ok(NewMark {
                participant: self.participant,
                kind,
                rating: rating.flatten().filter(|_| kind != MarkKind::Route),
                route_use: route_use.flatten().filter(|_| kind == MarkKind::Route),
                geometry: self.geometry.clone(),
                at,
                reasons,
                time_of_day,
            }),
            _ => Err(errors),
        }
    }
}

/// A session, with how many marks and participants it has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRow {
    /// Id.
    pub id: i64,
    /// When held.
    pub held_on: String,
    /// Area, if any.
    pub area_id: Option<i64>,
    /// Age band code, if recorded.
    pub age_band: Option<String>,
    /// Facilitator's name.
    pub facilitator: String,
    /// The facilitator's agency ('' for sessions recorded before it was kept).
    pub agency: String,
    /// Who recorded it (a principal); kept on the server.
    #[serde(skip)]
    pub recorded_by: String,
    /// Marks recorded.
    pub marks: i64,
    /// Distinct participants.
    pub participants: i64,
}

/// A mark.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarkRow {
    /// Id.
    pub id: i64,
    /// Its session.
    pub session_id: i64,
    /// Participant number in the session. Never leaves the server: it links
    /// one young person's marks together.
    #[serde(skip)]
    pub participant: i64,
    /// pin | area | route.
    pub kind: String,
    /// red | amber | green.
    pub rating: Option<String>,
    /// used | avoided.
    pub route_use: Option<String>,
    /// GeoJSON geometry.
    pub geometry: serde_json::Value,
    /// Representative position.
    #[serde(skip)]
    pub at: [f64; 2],
    /// Reason codes.
    pub reasons: Vec<String>,
    /// Time of day code.
    pub time_of_day: String,
}
