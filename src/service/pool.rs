//! Bounded pools for costly work, off the HTTP workers.
//!
//! Gi\*, DBSCAN, time profiles and PDF packs run on tokio's blocking
//! threads, at most `permits` at once for each pool, each within a time
//! budget. A request that finds the pool full waits a moment and is then
//! told the service is busy (503 with `Retry-After`); one that runs out of
//! budget is told which parameter to change (422 `too-costly`). Either way
//! the HTTP workers stay free to answer everyone else, `/healthz` included.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::ServiceError;
use crate::analysis::{Budget, OverBudget};

/// A bounded pool.
#[derive(Debug, Clone)]
pub struct Pool {
    /// What it is for (its metrics' label).
    name: &'static str,
    permits: Arc<Semaphore>,
    /// How many places it has.
    size: usize,
    /// How long a request waits for a free place before it is busy.
    wait: Duration,
    /// How long one piece of work may run.
    budget: Duration,
}

impl From<OverBudget> for ServiceError {
    fn from(e: OverBudget) -> Self {
        ServiceError::TooCostly {
            parameter: e.parameter,
            detail: format!(
                "this took longer than one request may; narrow the area (bbox), the dates, or change `{}`",
                e.parameter
            ),
        }
    }
}

impl Pool {
    /// A pool named `name` of `permits` places (at least one), each piece
    /// of work within `budget`.
    pub fn new(name: &'static str, permits: usize, wait: Duration, budget: Duration) -> Pool {
        Pool {
            name,
            permits: Arc::new(Semaphore::new(permits.max(1))),
            size: permits.max(1),
            wait,
            budget,
        }
    }

    /// How many places it has.
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many places are taken now.
    pub fn in_use(&self) -> usize {
        self.size.saturating_sub(self.permits.available_permits())
    }

    /// A place in the pool for work run elsewhere (a download written on its
    /// own thread as it is sent), held until the permit is dropped; busy
    /// when none frees up in time.
    pub async fn place(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ServiceError> {
        let placed = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await;
        if let Ok(Ok(permit)) = placed {
            return Ok(permit);
        }
        metrics::counter!("safetymap_pool_busy_total", "pool" => self.name).increment(1);
        Err(ServiceError::Busy)
    }

    /// How long one piece of work may run.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Runs `work` on a blocking thread once there is a place, with a
    /// budget that names `parameter` when it runs out. The work goes on to
    /// its end (or its budget's) even if the client leaves, and holds its
    /// place until then.
    pub async fn run<T: Send + 'static>(
        &self,
        parameter: &'static str,
        work: impl FnOnce(&Budget) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let permit = self.place().await?;
        let budget = Budget::for_(self.budget, parameter);
        tokio::task::spawn_blocking(move || {
            let _held = permit;
            work(&budget)
        })
        .await
        .unwrap_or(Err(ServiceError::WriteTask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_pool_answers_busy_and_a_long_run_answers_too_costly() {
        let pool = Pool::new(
            "test",
            1,
            Duration::from_millis(50),
            Duration::from_millis(100),
        );
        let (started, wait) = tokio::sync::oneshot::channel::<()>();
        let slow = pool.clone();
        let long = tokio::spawn(async move {
            slow.run("band", move |budget| {
                let _ = started.send(());
                while !budget.spent() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err::<(), _>(budget.check().expect_err("spent").into())
            })
            .await
        });
        wait.await.expect("started");
        let second = pool.run("cell", |_| Ok(())).await;
        assert!(matches!(second, Err(ServiceError::Busy)));
        let first = long.await.expect("joined");
        assert!(matches!(
            first,
            Err(ServiceError::TooCostly {
                parameter: "band",
                ..
            })
        ));
        assert!(
            pool.run("cell", |_| Ok(())).await.is_ok(),
            "the place is free again"
        );
    }
}
