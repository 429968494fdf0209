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
