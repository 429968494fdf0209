//! Young people's safety mapping: sessions, marks and the perceptions layer.
//!
//! What keeps it anonymous:
//! - participant numbers never leave the server (they link one young
//!   person's pins and routes together); answers carry counts of distinct
//!   participants only;
//! - a session is read by the facilitator's agency and by coordinators, and
//!   every read is recorded in the audit trail as a consultation;
//! - exact pins are read only by whoever recorded the session: everyone
//!   else, the layer included, is shown a pin at the centre of its 100 m
//!   National Grid square, and boxes are tested against that square.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::ServiceError;
use crate::analysis::grid::{grid_position, Grid, Shape};
use crate::domain::perception::{NewMark, NewSession};
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::{AuditAction, TimeOfDay};
use crate::privacy::{shown_position, Precision};
use crate::store::perceptions::{MarkRow, SessionRow};
use crate::store::{AuditEntry, Store};

/// The grid pins are shown and counted on.
const SQUARES: Grid = Grid {
    shape: Shape::Square,
    size: 100,
};

/// The safety-mapping workflows.
#[derive(Debug, Clone)]
pub struct Perceptions {
    store: Store,
    /// Hides the order marks were recorded in: a facilitator enters one
    /// young person's marks in a row, so sequential ids would link their
    /// route to their pins. Everyone but the recorder sees marks under an
    /// id made from this and the mark's own, and in that id's order.
    salt: [u8; 16],
}

impl Perceptions {
    /// A mark's id as shown to anyone but the session's recorder.
    fn opaque(&self, id: i64) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(id.to_le_bytes());
        hex::encode(&h.finalize()[..8])
    }
}

/// A session as one viewer may read it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionView {
    /// The session.
    pub session: SessionRow,
    /// Its marks: exact for whoever recorded the session, pins at their
    /// square's centre for everyone else; never with participant numbers.
    pub marks: Vec<serde_json::Value>,
    /// How precisely the marks are shown.
    pub precision: Precision,
}

/// What the perceptions layer is asked for.
#[derive(Debug, Clone, Default)]
pub struct LayerQuery {
    /// Kinds wanted (`pin`, `area`, `route`); empty: all.
    pub kinds: BTreeSet<String>,
    /// Only inside this box, tested against what is shown.
    pub bbox: Option<[f64; 4]>,
    /// Times of day wanted; empty: all.
    pub times: Vec<TimeOfDay>,
}

/// Whether `viewer` may read `session`: coordinators, and those of the
/// facilitator's agency who record sessions themselves.
fn may_read(viewer: &Viewer, session: &SessionRow) -> bool {
    let agency = if session.agency.is_empty() {
        // Recorded before agencies were kept: nobody's agency matches.
        "\u{0}"
    } else {
        session.agency.as_str()
    };
    viewer.may(Action::RecordPerceptions, agency, &session.recorded_by)
}

/// A mark as a viewer at `precision` is shown it, under `id`.
fn shown_mark(
    m: &MarkRow,
    precision: Precision,
    id: serde_json::Value,
) -> Option<serde_json::Value> {
    let geometry = match (m.kind.as_str(), precision) {
        ("pin", Precision::Generalised) => {
            let [lon, lat] = shown_position(precision, m.at)?;
            json!({"type": "Point", "coordinates": [lon, lat]})
        }
        _ => m.geometry.clone(),
    };
    Some(json!({
        "id": id,
        "session_id": m.session_id,
        "kind": m.kind,
        "rating": m.rating,
        "route_use": m.route_use,
        "geometry": geometry,
        "precision": precision,
        "reasons": m.reasons,
        "time_of_day": m.time_of_day,
    }))
}

impl Perceptions {
    /// Workflows over a store.
    pub fn new(store: Store) -> Self {
        Perceptions {
            store,
            salt: rand::random(),
        }
    }

