//! One rule for shapes from outside: wherever a geometry comes in — an
//! observation's extent or GeoJSON location, a drawn or imported area, an
//! alert's drawn area, an exercise annotation, a young person's mark — an
//! unclosed ring, a self-intersecting polygon and a position of four
//! numbers are refused with the same code, naming the field, and nothing
//! is stored.

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use serde_json::{json, Value};

use crate::common::{observation, wards, TestApp};

fn open_ring() -> Value {
    json!({"type": "Polygon", "coordinates": [[[-3.0, 51.588], [-2.998, 51.588], [-2.998, 51.590], [-3.0, 51.590]]]})
}

fn bow_tie() -> Value {
    json!({"type": "Polygon", "coordinates": [[[-3.0, 51.588], [-2.998, 51.590], [-2.998, 51.588], [-3.0, 51.590], [-3.0, 51.588]]]})
}

fn four_numbers() -> Value {
    json!({"type": "Polygon", "coordinates": [[[-3.0, 51.588, 0.0, 7.0], [-2.998, 51.588], [-2.998, 51.590], [-3.0, 51.588]]]})
}

/// The three bad shapes and the code each gets.
fn bad_shapes() -> [(&'static str, Value, &'static str); 3] {
    [
        ("an unclosed ring", open_ring(), "invalid-polygon"),
        ("a bow tie", bow_tie(), "self-intersecting"),
        (
            "a position of four numbers",
            four_numbers(),
            "invalid-position",
        ),
    ]
}

fn assert_refused(reply: &crate::common::Reply, code: &str, field: &str, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{what}: {}",
        reply.text()
    );
    let problem = reply.json();
    assert_eq!(
        (problem["code"].as_str(), problem["field"].as_str()),
        (Some(code), Some(field)),
        "{what}: {problem}"
    );
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&app.db.raw().await)
        .await
        .expect("count")
}

on_both_stores! {
    async fn every_entry_point_refuses_the_same_bad_shapes_with_the_same_code_and_stores_nothing(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let youth = app.token(Role::FieldOfficer, "youth-service").await;
        let (_, panel) = app.session_as(Role::PanelMember, "police").await;
        let imported = app
            .request(Method::POST, "/api/areas/import", Some(&coordinator), &[("content-type", "application/geo+json")], Some(wards().into_bytes()))
            .await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());
        let west = app.get("/api/areas", &coordinator).await.json()["areas"][0]["id"].as_i64().expect("area id");
        let exercise = app.post_keyed(&coordinator, "/api/exercises", "ex", &json!({
            "kind": "mapping-exercise", "title": "Made-up West", "area_id": west,
            "from": "2026-01-01T00:00:00Z", "to": "2026-11-30T00:00:00Z", "agencies": ["council", "police"], "review_on": "2028-03-01"
        })).await;
        assert_eq!(exercise.status, StatusCode::CREATED, "{}", exercise.text());
        let exercise = exercise.json()["id"].as_i64().expect("exercise id");
        let session = app.post_keyed(&youth, "/api/perception-sessions", "s-1", &json!({"held_on": "2026-11-20", "age_band": "14-15"})).await;
        let marks = format!("/api/perception-sessions/{}/marks", session.json()["id"].as_i64().expect("session id"));
        let (areas, annotations, marks_before, subscriptions) =
            (count(&app, "areas").await, count(&app, "exercise_annotations").await, count(&app, "perception_marks").await, count(&app, "subscriptions").await);

        for (what, shape, code) in bad_shapes() {
            let reply = app.send_json(Method::POST, "/api/observations", &coordinator, &observation(json!({"extent": shape}))).await;
            assert_refused(&reply, code, "extent", &format!("an observation's extent: {what}"));

            let reply = app.send_json(Method::POST, "/api/areas", &coordinator, &json!({"name_en": "Drawn", "geometry": shape})).await;
            assert_refused(&reply, code, "geometry", &format!("a drawn area: {what}"));

            let file = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
                "properties": {"code": "X01", "name_en": "Made-up bad ward", "name_cy": "Ward ddrwg"}, "geometry": shape}]});
            let reply = app
                .request(Method::POST, "/api/areas/import?kind=ward", Some(&coordinator), &[("content-type", "application/geo+json")], Some(file.to_string().into_bytes()))
                .await;
            assert_refused(&reply, code, "features[0].geometry", &format!("an imported area: {what}"));

            let reply = app.as_session(Method::POST, "/api/alerts/subscriptions", &panel, Some(&json!({"name": "Round the back", "geometry": shape})), true).await;
            assert_refused(&reply, code, "geometry", &format!("an alert's drawn area: {what}"));

            let reply = app.send_json(Method::POST, &format!("/api/exercises/{exercise}/annotations"), &coordinator, &json!({"geometry": shape, "note": "Gap in the fence"})).await;
            assert_refused(&reply, code, "geometry", &format!("an annotation: {what}"));

            let mark = json!({"participant": 1, "kind": "area", "rating": "red", "geometry": shape, "reasons": ["isolated"]});
            let reply = app.send_json(Method::POST, &marks, &youth, &mark).await;
            assert_refused(&reply, code, "geometry", &format!("a young person's area: {what}"));
        }

        // A location as a GeoJSON Feature: two or three numbers.
        let feature = |position: Value| json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": position},
            "properties": {"observed_at": observation(json!({}))["observed_at"], "category": "unsafe-environment", "setting": "park", "severity": "low", "description": "Gate left open"}});
        let reply = app.send_json(Method::POST, "/api/observations", &coordinator, &feature(json!([-2.9977, 51.5886, 0.0, 1.0]))).await;
        assert_refused(&reply, "invalid-position", "geometry", "a Feature's Point of four numbers");
        let kept = app.send_json(Method::POST, "/api/observations", &coordinator, &feature(json!([-2.9977, 51.5886, 12.0]))).await;
        assert_eq!(kept.status, StatusCode::CREATED, "a height is allowed: {}", kept.text());

        assert_eq!(count(&app, "observations").await, 1, "only the good Feature was stored");
        assert_eq!(app.state.index.len(), 1);
        assert_eq!(count(&app, "areas").await, areas);
        assert_eq!(count(&app, "exercise_annotations").await, annotations);
        assert_eq!(count(&app, "perception_marks").await, marks_before);
        assert_eq!(count(&app, "subscriptions").await, subscriptions);
    }
}
