//! The audit trail: one event per act, with its purpose; append-only;
//! tampering found by `safetymap audit verify`.

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use safetymap::store::{AuditEvent, AuditQuery};
use serde_json::json;

use crate::common::{observation, TestApp};

async fn events(app: &TestApp) -> Vec<AuditEvent> {
    app.store
        .audit_events(&AuditQuery {
            limit: 10_000,
            ..AuditQuery::default()
        })
        .await
        .expect("events")
}

/// The actions recorded since `before` events, with their purposes.
async fn new_events(app: &TestApp, before: usize) -> Vec<(String, String, Option<String>)> {
    events(app).await[before..]
        .iter()
        .map(|e| (e.action.clone(), e.object_id.clone(), e.purpose.clone()))
        .collect()
}

fn act(action: &str, id: i64, purpose: Option<&str>) -> (String, String, Option<String>) {
    (
        action.to_owned(),
        id.to_string(),
        purpose.map(str::to_owned),
    )
}

on_both_stores! {
    async fn each_audited_action_produces_exactly_one_event_with_its_purpose(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let start = events(&app).await.len();
        let body = serde_json::to_vec(&observation(json!({}))).expect("json");
        let headers = [("content-type", "application/json"), ("idempotency-key", "k1")];
        let id = app.request(Method::POST, "/api/observations", Some(&token), &headers, Some(body.clone())).await.json()["id"].as_i64().expect("id");
        app.request(Method::POST, "/api/observations", Some(&token), &headers, Some(body)).await;
        assert_eq!(new_events(&app, start).await, [act("collection", id, None)], "a replayed retry collects nothing new");

        let before = events(&app).await.len();
        app.send_json(Method::POST, "/api/observations", &token, &observation(json!({"category": "nope"}))).await;
        app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &token, &json!({"status": "reviewed"})).await;
        app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &token, &json!({"status": "reviewed"})).await;
        app.get(&format!("/api/observations/{id}"), &token).await;
        assert_eq!(new_events(&app, before).await, [act("alteration", id, None), act("consultation", id, None)],
            "refused input and an edit that changes nothing are not acts");

        let before = events(&app).await.len();
        let sensitive = app.create(&token, &observation(json!({"sensitivity": "sensitive"}))).await;
        let refused = app.get(&format!("/api/observations/{sensitive}"), &token).await;
        assert_eq!((refused.status, refused.json()["code"].clone(), refused.json()["field"].clone()),
            (StatusCode::BAD_REQUEST, json!("purpose-required"), json!("purpose")));
        assert!(!refused.text().contains("bandstand"));
        let opened = app.get(&format!("/api/observations/{sensitive}?purpose=Panel%20meeting%2012%20Nov"), &token).await;
        assert_eq!(opened.status, StatusCode::OK);
        app.get(&format!("/ogc/collections/observations/items/{sensitive}?purpose=QGIS%20review"), &token).await;
        app.send_json(Method::POST, &format!("/api/observations/{sensitive}/withdraw"), &token, &json!({"reason": "duplicate"})).await;
        let gone = app.get(&format!("/ogc/collections/observations/items/{sensitive}?purpose=QGIS%20review"), &token).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        assert_eq!(new_events(&app, before).await, [
            act("collection", sensitive, None),
            act("consultation", sensitive, Some("Panel meeting 12 Nov")),
            act("consultation", sensitive, Some("QGIS review")),
            act("withdrawal", sensitive, Some("duplicate")),
        ], "a read that finds nothing is not a consultation");

        let before = events(&app).await.len();
        let no_purpose = app.get("/api/audit/export", &token).await;
        assert_eq!(no_purpose.json()["code"], "purpose-required");
        let export = app.get("/api/audit/export?purpose=Subject%20access%20request%20SAR-7", &token).await;
        assert_eq!(export.status, StatusCode::OK);
        assert!(export.headers["content-disposition"].to_str().expect("header").contains("attachment"));
        let exported = export.json();
        assert_eq!(exported["events"].as_array().expect("events").len(), before + 1, "the export includes its own disclosure");
        let last = events(&app).await.pop().expect("event");
        assert_eq!((last.action.as_str(), last.purpose.as_deref()), ("disclosure", Some("Subject access request SAR-7")));
        assert!(last.principal_name.starts_with("Test coordinator"), "{}", last.principal_name);
        assert!(last.principal.starts_with("user:"), "{}", last.principal);
        assert_eq!((last.agency.as_str(), last.role.as_str()), ("council", "coordinator"));
    }

    async fn making_and_revoking_a_token_are_in_the_trail_where_the_owners_coordinators_see_them(backend) {
        let app = TestApp::new(backend).await;
        let analyst = app.user(Role::PanelMember, "police").await;
        let session = app.sign_in(&analyst, None).await;
        let before = events(&app).await.len();
        let made = app.as_session(Method::POST, "/api/tokens", &session, Some(&json!({"name": "QGIS hotspot review", "scope": "read", "expires_in_days": 30})), true).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        let id = made.json()["id"].as_i64().expect("id");
        let refused = app.as_session(Method::POST, "/api/tokens", &session, Some(&json!({"name": "", "scope": "admin"})), true).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let revoked = app.as_session(Method::DELETE, &format!("/api/tokens/{id}"), &session, None, true).await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        let again = app.as_session(Method::DELETE, &format!("/api/tokens/{id}"), &session, None, true).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND, "revoking twice is not a second act");

        let trail: Vec<_> = events(&app).await[before..].iter()
            .filter(|e| e.object_type == "token")
            .map(|e| (e.action.clone(), e.object_id.clone(), e.principal.clone(), e.object_agency.clone(), e.purpose.clone().unwrap_or_default()))
            .collect();
        let me = format!("user:{}", analyst.id);
        assert_eq!(trail.len(), 2, "{trail:?}");
        assert_eq!((trail[0].0.as_str(), trail[0].1.clone(), &trail[0].2, trail[0].3.as_str()), ("alteration", id.to_string(), &me, "police"));
        assert!(trail[0].4.starts_with("token made: read scope, expires "), "{}", trail[0].4);
        assert!(!trail[0].4.contains("QGIS"), "the tool's name is its own purpose, not the trail's");
        assert_eq!((trail[1].0.as_str(), trail[1].1.clone(), trail[1].4.as_str()), ("alteration", id.to_string(), "token revoked"));

        // The police coordinators see both in their agency's log; the
        // council's do not.
        let police = app.token(Role::Coordinator, "police").await;
        let council = app.token(Role::Coordinator, "council").await;
        let theirs = app.get("/api/audit?object_type=token", &police).await.json();
        let ours = theirs["events"].as_array().expect("events").iter().filter(|e| e["object_id"] == json!(id.to_string())).count();
        assert_eq!(ours, 2, "{theirs}");
        let others = app.get("/api/audit?object_type=token", &council).await.json();
        assert!(others["events"].as_array().expect("events").iter().all(|e| e["object_id"] != json!(id.to_string())), "{others}");
    }

    async fn audit_rows_cannot_be_changed_or_deleted_through_the_database(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        app.create(&token, &observation(json!({}))).await;
        let count = events(&app).await.len();
        let raw = app.db.raw().await;
        let update = sqlx::query("UPDATE audit_events SET purpose = 'nothing to see' WHERE seq = 1").execute(&raw).await;
        assert!(update.is_err(), "UPDATE must be refused");
        let delete = sqlx::query("DELETE FROM audit_events").execute(&raw).await;
        assert!(delete.is_err(), "DELETE must be refused");
        let replace = match backend {
            crate::common::Backend::Sqlite => "INSERT OR REPLACE INTO audit_events SELECT seq, at, principal, 'someone else', agency, role, action, object_type, object_id, object_agency, purpose, prev_hash, hash FROM audit_events WHERE seq = 1",
            crate::common::Backend::Postgres => "INSERT INTO audit_events SELECT seq, at, principal, 'someone else', agency, role, action, object_type, object_id, object_agency, purpose, prev_hash, hash FROM audit_events WHERE seq = 1 ON CONFLICT (seq) DO UPDATE SET principal_name = EXCLUDED.principal_name",
        };
        assert!(sqlx::query(replace).execute(&raw).await.is_err(), "replacing an event must be refused");
        assert_eq!(events(&app).await.len(), count);
        raw.close().await;
        let verify = app.db.cli(&["audit", "verify"]);
        assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
        assert!(String::from_utf8_lossy(&verify.stdout).contains(&format!("intact: {count} events")));
    }

    async fn tampering_with_the_audit_log_makes_audit_verify_fail_and_name_the_event(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        for _ in 0..4 {
            app.create(&token, &observation(json!({}))).await;
        }
        let all = events(&app).await;
        let seqs: Vec<i64> = all.iter().filter(|e| e.object_type == "observation").map(|e| e.seq).collect();
        let (second, third) = (seqs[1], seqs[2]);
        let original_name = all.iter().find(|e| e.seq == second).expect("event").principal_name.clone();
        let raw = app.db.raw().await;
        // An intruder with the database owner's rights gets past the triggers.
        let bypass = match backend {
            crate::common::Backend::Sqlite => vec!["DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete"],
            crate::common::Backend::Postgres => vec!["ALTER TABLE audit_events DISABLE TRIGGER USER"],
        };
        for sql in bypass {
            sqlx::query(sql).execute(&raw).await.expect("bypass");
        }
        sqlx::query("UPDATE audit_events SET principal_name = 'someone else' WHERE seq = $1").bind(second).execute(&raw).await.expect("tamper");
        let verify = app.db.cli(&["audit", "verify"]);
        assert!(!verify.status.success());
        assert!(String::from_utf8_lossy(&verify.stderr).contains(&format!("audit event {second} has been altered")), "{}", String::from_utf8_lossy(&verify.stderr));

        sqlx::query("UPDATE audit_events SET principal_name = $1 WHERE seq = $2").bind(&original_name).bind(second).execute(&raw).await.expect("restore");
        assert!(app.db.cli(&["audit", "verify"]).status.success(), "restored exactly, the chain holds again");

        let intact = app.db.cli(&["audit", "verify"]);
        let head = String::from_utf8_lossy(&intact.stdout).split("head hash ").nth(1).and_then(|s| s.split_whitespace().next()).expect("head").to_owned();

        sqlx::query("DELETE FROM audit_events WHERE seq = $1").bind(third).execute(&raw).await.expect("remove");
        let verify = app.db.cli(&["audit", "verify"]);
        assert!(!verify.status.success());
        assert!(String::from_utf8_lossy(&verify.stderr).contains(&format!("audit event {third} has been removed")), "{}", String::from_utf8_lossy(&verify.stderr));

        // Cutting off the newest event leaves a consistent chain; only the
        // head kept elsewhere shows it.
        sqlx::query("DELETE FROM audit_events WHERE seq >= $1").bind(third).execute(&raw).await.expect("cut");
        assert!(app.db.cli(&["audit", "verify"]).status.success());
        let verify = app.db.cli(&["audit", "verify", "--expect-head", &head]);
        assert!(!verify.status.success());
        assert!(String::from_utf8_lossy(&verify.stderr).contains("no longer passes through head"), "{}", String::from_utf8_lossy(&verify.stderr));
        raw.close().await;
    }

    async fn coordinators_search_their_own_agencys_log_and_panel_members_cannot(backend) {
        let app = TestApp::new(backend).await;
        let police = app.token(Role::Coordinator, "police").await;
        let council_user = app.enrolled_user(Role::Coordinator, "council").await;
        let council = app.token_for(&council_user, true).await;
        let admin = app.token(Role::Admin, "corporate").await;
        let panel = app.token(Role::PanelMember, "police").await;
        let police_record = app.create(&police, &observation(json!({}))).await;
        let council_record = app.create(&council, &observation(json!({}))).await;
        // The council coordinator opens the police record: an event by the
        // council about a police record, which both agencies may see.
        app.get(&format!("/api/observations/{police_record}"), &council).await;

        let ids = |v: serde_json::Value| -> Vec<(String, String)> {
            v["events"].as_array().expect("events").iter()
                .map(|e| (e["action"].as_str().unwrap_or("").to_owned(), e["object_id"].as_str().unwrap_or("").to_owned()))
                .collect()
        };
        let (p, c) = (police_record.to_string(), council_record.to_string());
        const OBSERVATIONS: &str = "/api/audit?object_type=observation";
        assert_eq!(ids(app.get(OBSERVATIONS, &police).await.json()),
            [("collection".to_owned(), p.clone()), ("consultation".to_owned(), p.clone())]);
        assert_eq!(ids(app.get(OBSERVATIONS, &council).await.json()),
            [("collection".to_owned(), c.clone()), ("consultation".to_owned(), p.clone())]);
        assert_eq!(ids(app.get(OBSERVATIONS, &admin).await.json()).len(), 3);
        // Accounts are audited too: the council's coordinator sees its own
        // agency's, not the police's.
        let accounts = ids(app.get("/api/audit?object_type=user", &council).await.json());
        assert_eq!(accounts, [("collection".to_owned(), council_user.id.to_string())]);
        assert_eq!(ids(app.get(&format!("/api/audit?object_type=observation&object_id={p}&action=consultation"), &admin).await.json()),
            [("consultation".to_owned(), p.clone())]);
        let by_council = app.get(&format!("/api/audit?principal=user%3A{}", council_user.id), &admin).await.json();
        assert_eq!(by_council["events"].as_array().expect("events").len(), 2);
        // People search by username (any case); the trail's `user:{id}`
        // is found the same.
        let by_name = app
            .get(&format!("/api/audit?principal={}", council_user.username.to_uppercase()), &admin)
            .await
            .json();
        assert_eq!(by_name["events"], by_council["events"]);
        assert_eq!(app.get("/api/audit", &panel).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.get("/api/audit?colour=red", &admin).await.json()["field"], "colour");
    }
}
