//! Per-principal budgets for reports and aggregate queries.
//!
//! An insider with a script can difference thousands of aggregate answers;
//! the privacy rules make each answer safe, and a budget makes volume
//! visible. Each principal may ask for so many reports, and so many
//! aggregate queries, in a window (defaults a licensing officer or a panel
//! member never meets in a day's work). Past that they are refused with
//! 429 and `Retry-After`, and the first refusal in each window writes an
//! audit event under their agency, which its coordinators see in the audit
//! log.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ServiceError;
use crate::clock::Clock;
use crate::domain::viewer::Viewer;
use crate::domain::vocabulary::AuditAction;
use crate::store::{AuditEntry, Store};

/// What is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Licensing consultation reports.
    Report,
    /// Aggregate layers and profiles (grid, hot spots, clusters, time
    /// profiles, area counts, follow-up), and aggregate tiles made afresh.
    Aggregate,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Report => "reports",
            Kind::Aggregate => "aggregate queries",
        }
    }
}

#[derive(Debug)]
struct Window {
    started: Instant,
    used: u32,
    flagged: bool,
}

/// The budgets, kept in memory (a restart forgives; an instance each).
#[derive(Debug)]
pub struct Budgets {
    reports: u32,
    aggregates: u32,
    window: Duration,
    used: Mutex<HashMap<(String, Kind), Window>>,
}

impl Budgets {
    /// `reports` and `aggregates` per principal per `window`.
    pub fn new(reports: u32, aggregates: u32, window: Duration) -> Budgets {
        Budgets {
            reports,
            aggregates,
            window,
            used: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one of `kind` for `viewer`. Over budget: the first time in a
    /// window an audit event is written, and every time the answer is
    /// [`ServiceError::OverBudget`] with the seconds until the window ends.
    pub async fn charge(
        &self,
        viewer: &Viewer,
        kind: Kind,
        store: &Store,
        clock: &Clock,
    ) -> Result<(), ServiceError> {
        let limit = match kind {
            Kind::Report => self.reports,
            Kind::Aggregate => self.aggregates,
        };
        let (retry_after, crossed) = {
            let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            // Forget finished windows now and then, so the map stays small.
            if used.len() > 10_000 {
                used.retain(|_, w| now.duration_since(w.started) < self.window);
            }
            let w = used
                .entry((viewer.principal.clone(), kind))
                .or_insert(Window {
                    started: now,
                    used: 0,
                    flagged: false,
                });
            if now.duration_since(w.started) >= self.window {
                *w = Window {
                    started: now,
                    used: 0,
                    flagged: false,
                };
            }
            if w.used < limit {
                w.used += 1;
                return Ok(());
            }
            let left = self.window.saturating_sub(now.duration_since(w.started));
            let crossed = !w.flagged;
            w.flagged = true;
            (
                u32::try_from(left.as_secs().max(1)).unwrap_or(u32::MAX),
                crossed,
            )
        };
        if crossed {
            Box::pin(store.record_audit(&AuditEntry::by(
                viewer,
                AuditAction::Alert,
                "budget",
                kind.describe(),
                &viewer.agency,
                Some(&format!(
                    "asked for more than {limit} {} within {} minutes; refused until the window ends",
                    kind.describe(),
                    self.window.as_secs() / 60
                )),
                clock.now(),
            )))
            .await?;
        }
        Err(ServiceError::OverBudget { retry_after })
    }
}
