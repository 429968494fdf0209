//! Several instances on one PostgreSQL: what one commits reaches the
//! others' memory (index, areas, verified credentials) within a second
//! through the change stream, and an instance whose notifications were cut
//! catches up. PostgreSQL only (SQLite keeps a single instance); fails
//! without it.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use serde_json::json;

use crate::common::{observation, test_settings, Backend, TestApp, TestDatabase};

const ITEMS: &str = "/ogc/collections/observations/items";

/// Waits up to `limit` for `done`, and says how long it took.
async fn within<F, Fut>(limit: Duration, mut done: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if done().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_instance_a_commits_reaches_instance_b_within_a_second_and_b_catches_up_after_losing_its_notifications(
) {
    // Long caches, so nothing here is the cache running out.
    let settings = || safetymap::api::Settings {
        token_cache: Duration::from_secs(300),
        ..test_settings()
    };
    let a = TestApp::with_settings(TestDatabase::new(Backend::Postgres).await, settings()).await;
    let b = a.another_instance(settings()).await;
    let officer = a.token(Role::FieldOfficer, "council").await;
    let coordinator = a.token(Role::Coordinator, "council").await;
    let second = Duration::from_secs(1);

    // A new observation, then an edit, a withdrawal and an erasure.
    let id = a
        .create(&officer, &observation(json!({"severity": "low"})))
        .await;
    let seen = within(second, || async {
        b.item_ids(&coordinator, "").await.contains(&id)
    })
    .await;
    assert!(
        seen.is_some(),
        "B shows A's new observation within a second"
    );
    let edit = a
        .send_json(
            Method::PATCH,
            &format!("/api/observations/{id}"),
            &officer,
            &json!({"severity": "high"}),
        )
        .await;
    assert_eq!(edit.status, StatusCode::OK, "{}", edit.text());
    let edited = within(second, || async {
        b.item_ids(&coordinator, "severity=high").await == [id]
    })
    .await;
    assert!(
        edited.is_some(),
        "B filters by the edited value within a second"
    );
    let withdrawn = a.create(&officer, &observation(json!({}))).await;
    within(second, || async {
        b.item_ids(&coordinator, "").await.contains(&withdrawn)
    })
    .await;
    a.send_json(
        Method::POST,
        &format!("/api/observations/{withdrawn}/withdraw"),
        &officer,
        &json!({"reason": "logged twice"}),
    )
    .await;
    assert!(
        within(second, || async {
            !b.item_ids(&coordinator, "").await.contains(&withdrawn)
        })
        .await
        .is_some(),
        "a withdrawal leaves B's layer within a second"
    );
    let erased = a
        .send_json(
            Method::POST,
            &format!("/api/observations/{id}/erase"),
            &coordinator,
            &json!({"reason": "entered in error"}),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.text());
    assert!(
        within(second, || async {
            !b.item_ids(&coordinator, "").await.contains(&id)
        })
        .await
        .is_some(),
        "an erasure leaves B's layer within a second"
    );

    // An area drawn through A is counted by B.
    let drawn = a.post_keyed(&coordinator, "/api/areas", "area-1", &json!({"name_en": "Made-up Square", "geometry": {"type": "Polygon", "coordinates": [[[-3.0, 51.58], [-2.99, 51.58], [-2.99, 51.59], [-3.0, 51.59], [-3.0, 51.58]]]}})).await;
    assert!(drawn.status.is_success(), "{}", drawn.text());
    let area_seen = within(second, || async {
        b.get("/ogc/collections/areas/items", &coordinator)
            .await
            .text()
            .contains("Made-up Square")
    })
    .await;
    assert!(area_seen.is_some(), "B has A's new area within a second");

    // A token revoked and an account disabled through A stop working at B.
    let (_, panel) = a.session_as(Role::PanelMember, "council").await;
    let made = a
        .as_session(
            Method::POST,
            "/api/tokens",
            &panel,
            Some(&json!({"name": "QGIS", "scope": "read"})),
            true,
        )
        .await;
    let tool = made.json()["token"].as_str().expect("token").to_owned();
    assert_eq!(
        b.get(ITEMS, &tool).await.status,
        StatusCode::OK,
        "B verifies and caches the token"
    );
    a.as_session(
        Method::DELETE,
        &format!("/api/tokens/{}", made.json()["id"]),
        &panel,
        None,
        true,
    )
    .await;
    assert!(
        within(second, || async {
            b.get(ITEMS, &tool).await.status == StatusCode::UNAUTHORIZED
        })
        .await
        .is_some(),
        "a revoked token is refused by B within a second"
    );
    let (_, admin) = a.session_as(Role::Admin, "corporate").await;
    let person = a.user(Role::FieldOfficer, "council").await;
    let session = a.sign_in(&person, None).await;
    assert_eq!(
        b.as_session(Method::GET, ITEMS, &session, None, false)
            .await
            .status,
        StatusCode::OK,
        "B verifies and caches the session"
    );
    let disabled = a
        .as_session(
            Method::PATCH,
            &format!("/api/users/{}", person.id),
            &admin,
            Some(&json!({"disabled": true})),
            true,
        )
        .await;
    assert_eq!(disabled.json()["disabled"], true, "{}", disabled.text());
    assert!(
        within(second, || async {
            b.as_session(Method::GET, ITEMS, &session, None, false)
                .await
                .status
                == StatusCode::UNAUTHORIZED
        })
        .await
        .is_some(),
        "a disabled account is refused by B within a second"
    );

    // B's notification connection is cut (so is A's): changes made
    // meanwhile still reach B, from the change stream.
    let raw = a.db.raw().await;
    let cut: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'",
    )
    .fetch_all(&raw)
    .await
    .expect("cut");
    assert!(!cut.is_empty(), "the listeners were found and cut");
    raw.close().await;
    let during = a.create(&officer, &observation(json!({}))).await;
    let caught = within(Duration::from_secs(5), || async {
        b.item_ids(&coordinator, "").await.contains(&during)
    })
    .await;
    assert!(
        caught.is_some(),
        "B catches up after losing its notifications"
    );
    let after = a.create(&officer, &observation(json!({}))).await;
    assert!(
        within(second, || async {
            b.item_ids(&coordinator, "").await.contains(&after)
        })
        .await
        .is_some(),
        "and follows within a second again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_one_of_two_instances_under_load_fails_no_request_at_the_other_and_cuts_none_off_at_the_first(
) {
    let app = TestApp::new(Backend::Postgres).await;
    let officer = app.token(Role::FieldOfficer, "council").await;
    let db = app.shut_down().await;
    let a = db.serve(&[]);
    let b = db.serve(&[]);
    let (stop_b, at_b) = crate::shutdown::load(&b, &officer, 1);
    let (stop_a, at_a) = crate::shutdown::load(&a, &officer, 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    // A rolling restart: A is told to stop while both are busy…
    let status = a.signal("-TERM").await;
    stop_a.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(status.success(), "A exits 0: {status}");
    // …and comes back while B carries on.
    let a = db.serve(&[]);
    let (stop_again, at_a_again) = crate::shutdown::load(&a, &officer, 3);
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop_b.store(true, std::sync::atomic::Ordering::SeqCst);
    stop_again.store(true, std::sync::atomic::Ordering::SeqCst);

    let taken_by_a: Vec<_> = crate::shutdown::answers(at_a)
        .await
        .into_iter()
        .filter_map(|(_, answer)| answer)
        .collect();
    // Whatever A took it answered in full (under this much load a write may
    // be told 503 with Retry-After, which a client retries; never cut off).
    let cut: Vec<_> = taken_by_a
        .iter()
        .filter(|(status, whole, _)| !whole || !matches!(status, 201 | 503))
        .collect();
    assert!(
        cut.is_empty(),
        "every request A took was answered in full: {cut:?}"
    );
    assert!(
        taken_by_a.iter().any(|(status, _, _)| *status == 201),
        "A was writing"
    );
    for (instance, answers) in [
        ("B", crate::shutdown::answers(at_b).await),
        (
            "A after its restart",
            crate::shutdown::answers(at_a_again).await,
        ),
    ] {
        assert!(!answers.is_empty(), "{instance} was under load");
        let failed: Vec<_> = answers
            .iter()
            .filter(|(_, answer)| !matches!(answer, Some((201, true, Some(_)))))
            .collect();
        assert!(
            failed.is_empty(),
            "no request failed at {instance}: {failed:?}"
        );
    }
    drop((a, b));
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM observations")
        .fetch_one(&db.raw().await)
        .await
        .expect("count");
    let acknowledged = taken_by_a
        .iter()
        .filter(|(status, _, _)| *status == 201)
        .count();
    assert!(
        kept as usize >= acknowledged,
        "A's acknowledged reports are kept"
    );
}
