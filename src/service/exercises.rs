//! Mapping exercises and location assessments: the workflows behind their
//! routes. Who may see or do what to an exercise is decided here; every
//! view is the panel's, cut to the reader's scope (`exercise::for_reader`);
//! every change commits with its audit event on its own task.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::{to_completion, ServiceError};
use crate::analysis::Suppression;
use crate::areas::{Area, AreaSet};
use crate::domain::exercise::{ActionRow, ExerciseRow, NewAction, NewAnnotation, NewExercise};
use crate::domain::time::{format_instant, parse_instant, unix_millis};
use crate::domain::viewer::{Action, Reach, Viewer};
use crate::domain::vocabulary::{ActionStatus, AuditAction};
use crate::exercise::{follow_up, for_reader, frozen_view, live_view, snapshot};
use crate::exercise::{ExerciseView, FollowUp};
use crate::index::SpatialIndex;
use crate::store::{AuditEntry, Store, StoreError};

/// The exercise workflows.
#[derive(Debug, Clone)]
pub struct Exercises {
    store: Store,
    index: Arc<SpatialIndex>,
    areas: Arc<AreaSet>,
    threshold: u32,
}

/// Whether `viewer` may do `action` on `exercise`.
fn may(viewer: &Viewer, action: Action, exercise: &ExerciseRow) -> bool {
    match viewer.reach(action) {
        Reach::Any => true,
        Reach::Agency => exercise.agencies.contains(&viewer.agency),
        Reach::Own | Reach::None => false,
    }
}

/// Whether `viewer` runs exercises (coordinators).
fn runs(viewer: &Viewer) -> bool {
    viewer.reach(Action::RunExercises) == Reach::Any
}

fn entry(
    viewer: &Viewer,
    action: AuditAction,
    id: i64,
    what: &str,
    now: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry::by(
        viewer,
        action,
        "exercise",
        id.to_string(),
        &viewer.agency,
        Some(what),
        now,
    )
}

/// Which actions a list asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Due before today.
    Overdue,
    /// Due within a week.
    Week,
    /// All of them.
    All,
}

impl Exercises {
    /// Exercises over a store, its index and the parsed areas.
    pub fn new(
        store: Store,
        index: Arc<SpatialIndex>,
        areas: Arc<AreaSet>,
        threshold: u32,
    ) -> Exercises {
        Exercises {
            store,
            index,
            areas,
            threshold,
        }
    }