    /// The sessions `viewer` may read, newest first; the list is recorded
    /// as a consultation.
    pub async fn sessions(
        &self,
        viewer: &Viewer,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionRow>, ServiceError> {
        if !viewer.may_at_all(Action::RecordPerceptions) {
            return Err(ServiceError::Forbidden);
        }
        let sessions: Vec<SessionRow> = self
            .store
            .perception_sessions()
            .await?
            .into_iter()
            .filter(|s| may_read(viewer, s))
            .collect();
        self.store
            .record_audit(&AuditEntry::by(
                viewer,
                AuditAction::Consultation,
                "perception-session",
                "",
                &viewer.agency,
                Some(&format!(
                    "listed {} safety-mapping sessions",
                    sessions.len()
                )),
                now,
            ))
            .await?;
        Ok(sessions)
    }

    /// One session and its marks, recorded as a consultation before it is
    /// returned. A session the viewer may not read is not found.
    pub async fn session(
        &self,
        viewer: &Viewer,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<SessionView, ServiceError> {
        let session = self.readable(viewer, id).await?;
        let precision = if session.recorded_by == viewer.principal {
            Precision::Exact
        } else {
            Precision::Generalised
        };
        let mut marks: Vec<serde_json::Value> = self
            .store
            .perception_marks(Some(id))
            .await?
            .iter()
            .filter_map(|m| {
                let shown_id = match precision {
                    Precision::Exact => json!(m.id),
                    _ => json!(self.opaque(m.id)),
                };
                shown_mark(m, precision, shown_id)
            })
            .collect();
        if precision != Precision::Exact {
            marks.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        }
        self.store
            .record_audit(&AuditEntry::by(
                viewer,
                AuditAction::Consultation,
                "perception-session",
                id.to_string(),
                &session.agency,
                Some("read a safety-mapping session"),
                now,
            ))
            .await?;
        Ok(SessionView {
            session,
            marks,
            precision,
        })
    }

    async fn readable(&self, viewer: &Viewer, id: i64) -> Result<SessionRow, ServiceError> {
        if !viewer.may_at_all(Action::RecordPerceptions) {
            return Err(ServiceError::Forbidden);
        }
        self.store
            .perception_session(id)
            .await?
            .filter(|s| may_read(viewer, s))
            .ok_or(ServiceError::NotFound)
    }

    /// Records a session facilitated by `viewer`; with a key, a retry
    /// returns the first. Answers the session's id and whether it is new.
    pub async fn create(
        &self,
        viewer: &Viewer,
        new: NewSession,
        key: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(SessionRow, bool), ServiceError> {
        if !viewer.may_at_all(Action::RecordPerceptions) {
            return Err(ServiceError::Forbidden);
        }
        let (store, viewer) = (self.store.clone(), viewer.clone());
        super::to_completion(async move {
            let entry = AuditEntry::by(
                &viewer,
                AuditAction::Collection,
                "perception-session",
                "0",
                &viewer.agency,
                Some("recorded a safety-mapping session"),
                now,
            );
            let (id, new) = store
                .create_perception_session(&new, &viewer, key.as_deref(), entry)
                .await?;
            let session = store
                .perception_session(id)
                .await?
                .ok_or(ServiceError::NotFound)?;
            Ok((session, new))
        })
        .await
    }

    /// Adds a mark to a session the viewer may read; with a key, a retry
    /// returns the first. Answers the mark's id and whether it is new.
    pub async fn mark(
        &self,
        viewer: &Viewer,
        session: i64,
        mark: NewMark,
        key: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(i64, bool), ServiceError> {
        let row = self.readable(viewer, session).await?;
        let (store, viewer) = (self.store.clone(), viewer.clone());
        super::to_completion(async move {
            let entry = AuditEntry::by(
                &viewer,
                AuditAction::Collection,
                "perception-session",
                session.to_string(),
                &row.agency,
                Some("recorded a safety-mapping mark"),
                now,
            );
            Ok(store
                .add_perception_mark(session, &mark, key.as_deref(), entry)
                .await?)
        })
        .await
    }

    /// The perceptions layer: pins counted per 100 m square by how many
    /// distinct participants marked it each colour (filtered by the square
    /// they are shown in), and areas and routes as drawn.
    pub async fn layer(
        &self,
        viewer: &Viewer,
        query: &LayerQuery,
    ) -> Result<Vec<serde_json::Value>, ServiceError> {
        if !viewer.may_at_all(Action::ReadLayers) {
            return Err(ServiceError::Forbidden);
        }
        let marks = self.store.perception_marks(None).await?;
        Ok(layer_features(&marks, query, |id| self.opaque(id)))
    }
}

/// Pins per square: the distinct participants who marked it each colour,
/// and the reasons given.
#[derive(Default)]
struct Square {
    red: BTreeSet<(i64, i64)>,
    amber: BTreeSet<(i64, i64)>,
    green: BTreeSet<(i64, i64)>,
    reasons: BTreeMap<String, u32>,
}

fn layer_features(
    marks: &[MarkRow],
    query: &LayerQuery,
    opaque: impl Fn(i64) -> String,
) -> Vec<serde_json::Value> {
    let wanted = |kind: &str| query.kinds.is_empty() || query.kinds.contains(kind);
    let inside = |[lon, lat]: [f64; 2]| {
        query
            .bbox
            .is_none_or(|[x0, y0, x1, y1]| lon >= x0 && lon <= x1 && lat >= y0 && lat <= y1)
    };
    let mut squares: BTreeMap<(i64, i64), Square> = BTreeMap::new();
    let mut features = Vec::new();
    for m in marks {
        if !query.times.is_empty()
            && !TimeOfDay::from_code(&m.time_of_day)
                .is_some_and(|t| t == TimeOfDay::Any || query.times.contains(&t))
        {
            continue;
        }
        match m.kind.as_str() {
            "pin" if wanted("pin") => {
                let Some((e, n)) = grid_position(m.at) else {
                    continue;
                };
                let cell = SQUARES.cell_of(e, n);
                // The box is tested against the square's centre, where the
                // pin is shown: never against the pin itself.
                let Some(centre) = SQUARES.centre_lonlat(cell) else {
                    continue;
                };
                if !inside(centre) {
                    continue;
                }
                let square = squares.entry(cell).or_default();
                let who = (m.session_id, m.participant);
                match m.rating.as_deref() {
                    Some("red") => square.red.insert(who),
                    Some("amber") => square.amber.insert(who),
                    _ => square.green.insert(who),
                };
                for r in &m.reasons {
                    *square.reasons.entry(r.clone()).or_default() += 1;
                }
            }
            // Areas and routes are shown as drawn, so the box may be tested
            // against their representative position.
            "area" if wanted("area") && inside(m.at) => features.push(json!({
                "type": "Feature", "id": format!("mark-{}", opaque(m.id)), "geometry": m.geometry,
                "properties": {"kind": "area", "rating": m.rating, "time_of_day": m.time_of_day, "reasons": m.reasons},
            })),
            "route" if wanted("route") && inside(m.at) => features.push(json!({
                "type": "Feature", "id": format!("mark-{}", opaque(m.id)), "geometry": m.geometry,
                "properties": {"kind": "route", "route_use": m.route_use, "time_of_day": m.time_of_day, "reasons": m.reasons},
            })),
            _ => {}
        }
    }
    // In the order of their opaque ids, not the order they were recorded.
    features.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    for (cell, s) in squares {
        let Some(outline) = SQUARES.outline(cell) else {
            continue;
        };
        let participants: BTreeSet<&(i64, i64)> =
            s.red.iter().chain(&s.amber).chain(&s.green).collect();
        features.push(json!({
            "type": "Feature",
            "id": format!("square-{}-{}", cell.0, cell.1),
            "geometry": {"type": "Polygon", "coordinates": [outline]},
            "properties": {"kind": "pin-square", "red": s.red.len(), "amber": s.amber.len(), "green": s.green.len(),
                "participants": participants.len(), "reasons": s.reasons},
        }));
    }
    features
}
