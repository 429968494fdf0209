//! Stopping the server under load, politely and not: SIGTERM answers every
//! request it had taken in full and exits 0; `kill -9` may cut requests
//! off, but whatever was acknowledged is there after the restart, and a
//! retried Idempotency-Key returns the first result instead of a second
//! record.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use safetymap::domain::vocabulary::Role;

use crate::common::{post_raw, Served, TestApp};

pub(crate) type Answer = (usize, Option<(u16, bool, Option<i64>)>);

/// Eight clients posting as fast as they can to `served`, each report with
/// its own Idempotency-Key, until `stop` is told; every attempt and its
/// answer (`None`: cut off or refused). Each client stops at the first
/// attempt without an answer.
pub(crate) fn load(
    served: &Served,
    token: &str,
    round: usize,
) -> (Arc<AtomicBool>, Vec<tokio::task::JoinHandle<Vec<Answer>>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..8 {
        let (stop, token, port) = (stop.clone(), token.to_owned(), served.port);
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            let mut n = round * 1_000_000 + c * 100_000;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let answer = post_raw(port, &token, n).await;
                let cut = answer.is_none();
                answers.push((n, answer));
                if cut {
                    break;
                }
            }
            answers
        }));
    }
    (stop, clients)
}

pub(crate) async fn answers(clients: Vec<tokio::task::JoinHandle<Vec<Answer>>>) -> Vec<Answer> {
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.expect("client"));
    }
    all
}

/// How many reports are in the store beyond those already acknowledged.
async fn acknowledged_since(raw: &sqlx::AnyPool, before: &BTreeMap<usize, i64>) -> usize {
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM observations")
        .fetch_one(raw)
        .await
        .unwrap_or(0);
    (stored as usize).saturating_sub(before.len())
}

on_both_stores! {
    async fn sigterm_under_load_answers_every_request_it_took_in_full_and_exits_0(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let db = app.shut_down().await;
        let served = db.serve(&[]);
        let (stop, clients) = load(&served, &officer, 0);
        tokio::time::sleep(Duration::from_millis(700)).await;
        let signalled = Instant::now();
        let status = served.signal("-TERM").await;
        stop.store(true, Ordering::SeqCst);
        assert!(status.success(), "exits 0: {status}");
        assert!(signalled.elapsed() < Duration::from_secs(30), "within the bound");
        let answers: Vec<_> = answers(clients).await.into_iter().filter_map(|(_, a)| a).collect();
        assert!(answers.len() > 8, "there was load: {}", answers.len());
        let cut: Vec<_> = answers.iter().filter(|(status, whole, _)| *status != 201 || !whole).collect();
        assert!(cut.is_empty(), "every request taken was answered 201 in full: {cut:?}");

        // Everything acknowledged is there after a restart.
        let app = TestApp::on(db).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let kept = app.item_ids(&coordinator, "limit=10000").await;
        let missing: Vec<i64> = answers.iter().filter_map(|(_, _, id)| *id).filter(|id| !kept.contains(id)).collect();
        assert!(missing.is_empty(), "acknowledged and lost: {missing:?}");
    }

    async fn kill_9_under_concurrent_writes_loses_no_acknowledged_report_and_a_retried_key_returns_the_first_result(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let db = app.shut_down().await;
        // Every report acknowledged in any round: its key's number and id.
        let mut acknowledged: BTreeMap<usize, i64> = BTreeMap::new();
        let mut attempted: BTreeSet<usize> = BTreeSet::new();
        for round in 1..=3 {
            let served = db.serve(&[]);
            let (stop, clients) = load(&served, &officer, round);
            // Killed once it has acknowledged some (a loaded machine is slow
            // to start answering), at a different moment each round.
            let want = 10 + 5 * round;
            let started = Instant::now();
            let raw = db.raw().await;
            while acknowledged_since(&raw, &acknowledged).await < want
                && started.elapsed() < Duration::from_secs(20)
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let status = served.signal("-KILL").await;
            stop.store(true, Ordering::SeqCst);
            assert!(!status.success(), "killed, not exited: {status}");
            let mut in_round = 0;
            for (n, answer) in answers(clients).await {
                attempted.insert(n);
                if let Some((201, true, Some(id))) = answer {
                    acknowledged.insert(n, id);
                    in_round += 1;
                }
            }
            assert!(in_round > 0, "round {round} was under load: {in_round} acknowledged");
        }

        let served = db.serve(&[]);
        // Every acknowledged report is there.
        let raw = db.raw().await;
        let kept: Vec<i64> = sqlx::query_scalar("SELECT id FROM observations")
            .fetch_all(&raw)
            .await
            .expect("ids");
        let missing: Vec<_> = acknowledged.iter().filter(|(_, id)| !kept.contains(id)).collect();
        assert!(missing.is_empty(), "acknowledged and lost: {missing:?}");

        // Retrying a sample of acknowledged keys answers as the first time (201, the same id);
        // retrying every attempt that was cut off creates it at most once.
        for (n, id) in acknowledged.iter().step_by(7) {
            let again = post_raw(served.port, &officer, *n).await.expect("answered");
            assert_eq!((again.0, again.2), (201, Some(*id)), "retry of key {n} answers as the first time did");
        }
        for n in attempted.iter().filter(|n| !acknowledged.contains_key(n)) {
            let again = post_raw(served.port, &officer, *n).await.expect("answered");
            assert_eq!(again.0, 201, "retry of cut-off key {n}: {again:?}");
        }
        let records: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM observations")
            .fetch_one(&raw)
            .await
            .expect("count");
        assert_eq!(
            records as usize,
            attempted.len(),
            "one record per key tried, however often and across however many kills"
        );
    }
}
