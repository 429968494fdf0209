//! The role × endpoint × object matrix: every cell's expected status,
//! written out here as the specification and asserted against the server.

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use serde_json::{json, Value};

use crate::common::{observation, TestApp};

/// The people in the matrix: who, role, agency.
const PEOPLE: &[(&str, Role, &str)] = &[
    ("recorder", Role::FieldOfficer, "council"),
    ("colleague", Role::FieldOfficer, "council"),
    ("panel-same", Role::PanelMember, "council"),
    ("panel-other", Role::PanelMember, "police"),
    ("coord-same", Role::Coordinator, "council"),
    ("coord-other", Role::Coordinator, "police"),
    ("admin", Role::Admin, "corporate"),
];

/// Per person and per sensitivity of a record the recorder made: the
/// statuses of read, edit, keep, withdraw and erase, in that order.
const OBJECT_CELLS: &[(&str, &str, [u16; 5])] = &[
    ("recorder", "standard", [200, 200, 403, 200, 403]),
    ("recorder", "sensitive", [200, 200, 403, 200, 403]),
    ("recorder", "restricted", [200, 200, 403, 200, 403]),
    ("colleague", "standard", [404, 404, 404, 404, 404]),
    ("colleague", "sensitive", [404, 404, 404, 404, 404]),
    ("colleague", "restricted", [404, 404, 404, 404, 404]),
    ("panel-same", "standard", [200, 403, 403, 403, 403]),
    ("panel-same", "sensitive", [200, 403, 403, 403, 403]),
    ("panel-same", "restricted", [404, 404, 404, 404, 404]),
    ("panel-other", "standard", [200, 403, 403, 403, 403]),
    ("panel-other", "sensitive", [200, 403, 403, 403, 403]),
    ("panel-other", "restricted", [404, 404, 404, 404, 404]),
    ("coord-same", "standard", [200, 200, 200, 200, 204]),
    ("coord-same", "sensitive", [200, 200, 200, 200, 204]),
    ("coord-same", "restricted", [200, 200, 200, 200, 204]),
    ("coord-other", "standard", [200, 403, 403, 403, 403]),
    ("coord-other", "sensitive", [200, 403, 403, 403, 403]),
    ("coord-other", "restricted", [404, 404, 404, 404, 404]),
    ("admin", "standard", [404, 404, 404, 404, 404]),
    ("admin", "sensitive", [404, 404, 404, 404, 404]),
    ("admin", "restricted", [404, 404, 404, 404, 404]),
];

/// Per person: endpoints that act on no one record.
const ENDPOINT_CELLS: &[(&str, &str, &str, u16)] = &[
    ("POST", "/api/observations", "recorder", 201),
    ("POST", "/api/observations", "panel-other", 201),
    ("POST", "/api/observations", "coord-same", 201),
    ("POST", "/api/observations", "admin", 403),
    (
        "GET",
        "/ogc/collections/observations/items",
        "recorder",
        200,
    ),
    (
        "GET",
        "/ogc/collections/observations/items",
        "panel-other",
        200,
    ),
    (
        "GET",
        "/ogc/collections/observations/items",
        "coord-same",
        200,
    ),
    ("GET", "/ogc/collections/observations/items", "admin", 403),
    ("GET", "/api/review-queue", "recorder", 403),
    ("GET", "/api/review-queue", "panel-other", 403),
    ("GET", "/api/review-queue", "coord-same", 200),
    ("GET", "/api/review-queue", "admin", 403),
    ("GET", "/api/audit", "recorder", 403),
    ("GET", "/api/audit", "panel-other", 403),
    ("GET", "/api/audit", "coord-same", 200),
    ("GET", "/api/audit", "admin", 200),
    ("GET", "/api/users", "recorder", 403),
    ("GET", "/api/users", "panel-other", 403),
    ("GET", "/api/users", "coord-same", 200),
    ("GET", "/api/users", "admin", 200),
    ("GET", "/api/sign-ins", "recorder", 403),
    ("GET", "/api/sign-ins", "panel-other", 403),
    ("GET", "/api/sign-ins", "coord-same", 200),
    ("GET", "/api/sign-ins", "admin", 200),
    ("POST", "/api/agencies", "recorder", 403),
    ("POST", "/api/agencies", "panel-other", 403),
    ("POST", "/api/agencies", "coord-same", 403),
    ("POST", "/api/agencies", "admin", 201),
    ("GET", "/api/agencies", "recorder", 200),
    ("GET", "/api/agencies", "admin", 200),
    ("GET", "/api/tokens", "recorder", 200),
    ("GET", "/api/tokens", "panel-other", 200),
    ("GET", "/api/tokens", "coord-same", 200),
    ("GET", "/api/tokens", "admin", 200),
];

