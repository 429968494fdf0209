//! Review and retention: the review queue, keeping with a reason, erasure
//! that leaves no trace but its audit event, and the retention job.

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use safetymap::store::AuditQuery;
use serde_json::json;

use crate::common::{observation, TestApp};

const ITEMS: &str = "/ogc/collections/observations/items";

async fn rows_about(app: &TestApp, id: i64) -> i64 {
    let raw = app.db.raw().await;
    let mut total = 0;
    for table in [
        "observations WHERE id = $1",
        "observation_revisions WHERE observation_id = $1",
        "idempotency_keys WHERE observation_id = $1",
    ] {
        let row: (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .bind(id)
            .fetch_one(&raw)
            .await
            .expect("count");
        total += row.0;
    }
    raw.close().await;
    total
}

async fn events_about(app: &TestApp, id: i64) -> Vec<(String, Option<String>)> {
    app.store
        .audit_events(&AuditQuery {
            object_type: Some("observation".into()),
            object_id: Some(id.to_string()),
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .expect("events")
        .into_iter()
        .map(|e| (e.action, e.purpose))
        .collect()
}

on_both_stores! {
    async fn erasure_leaves_no_trace_in_the_layer_the_single_read_or_the_store_and_one_audit_event(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let panel = app.token(Role::PanelMember, "police").await;
        let body = serde_json::to_vec(&observation(json!({"description": "Needles by the skate park wall", "longitude": -2.98765, "latitude": 51.57654}))).expect("json");
        let headers = [("content-type", "application/json"), ("idempotency-key", "erase-me")];
        let created = app.request(Method::POST, "/api/observations", Some(&officer), &headers, Some(body.clone())).await;
        let id = created.json()["id"].as_i64().expect("id");
        let kept = app.create(&officer, &observation(json!({}))).await;
        app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &officer, &json!({"severity": "high"})).await;
        assert!(rows_about(&app, id).await >= 4);

        let no_reason = app.send_json(Method::POST, &format!("/api/observations/{id}/erase"), &coordinator, &json!({"reason": " "})).await;
        assert_eq!((no_reason.status, no_reason.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("reason")));
        assert!(rows_about(&app, id).await >= 4, "a refused erasure changes nothing");
        let erased = app.send_json(Method::POST, &format!("/api/observations/{id}/erase"), &coordinator, &json!({"reason": "Entered at the wrong place; subject's request"})).await;
        assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.text());

        assert_eq!(rows_about(&app, id).await, 0);
        for token in [&officer, &coordinator, &panel] {
            assert!(!app.item_ids(token, "").await.contains(&id));
            for path in [format!("{ITEMS}/{id}"), format!("/api/observations/{id}?purpose=check")] {
                let reply = app.get(&path, token).await;
                assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
                assert!(!reply.text().contains("skate park"));
            }
        }
        assert_eq!(app.item_ids(&coordinator, "").await, [kept]);
        let actions = events_about(&app, id).await;
        assert_eq!(actions.iter().filter(|(a, _)| a == "erasure").count(), 1);
        assert_eq!(actions.last(), Some(&("erasure".to_owned(), Some("Entered at the wrong place; subject's request".to_owned()))));
        let log = serde_json::to_string(&app.store.audit_events(&AuditQuery { limit: 1000, ..AuditQuery::default() }).await.expect("events")).expect("json");
        for trace in ["skate park", "-2.98765", "51.57654"] {
            assert!(!log.contains(trace), "the audit trail holds no content: {trace}");
        }
        // A retry of the erased record's create is a new report, not a replay of erased content.
        let retried = app.request(Method::POST, "/api/observations", Some(&officer), &headers, Some(body)).await;
        assert_eq!(retried.status, StatusCode::CREATED);
        assert_ne!(retried.json()["id"].as_i64(), Some(id));
        // Restarting rebuilds the index from the store: still gone.
        let app = TestApp::on(app.shut_down().await).await;
        assert!(!app.item_ids(&coordinator, "").await.contains(&id));
    }

    async fn records_reaching_their_review_date_enter_the_coordinators_queue_until_kept_with_a_reason(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let police = app.token(Role::Coordinator, "police").await;
        let litter = app.create(&officer, &observation(json!({"category": "drug-weapon-litter"}))).await;
        let cse = app.create(&officer, &observation(json!({"category": "child-sexual-exploitation", "sensitivity": "sensitive"}))).await;
        let queue = |token: String| { let app = &app; async move { app.get("/api/review-queue", &token).await.json().as_array().expect("queue").iter().map(|e| e["id"].as_i64().expect("id")).collect::<Vec<_>>() } };
        assert!(queue(coordinator.clone()).await.is_empty());

        app.state.clock.advance(chrono::Duration::days(7 * 31));
        assert_eq!(queue(coordinator.clone()).await, [litter], "litter is reviewed after six months");
        assert!(queue(police.clone()).await.is_empty(), "another agency's queue");
        let entry = &app.get("/api/review-queue", &coordinator).await.json()[0];
        assert!(entry.get("description").is_none(), "the queue lists, it does not disclose");
        // The day the retention job would erase it (90 days' grace): the
        // first day `apply_retention` does.
        let review_by: chrono::NaiveDate = entry["review_by"].as_str().expect("review_by").parse().expect("date");
        assert_eq!(entry["erase_on"], (review_by + chrono::Duration::days(91)).to_string());

        let today = app.state.clock.now().date_naive();
        let past = app.send_json(Method::POST, &format!("/api/observations/{litter}/keep"), &coordinator, &json!({"reason": "Linked to open case", "next_review": today.to_string()})).await;
        assert_eq!((past.status, past.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("next_review")));
        let next = today + chrono::Duration::days(90);
        let kept = app.send_json(Method::POST, &format!("/api/observations/{litter}/keep"), &coordinator, &json!({"reason": "Linked to open case", "next_review": next.to_string()})).await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.text());
        assert_eq!(kept.json()["review_by"], next.to_string());
        assert!(queue(coordinator.clone()).await.is_empty());
        assert_eq!(events_about(&app, litter).await.last(), Some(&("review".to_owned(), Some("Linked to open case".to_owned()))));
        let history = app.get(&format!("/api/observations/{litter}"), &coordinator).await.json()["history"].clone();
        assert_eq!(history.as_array().expect("history").last().expect("entry")["kind"], "kept");

        app.state.clock.advance(chrono::Duration::days(18 * 31));
        assert_eq!(queue(coordinator.clone()).await, [litter, cse]);
    }

    async fn the_retention_job_erases_records_left_past_review_and_a_running_server_follows_erasures_made_elsewhere(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let old = app.create(&officer, &observation(json!({"category": "drug-weapon-litter"}))).await;
        let young = app.create(&officer, &observation(json!({"category": "child-sexual-exploitation"}))).await;

        // The scheduled job, as serve runs it: 6 months + 90 days' grace.
        let report = app.state.observations.apply_retention(app.state.clock.now() + chrono::Duration::days(186), 90).await.expect("retention");
        assert_eq!((report.erased, report.due_for_review), (0, 1));
        let report = app.state.observations.apply_retention(app.state.clock.now() + chrono::Duration::days(186 + 91), 90).await.expect("retention");
        assert_eq!((report.erased, report.due_for_review), (1, 0));
        assert_eq!(app.item_ids(&coordinator, "").await, [young]);
        assert_eq!(rows_about(&app, old).await, 0);
        let events = events_about(&app, old).await;
        assert_eq!(events.last().map(|(a, _)| a.as_str()), Some("erasure"));
        assert!(events.last().and_then(|(_, p)| p.clone()).unwrap_or_default().starts_with("retention: review date"));

        // The command line erases in the store; the running app's index
        // follows through the change stream, within a second or so.
        let raw = app.db.raw().await;
        sqlx::query("UPDATE observations SET review_by = '2020-01-01' WHERE id = $1").bind(young).execute(&raw).await.expect("backdate");
        raw.close().await;
        let run = app.db.cli(&["retention", "run"]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        assert!(String::from_utf8_lossy(&run.stdout).contains("retention: 1 erased"), "{}", String::from_utf8_lossy(&run.stdout));
        let mut left = app.item_ids(&coordinator, "").await;
        for _ in 0..30 {
            if left.is_empty() { break; }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            left = app.item_ids(&coordinator, "").await;
        }
        assert!(left.is_empty(), "the erasure reached the running app: {left:?}");
    }

    async fn a_tool_reading_a_layer_through_a_token_is_recorded_as_a_disclosure_with_the_tools_purpose(backend) {
        let app = TestApp::new(backend).await;
        let analyst = app.user(Role::PanelMember, "police").await;
        let token = app.token_for(&analyst, false).await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        app.create(&officer, &observation(json!({}))).await;
        let query = AuditQuery { action: Some("disclosure".into()), limit: 100, ..AuditQuery::default() };
        for _ in 0..3 {
            assert_eq!(app.item_ids(&token, "bbox=-3.1,51.5,-2.9,51.7").await.len(), 1);
        }
        let disclosures = app.store.audit_events(&query).await.expect("events");
        assert_eq!(disclosures.len(), 3, "one event per read");
        let last = disclosures.last().expect("event");
        assert_eq!((last.object_type.as_str(), last.purpose.as_deref(), last.principal.clone()), ("observations-layer", Some("test tool"), format!("user:{}", analyst.id)));
        assert!(last.object_id.starts_with("1 features; bbox=-3.1"), "{}", last.object_id);

        let session = app.sign_in(&analyst, None).await;
        assert_eq!(app.as_session(Method::GET, ITEMS, &session, None, false).await.feature_ids().len(), 1);
        assert_eq!(app.store.audit_events(&query).await.expect("events").len(), 3, "a person viewing the map in the app is not a disclosure");
    }
}