    /// The exercise, if `viewer` may at least see it; otherwise not found
    /// (whether an exercise exists is itself not for everyone).
    pub async fn visible(&self, viewer: &Viewer, id: i64) -> Result<ExerciseRow, ServiceError> {
        match self.store.exercise(id).await? {
            Some(e) if may(viewer, Action::ReadExercises, &e) => Ok(e),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// The exercises `viewer` may see, newest first; which exercise came
    /// before each is for those who run them.
    pub async fn list(&self, viewer: &Viewer) -> Result<Vec<ExerciseRow>, ServiceError> {
        if !viewer.may_at_all(Action::ReadExercises) {
            return Err(ServiceError::Forbidden);
        }
        Ok(self
            .store
            .exercises()
            .await?
            .into_iter()
            .filter(|e| may(viewer, Action::ReadExercises, e))
            .map(|e| self.summarised_for(viewer, e))
            .collect())
    }

    /// An exercise row as `viewer` may read it.
    fn summarised_for(&self, viewer: &Viewer, mut e: ExerciseRow) -> ExerciseRow {
        if !runs(viewer) {
            e.previous_id = None;
        }
        e
    }

    /// The area an exercise is on.
    pub fn area_of(&self, exercise: &ExerciseRow) -> Result<Arc<Area>, ServiceError> {
        self.areas
            .get(exercise.area_id)
            .ok_or(ServiceError::NotFound)
    }

    /// Sets one up (those who run exercises), facilitated by its creator;
    /// with a key, a retry returns the first (`false`).
    pub async fn create(
        &self,
        viewer: &Viewer,
        new: NewExercise,
        key: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(ExerciseRow, bool), ServiceError> {
        if !runs(viewer) {
            return Err(ServiceError::Forbidden);
        }
        let audit = entry(
            viewer,
            AuditAction::Collection,
            0,
            "set up an exercise",
            now,
        );
        let (store, who) = (self.store.clone(), viewer.clone());
        let (row, created) = to_completion(async move {
            let (id, created) = store
                .create_exercise(&new, (&who.principal, &who.name), key.as_deref(), audit)
                .await?;
            let row = store.exercise(id).await?.ok_or(ServiceError::NotFound)?;
            Ok((row, created))
        })
        .await?;
        Ok((self.summarised_for(viewer, row), created))
    }

    /// The panel's view of `exercise` — frozen, or live — before it is cut
    /// to any reader.
    async fn panel_view(&self, exercise: &ExerciseRow) -> Result<ExerciseView, ServiceError> {
        if let Some(view) = frozen_view(&self.store, exercise, self.threshold).await? {
            return Ok(view);
        }
        let area = self.area_of(exercise)?;
        Ok(live_view(&self.store, &self.index, &area, exercise, self.threshold).await?)
    }

    /// `exercise`'s view as `viewer` may read it.
    pub async fn view(
        &self,
        viewer: &Viewer,
        exercise: &ExerciseRow,
    ) -> Result<ExerciseView, ServiceError> {
        let view = self.panel_view(exercise).await?;
        let area = self.area_of(exercise)?;
        Ok(for_reader(view, &self.index, viewer, &area, self.threshold))
    }

    /// The meeting view of exercise `id` for `viewer`.
    pub async fn read(&self, viewer: &Viewer, id: i64) -> Result<ExerciseView, ServiceError> {
        let exercise = self.visible(viewer, id).await?;
        self.view(viewer, &exercise).await
    }

    /// An exercise `viewer` may contribute to.
    async fn contributing(&self, viewer: &Viewer, id: i64) -> Result<ExerciseRow, ServiceError> {
        let exercise = self.visible(viewer, id).await?;
        if !may(viewer, Action::ContributeToExercises, &exercise) {
            return Err(ServiceError::Forbidden);
        }
        Ok(exercise)
    }

    /// Runs a contribution to exercise `id` (an annotation, a decision, an
    /// action): `write` commits it with the audit event saying `what`, on
    /// its own task.
    async fn contribute<T, Fut>(
        &self,
        viewer: &Viewer,
        id: i64,
        what: &str,
        now: DateTime<Utc>,
        write: impl FnOnce(Store, i64, AuditEntry) -> Fut + Send + 'static,
    ) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        Fut: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let exercise = self.contributing(viewer, id).await?;
        let audit = entry(viewer, AuditAction::Alteration, exercise.id, what, now);
        let store = self.store.clone();
        to_completion(async move { Ok(write(store, exercise.id, audit).await?) }).await
    }

    /// Draws a point, line or polygon with a note; answers its id and
    /// whether it is new.
    pub async fn annotate(
        &self,
        viewer: &Viewer,
        id: i64,
        new: NewAnnotation,
        key: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(i64, bool), ServiceError> {
        self.contribute(
            viewer,
            id,
            "annotated an exercise",
            now,
            |store, id, audit| async move {
                store.add_annotation(id, &new, key.as_deref(), audit).await
            },
        )
        .await
    }

    /// Records a decision; answers its id and whether it is new.
    pub async fn decide(
        &self,
        viewer: &Viewer,
        id: i64,
        text: String,
        key: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(i64, bool), ServiceError> {
        self.contribute(viewer, id, "recorded a decision", now, |store, id, audit| async move {
            store.add_decision(id, &text, key.as_deref(), audit).await
        })
        .await
    }

    /// Agrees an action; answers it and whether it is new.
    pub async fn add_action(
        &self,
        viewer: &Viewer,
        id: i64,
        new: NewAction,
        key: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(ActionRow, bool), ServiceError> {
        self.contribute(viewer, id, "agreed an action", now, |store, id, audit| async move {
            store.add_action(id, &new, key.as_deref(), audit).await
        })
        .await
    }

    /// Moves an action on: its exercise's contributors, or the owning
    /// agency's staff who may see the exercise. An action of an exercise
    /// the viewer may not see is no more found than one that does not exist.
    pub async fn set_action_status(
        &self,
        viewer: &Viewer,
        action_id: i64,
        version: i64,
        status: ActionStatus,
        now: DateTime<Utc>,
    ) -> Result<ActionRow, ServiceError> {
        let action = self
            .store
            .action(action_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let exercise = self.visible(viewer, action.exercise_id).await?;
        if !may(viewer, Action::ContributeToExercises, &exercise)
            && viewer.agency != action.owner_agency
        {
            return Err(ServiceError::Forbidden);
        }
        let audit = entry(
            viewer,
            AuditAction::Alteration,
            exercise.id,
            "moved an action on",
            now,
        );
        let store = self.store.clone();
        to_completion(async move {
            Ok(store
                .set_action_status(action_id, version, status, audit)
                .await?)
        })
        .await
    }

    /// Freezes what the panel saw — the panel's view itself, not any
    /// reader's cut of it — and answers the frozen view as `viewer` reads it.
    pub async fn freeze(
        &self,
        viewer: &Viewer,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<ExerciseView, ServiceError> {
        let exercise = self.visible(viewer, id).await?;
        if !runs(viewer) {
            return Err(ServiceError::Forbidden);
        }
        if exercise.frozen_at.is_some() {
            return Err(ServiceError::Store(StoreError::Frozen));
        }
        let view = self.panel_view(&exercise).await?;
        let (snapshot, items) = snapshot(view, &format_instant(now));
        let audit = entry(
            viewer,
            AuditAction::Alteration,
            exercise.id,
            "froze an exercise",
            now,
        );
        let store = self.store.clone();
        let frozen = to_completion(async move {
            store
                .freeze_exercise(exercise.id, &snapshot, &items, audit)
                .await?;
            store
                .exercise(exercise.id)
                .await?
                .ok_or(ServiceError::NotFound)
        })
        .await?;
        self.view(viewer, &frozen).await
    }

    /// The view a pack prints for `viewer`, recorded as a disclosure
    /// (`what` says which pack) before it is returned.
    pub async fn pack(
        &self,
        viewer: &Viewer,
        id: i64,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<ExerciseView, ServiceError> {
        let view = self.read(viewer, id).await?;
        self.disclosed(viewer, id, what, now).await?;
        Ok(view)
    }

    /// Records that a pack of exercise `id` was given to `viewer`: for a
    /// pack made from [`Exercises::read`] before it could be recorded (a
    /// PDF, which Chromium may fail to make, is recorded once it exists).
    pub async fn disclosed(
        &self,
        viewer: &Viewer,
        id: i64,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        self.store
            .record_audit(&entry(viewer, AuditAction::Disclosure, id, what, now))
            .await?;
        Ok(())
    }

    /// Counts before and after freezing, in the area and in a ring of
    /// `ring` metres around it, as `viewer` is shown them.
    pub async fn follow_up(
        &self,
        viewer: &Viewer,
        id: i64,
        ring: f64,
        now: DateTime<Utc>,
    ) -> Result<(i64, FollowUp), ServiceError> {
        let exercise = self.visible(viewer, id).await?;
        let Some(frozen) = exercise.frozen_at.as_deref().and_then(parse_instant) else {
            return Err(ServiceError::NotFrozen);
        };
        let area = self.area_of(&exercise)?;
        let suppression = Suppression::for_role(viewer.role, self.threshold);
        Ok((
            exercise.id,
            follow_up(
                &self.index,
                viewer,
                &area,
                unix_millis(frozen),
                unix_millis(now),
                ring,
                &suppression,
            ),
        ))
    }

    /// What the panels drew on the exercises `viewer` may see, each with
    /// its exercise, exercise by exercise (newest first) and in the order
    /// drawn: the annotations layer. An annotation is part of its
    /// exercise's meeting view, so whoever may read the exercise may read
    /// it, and nobody else learns it exists.
    pub async fn annotations(
        &self,
        viewer: &Viewer,
    ) -> Result<Vec<(ExerciseRow, crate::domain::exercise::Annotation)>, ServiceError> {
        let mut out = Vec::new();
        for exercise in self.list(viewer).await? {
            for annotation in self.store.annotations(exercise.id).await? {
                out.push((exercise.clone(), annotation));
            }
        }
        Ok(out)
    }

    /// Actions across the exercises `viewer` may see (`due` by `today`),
    /// soonest due first, each with its exercise's title and whether it is
    /// overdue.
    pub async fn actions(
        &self,
        viewer: &Viewer,
        due: Due,
        today: NaiveDate,
    ) -> Result<Vec<serde_json::Value>, ServiceError> {
        if !viewer.may_at_all(Action::ReadExercises) {
            return Err(ServiceError::Forbidden);
        }
        let rows = match due {
            Due::Overdue => {
                self.store
                    .actions_due(today - chrono::Duration::days(1))
                    .await?
            }
            Due::Week => {
                self.store
                    .actions_due(today + chrono::Duration::days(7))
                    .await?
            }
            Due::All => self.store.actions(None).await?,
        };
        let exercises = self.store.exercises().await?;
        let today_text = today.format("%Y-%m-%d").to_string();
        Ok(rows
            .into_iter()
            .filter_map(|a| {
                let e = exercises.iter().find(|e| e.id == a.exercise_id)?;
                if !may(viewer, Action::ReadExercises, e) {
                    return None;
                }
                let open = matches!(a.status.as_str(), "open" | "in-progress");
                let mut v = serde_json::to_value(&a).ok()?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("exercise_title".into(), e.title.clone().into());
                    o.insert("overdue".into(), (open && a.due_on < today_text).into());
                }
                Some(v)
            })
            .collect())
    }
}