fn body_for(path: &str) -> Option<Value> {
    match path {
        "/api/observations" => Some(observation(json!({}))),
        "/api/agencies" => Some(
            json!({"code": "youth-justice-gwent", "name_en": "Gwent Youth Justice", "name_cy": "Cyfiawnder Ieuenctid Gwent", "kind": "youth-justice"}),
        ),
        _ => None,
    }
}

on_both_stores! {
    async fn every_role_endpoint_and_object_cell_has_its_expected_status(backend) {
        let app = TestApp::new(backend).await;
        // People use the app: every cell is asked through a signed-in
        // session (with its CSRF token), as the browser asks.
        let mut sessions = std::collections::HashMap::new();
        for (who, role, agency) in PEOPLE {
            sessions.insert(*who, app.session_as(*role, agency).await.1);
        }
        let recorder = app.token_for(&app.user(Role::FieldOfficer, "council").await, true).await;
        let next_review = (chrono::Utc::now() + chrono::Duration::days(200)).format("%Y-%m-%d").to_string();
        let mut failures = Vec::new();
        for (who, sensitivity, expected) in OBJECT_CELLS {
            let made = app.as_session(Method::POST, "/api/observations", &sessions["recorder"], Some(&observation(json!({"sensitivity": sensitivity}))), true).await;
            let id = made.json()["id"].as_i64().expect("id");
            let session = &sessions[who];
            let path = format!("/api/observations/{id}");
            let got = [
                app.as_session(Method::GET, &format!("{path}?purpose=matrix%20test"), session, None, false).await.status,
                app.as_session(Method::PATCH, &path, session, Some(&json!({"severity": "high"})), true).await.status,
                app.as_session(Method::POST, &format!("{path}/keep"), session, Some(&json!({"reason": "still needed", "next_review": next_review})), true).await.status,
                app.as_session(Method::POST, &format!("{path}/withdraw"), session, Some(&json!({"reason": "matrix"})), true).await.status,
                app.as_session(Method::POST, &format!("{path}/erase"), session, Some(&json!({"reason": "matrix"})), true).await.status,
            ]
            .map(|s| s.as_u16());
            if got != *expected {
                failures.push(format!("{who} × {sensitivity}: expected {expected:?}, got {got:?}"));
            }
        }
        for (method, path, who, expected) in ENDPOINT_CELLS {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let session = &sessions[who];
            let status = app.as_session(method.clone(), path, session, body_for(path).as_ref(), true).await.status;
            if status != StatusCode::from_u16(*expected).expect("status") {
                failures.push(format!("{who} {method} {path}: expected {expected}, got {status}"));
            }
        }
        // Tools: a token reads and writes as its person, but never changes
        // agencies or accounts.
        let admin = app.enrolled_user(Role::Admin, "corporate").await;
        let admin_token = app.token_for(&admin, true).await;
        for (method, path, body) in [
            (Method::POST, "/api/agencies", json!({"code": "by-token", "name_en": "x", "name_cy": "y", "kind": "police"})),
            (Method::POST, "/api/users", json!({"username": "by.token", "display_name": "x", "agency": "corporate", "role": "panel-member", "password": crate::common::PASSWORD})),
            (Method::PATCH, &format!("/api/users/{}", admin.id), json!({"display_name": "x"})),
        ] {
            let reply = app.send_json(method.clone(), path, &admin_token, &body).await;
            if (reply.status, reply.json()["code"].clone()) != (StatusCode::FORBIDDEN, json!("session-required")) {
                failures.push(format!("admin token {method} {path}: expected 403 session-required, got {}", reply.status));
            }
        }
        assert_eq!(app.get("/api/users", &admin_token).await.status, StatusCode::OK, "reading accounts is fine");
        assert_eq!(app.item_ids(&recorder, "").await.len(), 0, "a field officer's token sees only their own");
        assert!(failures.is_empty(), "cells that differ:\n{}", failures.join("\n"));
    }
}
