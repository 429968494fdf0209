//! The OpenAPI 3.0 document, linked from the OGC landing page as
//! `service-desc`. Enumerations come from the vocabulary, so the document
//! cannot drift from what the server accepts.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::features::{CRS84, DEFAULT_LIMIT, MAX_LIMIT};
use crate::domain::crs::Crs;
use crate::domain::vocabulary::{
    ActionStatus, AgeBand, AgencyKind, AuditAction, Category, DayKind, ExerciseKind, Handling,
    Indicator, InformationAssessment, PerceptionReason, PlaceKind, Rating, Role, Sensitivity,
    SettingType, Severity, SourceReliability, Status, TimeBand, TimeOfDay,
};

fn codes<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> Value {
    Value::Array(all.iter().map(|&t| Value::from(code(t))).collect())
}

fn csv_param(name: &str, description: &str, values: Value) -> Value {
    json!({
        "name": name, "in": "query", "required": false, "style": "form", "explode": false,
        "description": description,
        "schema": { "type": "array", "items": { "type": "string", "enum": values } }
    })
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

/// An endpoint described by a summary, its success statuses
/// (comma-separated) and its body's media type and schema, if it takes one.
struct Summary {
    path: &'static str,
    method: &'static str,
    summary: &'static str,
    success: &'static str,
    body: Option<(&'static str, &'static str)>,
}

/// Endpoints described by a summary only.
const SUMMARIES: &[Summary] = &[
    Summary { path: "/api/openapi.json", method: "get", summary: "This document (OpenAPI 3.0); also at /ogc/api", success: "200", body: None },
    Summary { path: "/tiles/{layer}/tilejson.json", method: "get", summary: "TileJSON 3.0 for a tile layer: where its tiles are and what their features hold", success: "200", body: None },
    Summary { path: "/tiles/{layer}/style.json", method: "get", summary: "A MapLibre style that draws a tile layer", success: "200", body: None },
    Summary { path: "/tiles/{layer}/{z}/{x}/{y}", method: "get", summary: "Vector tile (MVT) of observations, grid, hotspots or police-crimes, with the collections' privacy and parameters; ETag/304", success: "200,304", body: None },
    Summary { path: "/api/time-profile", method: "get", summary: "Weekday × hour counts for a filter or an area (area=ID), or for the hot or cold cells (within=filter|hot|cold); 422 too-costly, 503 busy, 429 over-budget", success: "200", body: None },
    Summary { path: "/api/police-imports", method: "get", summary: "The police.uk import log", success: "200", body: None },
    Summary { path: "/api/places", method: "get", summary: "The places register", success: "200", body: None },
    Summary { path: "/api/places", method: "post", summary: "Add a place (Idempotency-Key); field officers, coordinators, administrators", success: "201,200", body: Some(("application/json", "Place")) },
    Summary { path: "/api/places/{id}", method: "get", summary: "A place and its linked observations by month (only those you see exactly)", success: "200", body: None },
    Summary { path: "/api/places/{id}", method: "put", summary: "Replace a place's entry (send the version read)", success: "200", body: Some(("application/json", "Place")) },
    Summary { path: "/api/places/{id}", method: "delete", summary: "Take a place off the register", success: "204", body: None },
    Summary { path: "/api/places/import", method: "post", summary: "Import places from CSV or GeoJSON; all or nothing; matched on reference", success: "200", body: Some(("text/csv", "PlacesFile")) },
    Summary { path: "/api/areas", method: "get", summary: "Every area, without shapes", success: "200", body: None },
    Summary { path: "/api/areas", method: "post", summary: "Save a drawn area (Idempotency-Key); coordinators, administrators", success: "201,200", body: Some(("application/json", "DrawnArea")) },
    Summary { path: "/api/areas/{id}", method: "delete", summary: "Delete an area no exercise uses", success: "204", body: None },
    Summary { path: "/api/areas/import", method: "post", summary: "Import a GeoJSON boundary file (kind); all or nothing; matched on kind and code", success: "200", body: Some(("application/geo+json", "BoundaryFile")) },
    Summary { path: "/api/exercises", method: "get", summary: "Exercises you may see", success: "200", body: None },
    Summary { path: "/api/exercises", method: "post", summary: "Set up an exercise (coordinators; Idempotency-Key)", success: "201,200", body: Some(("application/json", "Exercise")) },
    Summary { path: "/api/exercises/{id}", method: "get", summary: "The meeting view, decided for the panel and cut to what your own scope shows; frozen exercises as frozen, less records hidden since", success: "200", body: None },
    Summary { path: "/api/exercises/{id}/annotations", method: "post", summary: "Draw a point, line or polygon with a note", success: "201,200", body: Some(("application/json", "Annotation")) },
    Summary { path: "/api/exercises/{id}/decisions", method: "post", summary: "Record a decision", success: "201,200", body: Some(("application/json", "Decision")) },
    Summary { path: "/api/exercises/{id}/actions", method: "post", summary: "Agree an action (owner agency, due date, links)", success: "201,200", body: Some(("application/json", "Action")) },
    Summary { path: "/api/exercises/{id}/freeze", method: "post", summary: "Freeze: keep what the panel saw (coordinators)", success: "200", body: None },
    Summary { path: "/api/exercises/{id}/pack", method: "get", summary: "The pack: printable page, PDF or GeoJSON bundle (format, lang); a disclosure, audited", success: "200", body: None },
    Summary { path: "/api/exercises/{id}/follow-up", method: "get", summary: "Counts before and after freezing, in the area and a ring (ring, metres)", success: "200", body: None },
    Summary { path: "/api/actions", method: "get", summary: "Actions across exercises (due=overdue|week|all)", success: "200", body: None },
    Summary { path: "/api/actions/{id}", method: "patch", summary: "Move an action on (status, version)", success: "200", body: Some(("application/json", "ActionStatus")) },
    Summary { path: "/api/perception-sessions", method: "get", summary: "Safety-mapping sessions of your agency (coordinators: all); audited", success: "200", body: None },
    Summary { path: "/api/perception-sessions", method: "post", summary: "Record a safety-mapping session (Idempotency-Key)", success: "201,200", body: Some(("application/json", "PerceptionSession")) },
    Summary { path: "/api/perception-sessions/{id}", method: "get", summary: "A session and its anonymous marks (exact pins only for whoever recorded it; no participant numbers); audited", success: "200", body: None },
    Summary { path: "/api/perception-sessions/{id}/marks", method: "post", summary: "Add a mark: pin, area or route, with reasons from the fixed list", success: "201,200", body: Some(("application/json", "Mark")) },
    Summary { path: "/api/reports/licensing", method: "get", summary: "Licensing consultation report for a place or point (format=json|html, lang): counts of what you are shown, round the place or the centre of the point's 100 m square; a disclosure, audited; 429 over-budget with Retry-After", success: "200", body: None },
    Summary { path: "/api/role-requests", method: "get", summary: "Role changes waiting for a second administrator (all=true: decided ones too); administrators", success: "200", body: None },
    Summary { path: "/api/role-requests/{id}/approve", method: "post", summary: "Approve a role change as a second administrator (never the one who asked, nor the account's holder)", success: "200", body: None },
    Summary { path: "/api/role-requests/{id}/refuse", method: "post", summary: "Refuse a role change as a second administrator", success: "200", body: None },
];

/// Builds the document.
pub fn build() -> Value {
    let enum_of = |values: Value| json!({ "type": "string", "enum": values });
    let observation_fields = json!({
        "longitude": { "type": "number", "minimum": -180, "maximum": 180 },
        "latitude": { "type": "number", "minimum": -90, "maximum": 90 },
        "extent": { "type": "object", "nullable": true, "description": "GeoJSON LineString (route) or Polygon (area)" },
        "observed_at": { "type": "string", "format": "date-time" },
        "category": enum_of(codes(Category::ALL, Category::code)),
        "indicators": { "type": "array", "items": enum_of(codes(Indicator::ALL, Indicator::code)) },
        "setting": enum_of(codes(SettingType::ALL, SettingType::code)),
        "place_id": { "type": "integer", "nullable": true },
        "description": { "type": "string", "maxLength": 2000 },
        "severity": enum_of(codes(Severity::ALL, Severity::code)),
        "grading": {
            "type": "object", "additionalProperties": false,
            "required": ["source", "information", "handling"],
            "properties": {
                "source": enum_of(codes(SourceReliability::ALL, SourceReliability::code)),
                "information": enum_of(codes(InformationAssessment::ALL, InformationAssessment::code)),
                "handling": enum_of(codes(Handling::ALL, Handling::code))
            }
        },
        "sensitivity": enum_of(codes(Sensitivity::ALL, Sensitivity::code)),
        "case_reference": { "type": "string", "maxLength": 64, "nullable": true },
        "acknowledge_warnings": { "type": "boolean", "default": false,
            "description": "Save even though the free text looks like it identifies people (the 422 personal-identifiers-suspected lists where)" }
    });
    let mut patch_fields = observation_fields.clone();
    if let Some(map) = patch_fields.as_object_mut() {
        map.insert("status".into(), enum_of(codes(Status::ALL, Status::code)));
    }
    let id_param =
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } });
    let purpose_param = json!({ "name": "purpose", "in": "query", "required": false,
        "schema": { "type": "string", "maxLength": 500 },
        "description": "Why you are opening the record; required for sensitive and restricted records; kept in the audit trail" });
    let audit_params = json!([
        { "name": "principal", "in": "query", "description": "Who acted: a username, or user:{id} as the trail names them", "schema": { "type": "string" } },
        { "name": "object_type", "in": "query", "schema": { "type": "string" } },
        { "name": "object_id", "in": "query", "schema": { "type": "string" } },
        { "name": "action", "in": "query", "schema": enum_of(codes(AuditAction::ALL, AuditAction::code)) },
        { "name": "from", "in": "query", "schema": { "type": "string", "format": "date-time" } },
        { "name": "to", "in": "query", "schema": { "type": "string", "format": "date-time" } },
        { "name": "after", "in": "query", "schema": { "type": "integer" } },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }
    ]);
    let mut export_params = audit_params.clone();
    if let Some(list) = export_params.as_array_mut() {
        list.push(json!({ "name": "purpose", "in": "query", "required": true, "schema": { "type": "string" } }));
    }
    let secured = json!([{ "bearerAuth": [] }, { "sessionCookie": [] }]);
    let session_only = json!([{ "sessionCookie": [] }]);
    let code_param =
        json!({ "name": "code", "in": "path", "required": true, "schema": { "type": "string" } });
    let json_body = |schema: &str| {
        json!({
            "required": true,
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
        })
    };
    let observation_response = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Observation" } } }
        })
    };
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "safetymap",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Neighbourhood safety mapping for contextual safeguarding: OGC API – Features layers and a JSON API for writes. Errors are application/problem+json with a stable `code`."
        },
        "servers": [{ "url": "/" }],
        "components": {
            "securitySchemes": {
                "bearerAuth": { "type": "http", "scheme": "bearer" },
                "sessionCookie": { "type": "apiKey", "in": "cookie", "name": "sm_session",
                    "description": "From POST /api/session; writes also need the x-csrf-token header" }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "code"],
                    "properties": {
                        "type": { "type": "string" }, "title": { "type": "string" },
                        "status": { "type": "integer" }, "code": { "type": "string" },
                        "field": { "type": "string" }, "detail": { "type": "string" },
                        "errors": { "type": "array", "items": { "type": "object", "properties": {
                            "field": { "type": "string" }, "code": { "type": "string" }, "message": { "type": "string" } } } }
                    }
                },
                "ObservationInput": {
                    "type": "object", "additionalProperties": false,
                    "required": ["longitude", "latitude", "observed_at", "category", "setting", "severity"],
                    "properties": observation_fields
                },
                "ObservationPatch": {
                    "type": "object", "additionalProperties": false,
                    "description": "JSON merge patch: absent fields stay; null clears extent, place_id, case_reference",
                    "properties": patch_fields
                },
                "Observation": { "type": "object", "description": "The full record with `history`" },
                "Withdrawal": {
                    "type": "object", "additionalProperties": false, "required": ["reason"],
                    "properties": { "reason": { "type": "string", "maxLength": 500 } }
                },
                "Place": {
                    "type": "object", "additionalProperties": false, "required": ["name_en", "kind", "longitude", "latitude"],
                    "properties": {
                        "name_en": { "type": "string", "minLength": 1, "maxLength": 200 },
                        "name_cy": { "type": "string", "maxLength": 200, "nullable": true },
                        "kind": enum_of(codes(PlaceKind::ALL, PlaceKind::code)),
                        "longitude": { "type": "number", "minimum": -180, "maximum": 180 },
                        "latitude": { "type": "number", "minimum": -90, "maximum": 90 },
                        "address": { "type": "string", "nullable": true },
                        "licence_reference": { "type": "string", "nullable": true },
                        "manager_role": { "type": "string", "nullable": true },
                        "training": { "type": "string", "nullable": true },
                        "safe_place": { "type": "boolean", "nullable": true },
                        "version": { "type": "integer", "nullable": true, "description": "The version read, when replacing an entry" },
                        "ref": { "type": "string", "nullable": true, "description": "The council's own reference" }
                    }
                },
                "PlacesFile": { "type": "string", "description": "CSV with a header row: ref, name_en, name_cy, kind, longitude, latitude, address, licence_reference, manager_role, training, safe_place" },
                "BoundaryFile": {
                    "type": "object", "required": ["type", "features"],
                    "description": "A GeoJSON FeatureCollection in CRS84 (ONS fields such as WD13CD/WD13NM/WD13NMW, or code, name_en and name_cy)",
                    "properties": { "type": { "type": "string", "enum": ["FeatureCollection"] }, "features": { "type": "array", "items": { "type": "object" } } }
                },
                "DrawnArea": {
                    "type": "object", "additionalProperties": false, "required": ["name_en", "geometry"],
                    "properties": {
                        "name_en": { "type": "string", "minLength": 1, "maxLength": 200 },
                        "name_cy": { "type": "string", "maxLength": 200, "nullable": true },
                        "geometry": { "type": "object", "description": "A GeoJSON Polygon or MultiPolygon: closed rings, no self-intersection, two or three numbers per position" }
                    }
                },
                "Exercise": {
                    "type": "object", "additionalProperties": false, "required": ["kind", "title", "area_id", "from", "to", "agencies"],
                    "properties": {
                        "kind": enum_of(codes(ExerciseKind::ALL, ExerciseKind::code)),
                        "title": { "type": "string", "minLength": 1, "maxLength": 200 },
                        "area_id": { "type": "integer" },
                        "from": { "type": "string", "format": "date-time" },
                        "to": { "type": "string", "format": "date-time" },
                        "agencies": { "type": "array", "items": { "type": "string" } },
                        "review_on": { "type": "string", "format": "date", "nullable": true }
                    }
                },
                "Annotation": {
                    "type": "object", "additionalProperties": false, "required": ["geometry"],
                    "properties": {
                        "geometry": { "type": "object", "description": "A GeoJSON Point, LineString or Polygon" },
                        "note": { "type": "string", "maxLength": 2000 }
                    }
                },
                "Decision": {
                    "type": "object", "additionalProperties": false, "required": ["text"],
                    "properties": { "text": { "type": "string", "minLength": 1, "maxLength": 2000 } }
                },
                "Action": {
                    "type": "object", "additionalProperties": false, "required": ["what", "owner_agency", "due_on"],
                    "properties": {
                        "what": { "type": "string", "minLength": 1, "maxLength": 2000 },
                        "owner_agency": { "type": "string" },
                        "due_on": { "type": "string", "format": "date" },
                        "status": { "nullable": true, "type": "string", "enum": codes(ActionStatus::ALL, ActionStatus::code) },
                        "place_id": { "type": "integer", "nullable": true },
                        "area_id": { "type": "integer", "nullable": true },
                        "annotation_id": { "type": "integer", "nullable": true }
                    }
                },
                "ActionStatus": {
                    "type": "object", "additionalProperties": false, "required": ["status", "version"],
                    "properties": {
                        "status": enum_of(codes(ActionStatus::ALL, ActionStatus::code)),
                        "version": { "type": "integer" }
                    }
                },
                "PerceptionSession": {
                    "type": "object", "additionalProperties": false, "required": ["held_on"],
                    "properties": {
                        "held_on": { "type": "string", "format": "date" },
                        "area_id": { "type": "integer", "nullable": true },
                        "age_band": { "nullable": true, "type": "string", "enum": codes(AgeBand::ALL, AgeBand::code) }
                    }
                },
                "Mark": {
                    "type": "object", "additionalProperties": false, "required": ["participant", "kind", "geometry"],
                    "properties": {
                        "participant": { "type": "integer", "minimum": 1 },
                        "kind": { "type": "string", "enum": ["pin", "area", "route"] },
                        "rating": { "nullable": true, "type": "string", "enum": codes(Rating::ALL, Rating::code) },
                        "route_use": { "type": "string", "enum": ["used", "avoided"], "nullable": true },
                        "geometry": { "type": "object", "description": "A Point for a pin, a Polygon for an area, a LineString for a route" },
                        "reasons": { "type": "array", "items": enum_of(codes(PerceptionReason::ALL, PerceptionReason::code)) },
                        "time_of_day": { "nullable": true, "type": "string", "enum": codes(TimeOfDay::ALL, TimeOfDay::code) }
                    }
                },
                "NewToken": {
                    "type": "object", "additionalProperties": false, "required": ["name", "scope"],
                    "properties": {
                        "name": { "type": "string", "maxLength": 200, "description": "What the tool is for: the purpose recorded for what it reads" },
                        "scope": { "type": "string", "enum": ["read", "write"] },
                        "expires_in_days": { "type": "integer", "minimum": 1, "maximum": 365, "default": 90 }
                    }
                },
                "SignIn": {
                    "type": "object", "additionalProperties": false, "required": ["username", "password"],
                    "properties": {
                        "username": { "type": "string" }, "password": { "type": "string" },
                        "totp": { "type": "string", "description": "Six digits from the authenticator app (once enrolled)" },
                        "recovery_code": { "type": "string", "description": "Instead of totp: one of the recovery codes, each usable once" }
                    }
                },
                "PasswordChange": {
                    "type": "object", "additionalProperties": false, "required": ["current_password", "new_password"],
                    "properties": { "current_password": { "type": "string" }, "new_password": { "type": "string", "minLength": 12, "maxLength": 128 } }
                },
                "Code": {
                    "type": "object", "additionalProperties": false, "required": ["code"],
                    "properties": { "code": { "type": "string" } }
                },
                "Agency": {
                    "type": "object", "additionalProperties": false, "required": ["name_en", "name_cy", "kind"],
                    "properties": {
                        "code": { "type": "string", "description": "Create only: 2–64 of a–z, 0–9, '.', '-', '_'" },
                        "name_en": { "type": "string" }, "name_cy": { "type": "string" },
                        "kind": enum_of(codes(AgencyKind::ALL, AgencyKind::code))
                    }
                },
                "NewUser": {
                    "type": "object", "additionalProperties": false,
                    "required": ["username", "display_name", "agency", "role", "password"],
                    "properties": {
                        "username": { "type": "string" }, "display_name": { "type": "string" },
                        "agency": { "type": "string" }, "role": enum_of(codes(Role::ALL, Role::code)),
                        "admin": { "type": "boolean", "default": false },
                        "password": { "type": "string", "minLength": 12, "maxLength": 128 }
                    }
                },
                "UserPatch": {
                    "type": "object", "additionalProperties": false,
                    "properties": {
                        "display_name": { "type": "string" }, "role": enum_of(codes(Role::ALL, Role::code)),
                        "admin": { "type": "boolean" }, "disabled": { "type": "boolean" },
                        "password": { "type": "string", "minLength": 12, "maxLength": 128 },
                        "reset_second_factor": { "type": "boolean" }
                    }
                },
                "Keep": {
                    "type": "object", "additionalProperties": false, "required": ["reason", "next_review"],
                    "properties": { "reason": { "type": "string", "maxLength": 500 }, "next_review": { "type": "string", "format": "date" } }
                },
                "Subscription": {
                    "type": "object", "additionalProperties": false,
                    "description": "Give area_id (a registered ward, LSOA, …) or geometry (a shape you drew), not both",
                    "properties": {
                        "name": { "type": "string", "maxLength": 200, "description": "Needed for a drawn shape; a registered area's name otherwise" },
                        "area_id": { "type": "integer" },
                        "geometry": { "type": "object", "description": "GeoJSON Polygon or MultiPolygon, WGS84" },
                        "categories": { "type": "array", "items": { "type": "string" }, "description": "Category codes; empty: all" },
                        "email": { "type": "boolean", "default": false, "description": "Also by email (needs your address and a mail relay)" }
                    }
                },
                "AlertEmail": {
                    "type": "object", "additionalProperties": false, "required": ["email"],
                    "properties": { "email": { "type": ["string", "null"], "maxLength": 254 } }
                },
                "NotificationsRead": {
                    "type": "object", "additionalProperties": false,
                    "properties": { "ids": { "type": "array", "items": { "type": "integer" }, "minItems": 1, "maxItems": 500 }, "all": { "type": "boolean" } }
                }
            }
        },
        "paths": {
            "/ogc": { "get": { "summary": "Landing page", "responses": { "200": { "description": "Links to the API definition, conformance and collections" } } } },
            "/ogc/conformance": { "get": { "summary": "Conformance classes", "responses": { "200": { "description": "conformsTo" } } } },
            "/ogc/api": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3.0" } } } },
            "/ogc/collections": { "get": { "summary": "Collections", "responses": { "200": { "description": "The collections" } } } },
            "/ogc/collections/{collectionId}": { "get": {
                "summary": "One collection",
                "parameters": [{ "name": "collectionId", "in": "path", "required": true, "schema": { "type": "string",
                    "enum": super::ogc::registry().iter().map(|c| c.id()).collect::<Vec<_>>() } }],
                "responses": { "200": { "description": "The collection" }, "404": problem_response("No such collection") } } },
            "/api/vocabulary": { "get": { "summary": "Every controlled list, with English and Welsh labels",
                "responses": { "200": { "description": "The vocabulary" } } } },
            "/api/observations": { "post": {
                "summary": "Log an observation (JSON, or a GeoJSON Feature with a Point geometry)",
                "security": secured,
                "parameters": [{ "name": "Idempotency-Key", "in": "header", "required": false, "schema": { "type": "string", "maxLength": 200 },
                                 "description": "A retry with the same key returns the first result and writes nothing" }],
                "requestBody": json_body("ObservationInput"),
                "responses": { "201": observation_response("Recorded"),
                               "400": problem_response("Malformed JSON"),
                               "413": problem_response("Body too large"),
                               "415": problem_response("Not JSON"),
                               "422": problem_response("Invalid fields; nothing written") } } },
            "/api/observations/{id}": {
                "get": { "summary": "The full record with its history (audited as a consultation)", "security": secured, "parameters": [id_param, purpose_param],
                         "responses": { "200": observation_response("The record"), "400": problem_response("purpose-required"),
                                        "404": problem_response("Not found, or not visible to you") } },
                "patch": { "summary": "Edit (JSON merge patch); history keeps the change", "security": secured, "parameters": [id_param],
                           "requestBody": json_body("ObservationPatch"),
                           "responses": { "200": observation_response("The edited record as a read without a purpose shows it (standard records), otherwise its id, version, status and review date"),
                                          "404": problem_response("Not found, or not visible to you (withdrawn or not)"),
                                          "409": problem_response("Changed meanwhile, or withdrawn"),
                                          "422": problem_response("Invalid fields, or nothing-to-change; nothing written") } } },
            "/api/observations/{id}/withdraw": { "post": {
                "summary": "Withdraw with a reason (soft delete)", "security": secured, "parameters": [id_param],
                "requestBody": json_body("Withdrawal"),
                "responses": { "200": observation_response("The withdrawn record"), "409": problem_response("Already withdrawn") } } },
            "/api/observations/{id}/keep": { "post": {
                "summary": "Keep a record past its review date, with a reason and the next review date (coordinators, own agency)",
                "security": secured, "parameters": [id_param], "requestBody": json_body("Keep"),
                "responses": { "200": observation_response("The kept record"), "422": problem_response("No reason, or a date not after today or beyond three years") } } },
            "/api/observations/{id}/erase": { "post": {
                "summary": "Erase a record everywhere, leaving one audit event (coordinators, own agency)",
                "security": secured, "parameters": [id_param], "requestBody": json_body("Withdrawal"),
                "responses": { "204": { "description": "Erased" }, "404": problem_response("Not found, or not visible to you") } } },
            "/api/review-queue": { "get": {
                "summary": "Your agency's records whose review date has come, soonest first (coordinators)",
                "security": secured,
                "parameters": [{ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 10000, "default": 500 } }],
                "responses": { "200": { "description": "Queue entries, without free text" } } } },
            "/api/alerts": { "get": { "summary": "Your alert email address, whether email can be sent, and the areas you follow",
                "security": session_only, "responses": { "200": { "description": "email, email_available, subscriptions" }, "403": problem_response("people-only: a tool's token") } } },
            "/api/alerts/email": { "put": { "summary": "Set or remove your alert email address",
                "security": session_only, "requestBody": json_body("AlertEmail"),
                "responses": { "200": { "description": "Your alert settings" }, "422": problem_response("invalid-email") } } },
            "/api/alerts/subscriptions": { "post": { "summary": "Follow an area for new observations you may see there",
                "security": session_only, "requestBody": json_body("Subscription"),
                "parameters": [{ "name": "Idempotency-Key", "in": "header", "schema": { "type": "string", "maxLength": 200 } }],
                "responses": { "201": { "description": "The subscription" }, "200": { "description": "The first subscription made with this Idempotency-Key" },
                               "403": problem_response("nothing-to-alert (a role that sees only its own reports) or people-only"),
                               "422": problem_response("area-or-geometry, unknown-link, invalid-geometry, unknown-category, email-unavailable, no-email-address, too-many-subscriptions, or personal identifiers in the name") } } },
            "/api/alerts/subscriptions/{id}": { "delete": { "summary": "Stop following an area",
                "security": session_only, "parameters": [id_param],
                "responses": { "204": { "description": "Stopped" }, "404": problem_response("You follow no such area") } } },
            "/api/notifications": { "get": { "summary": "Your latest notifications, each as your own layer shows it now, and how many are unread",
                "security": session_only, "responses": { "200": { "description": "unread and items (observation, action-due, review-due)" } } } },
            "/api/notifications/read": { "post": { "summary": "Mark notifications read",
                "security": session_only, "requestBody": json_body("NotificationsRead"),
                "responses": { "200": { "description": "Your notifications as they now are" }, "422": problem_response("ids-or-all") } } },
            "/api/session": {
                "get": { "summary": "The current session: account, stage and CSRF token", "security": session_only,
                         "responses": { "200": { "description": "The session" }, "401": problem_response("session-expired or not-signed-in") } },
                "post": { "summary": "Sign in; sets the session cookie", "requestBody": json_body("SignIn"),
                          "responses": { "200": { "description": "account, csrf_token, stage (full, or enrol-mfa for a coordinator or admin without a second factor) and the time limits" },
                                         "401": problem_response("sign-in-failed, or second-factor-required"),
                                         "429": problem_response("sign-in-throttled, with Retry-After") } },
                "delete": { "summary": "Sign out", "security": session_only, "responses": { "204": { "description": "Signed out; the cookie is cleared" } } } },
            "/api/me": { "get": { "summary": "Your account and how many recovery codes are left", "security": secured,
                "responses": { "200": { "description": "The account" } } } },
            "/api/me/password": { "post": { "summary": "Change your password; every session of the account ends and a new one starts here",
                "security": session_only, "requestBody": json_body("PasswordChange"),
                "responses": { "200": { "description": "A new session" }, "422": problem_response("Wrong current password, or the new one fails the policy") } } },
            "/api/me/second-factor": { "post": { "summary": "Offer a TOTP secret (and otpauth URI) to add to an authenticator app",
                "security": session_only, "responses": { "200": { "description": "secret and otpauth_uri" }, "409": problem_response("Already set up") } } },
            "/api/me/second-factor/confirm": { "post": { "summary": "Confirm the offered secret with a code; answers with ten recovery codes, shown once, and a new session",
                "security": session_only, "requestBody": json_body("Code"),
                "responses": { "200": { "description": "recovery_codes and the new session" }, "422": problem_response("Wrong code") } } },
            "/api/agencies": {
                "get": { "summary": "Every agency", "security": secured, "responses": { "200": { "description": "Agencies" } } },
                "post": { "summary": "Register an agency (administrators)", "security": secured, "requestBody": json_body("Agency"),
                          "responses": { "201": { "description": "Registered" }, "409": problem_response("The code is taken") } } },
            "/api/agencies/{code}": { "patch": { "summary": "Rename an agency or change its kind (administrators)", "security": secured,
                "parameters": [code_param], "requestBody": json_body("Agency"), "responses": { "200": { "description": "The agency" } } } },
            "/api/users": {
                "get": { "summary": "Accounts you manage (administrators: all; coordinators: their agency's)", "security": secured,
                         "responses": { "200": { "description": "Accounts" } } },
                "post": { "summary": "Create an account (coordinators: in their agency, never an administrator)", "security": secured,
                          "requestBody": json_body("NewUser"),
                          "responses": { "201": { "description": "The account" }, "409": problem_response("The username is taken"),
                                         "422": problem_response("Invalid fields, an unknown agency, or a password that fails the policy") } } },
            "/api/users/{id}": {
                "get": { "summary": "One account you manage", "security": secured, "parameters": [id_param], "responses": { "200": { "description": "The account" } } },
                "patch": { "summary": "Rename, change role, disable (ends every session and token at once), reset password or second factor",
                           "security": secured, "parameters": [id_param], "requestBody": json_body("UserPatch"),
                           "responses": { "200": { "description": "The account" },
                                          "202": { "description": "Administration and a data role together: the request waits for a second administrator (account, role_request)" },
                                          "403": problem_response("own-role: nobody changes their own role or administrator flag; or forbidden") } } },
            "/api/sign-ins": { "get": { "summary": "The sign-in log, newest first (administrators: all; coordinators: their agency's accounts)",
                "security": secured, "responses": { "200": { "description": "Attempts with outcome success, failure or throttled" } } } },
            "/api/tokens": {
                "get": { "summary": "Your tokens (administrators: everyone's)", "security": secured, "responses": { "200": { "description": "Tokens, without secrets" } } },
                "post": { "summary": "Create a token for one of your tools, acting as you; the secret is shown once", "security": session_only,
                          "requestBody": json_body("NewToken"), "responses": { "201": { "description": "The token with its secret" } } } },
            "/api/tokens/{id}": { "delete": { "summary": "Revoke one of your tokens (administrators: anyone's) at once", "security": secured,
                "parameters": [id_param], "responses": { "204": { "description": "Revoked" }, "404": problem_response("No live token of yours") } } },
            "/api/audit": { "get": {
                "summary": "Search the audit log (coordinators: their agency's people and records; administrators: all)",
                "security": secured, "parameters": audit_params,
                "responses": { "200": { "description": "events, oldest first, and next_after for the next page" }, "403": problem_response("Not a coordinator or administrator") } } },
            "/api/audit/export": { "get": {
                "summary": "Export matching audit events as a JSON download; a disclosure, itself audited",
                "security": secured, "parameters": export_params,
                "responses": { "200": { "description": "The export" }, "400": problem_response("purpose-required") } } },
            "/healthz": { "get": { "summary": "The process is up", "responses": { "200": { "description": "ok" } } } },
            "/readyz": { "get": { "summary": "A write can be made now", "responses": { "200": { "description": "ready" }, "503": problem_response("Store unreachable") } } },
            "/metrics": { "get": {
                "summary": "Prometheus metrics, with the metrics token as the bearer (not an account's token); absent when none is set",
                "responses": {
                    "200": { "description": "The Prometheus text exposition", "content": { "text/plain": { "schema": { "type": "string" } } } },
                    "401": problem_response("metrics-token-required"),
                    "404": problem_response("No metrics token is set")
                } } }
        }
    })
}

/// The document with the endpoints [`SUMMARIES`] lists added.
fn with_summaries(mut doc: Value) -> Value {
    let secured = json!([{ "bearerAuth": [] }, { "sessionCookie": [] }]);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for endpoint in SUMMARIES {
            let entry = paths.entry(endpoint.path).or_insert_with(|| json!({}));
            let mut responses = serde_json::Map::new();
            for status in endpoint.success.split(',') {
                let description = match status {
                    "201" => "Made",
                    "204" => "Done",
                    "304" => "Not modified (If-None-Match)",
                    _ if endpoint.body.is_some() && endpoint.success.contains("201") => {
                        "What an earlier try with this Idempotency-Key made"
                    }
                    _ => "OK",
                };
                responses.insert(status.to_owned(), json!({ "description": description }));
            }
            let mut operation = json!({
                "summary": endpoint.summary,
                "security": secured,
                "responses": responses,
            });
            if let Some((media, schema)) = endpoint.body {
                operation["requestBody"] = json!({
                    "required": true,
                    "content": { media: { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
                });
                if media == "text/csv" {
                    // The places register also takes a GeoJSON file.
                    operation["requestBody"]["content"]["application/geo+json"] =
                        json!({ "schema": { "$ref": "#/components/schemas/BoundaryFile" } });
                }
            }
            entry[endpoint.method] = operation;
        }
    }
    doc
}

/// What a path parameter of this name is.
fn path_parameter(path: &str, name: &str) -> Value {
    let schema = match name {
        "z" => json!({ "type": "integer", "minimum": 0, "maximum": 22 }),
        "x" | "y" => json!({ "type": "integer", "minimum": 0 }),
        "layer" => {
            json!({ "type": "string", "enum": ["observations", "grid", "hotspots", "police-crimes"] })
        }
        "collection" => {
            json!({ "type": "string", "enum": super::ogc::registry().iter().map(|c| c.id()).collect::<Vec<_>>() })
        }
        "code" => json!({ "type": "string", "maxLength": 64 }),
        // Subscriptions have random ids; everything else numbered.
        "id" if path.starts_with("/api/alerts/") => json!({ "type": "string", "maxLength": 64 }),
        "id" => json!({ "type": "integer", "format": "int64" }),
        _ => json!({ "type": "string" }),
    };
    json!({ "name": name, "in": "path", "required": true, "schema": schema })
}

/// Completes every operation: the path parameters its template names, and
/// the problems any operation can answer with (so a client, or a fuzzer,
/// finds every status it can get in the document).
fn complete(mut doc: Value) -> Value {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return doc;
    };
    for (path, item) in paths.iter_mut() {
        let names: Vec<String> = path
            .split('/')
            .filter_map(|segment| {
                segment
                    .strip_prefix('{')?
                    .strip_suffix('}')
                    .map(str::to_owned)
            })
            .collect();
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                continue;
            }
            let parameters = operation
                .as_object_mut()
                .map(|o| o.entry("parameters").or_insert_with(|| json!([])));
            if let Some(Value::Array(parameters)) = parameters {
                for name in &names {
                    let declared = parameters
                        .iter()
                        .any(|p| p["in"] == "path" && p["name"] == name.as_str());
                    if !declared {
                        parameters.push(path_parameter(path, name));
                    }
                }
            }
            let has_body = operation.get("requestBody").is_some();
            let public = operation.get("security").is_none();
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status)
                    .or_insert_with(|| problem_response(description));
            };
            add(
                "400",
                "A parameter or the body is malformed, or a parameter is unknown",
            );
            if !public {
                add("401", "No, or an expired, token or session");
                add("403", "Your role or agency may not do this");
            }
            if !names.is_empty() || !public {
                add("404", "Not found, or not visible to you");
            }
            if method != "get" && method != "delete" {
                add("409", "In conflict with the record's state (an edit from an old version, a frozen exercise, a name in use)");
            }
            if has_body {
                add("413", "The body is too large");
                add("415", "The body is not of a type this takes");
            }
            add(
                "422",
                "A field, or a parameter's value, is invalid (code and field say which)",
            );
            if !public {
                add("429", "Over a budget, or too many failed sign-ins; Retry-After says when to try again");
            }
            add(
                "503",
                "store-unavailable or busy; Retry-After says when to try again",
            );
        }
    }
    doc
}
/// One query parameter of a collection's `items`, by name.
fn query_parameter(name: &str) -> Value {
    let string = |description: &str| {
        json!({ "name": name, "in": "query", "required": false, "style": "form", "explode": false,
                "description": description, "schema": { "type": "string" } })
    };
    let integer = |description: &str, minimum: u32| {
        json!({ "name": name, "in": "query", "required": false, "style": "form", "explode": false,
                "description": description, "schema": { "type": "integer", "minimum": minimum } })
    };
    let crs_values = Value::Array(Crs::ALL.iter().map(|c| Value::from(c.uri())).collect());
    match name {
        "bbox" => {
            json!({ "name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "Lower left and upper right corners, in bbox-crs (CRS84 by default)",
            "schema": { "type": "array", "minItems": 4, "maxItems": 6, "items": { "type": "number" } } })
        }
        "bbox-crs" | "crs" => {
            json!({ "name": name, "in": "query", "required": false, "style": "form", "explode": false,
            "description": if name == "crs" { "The CRS of the answer's coordinates (Content-Crs says which)" } else { "The CRS of bbox" },
            "schema": { "type": "string", "format": "uri", "enum": crs_values, "default": CRS84 } })
        }
        "datetime" => {
            string("An instant, a date, or an interval start/end with .. for an open end")
        }
        "limit" => {
            json!({ "name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "Features per page; larger values are clamped to the maximum",
            "schema": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT } })
        }
        "cursor" => string("Where a page starts: set by next and prev links"),
        "filter" => string("A CQL2 filter over the collection's queryables (see /queryables), evaluated on features as you are shown them"),
        "filter-lang" => json!({ "name": name, "in": "query", "required": false, "style": "form", "explode": false,
            "schema": { "type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text" } }),
        "filter-crs" => json!({ "name": name, "in": "query", "required": false, "style": "form", "explode": false,
            "schema": { "type": "string", "enum": [CRS84], "default": CRS84 } }),
        "category" => csv_param(
            name,
            "Any of these categories",
            codes(Category::ALL, Category::code),
        ),
        "setting" => csv_param(
            name,
            "Any of these settings",
            codes(SettingType::ALL, SettingType::code),
        ),
        "severity" => csv_param(
            name,
            "Any of these severities",
            codes(Severity::ALL, Severity::code),
        ),
        "status" => csv_param(
            name,
            "Any of these statuses",
            codes(Status::ALL, Status::code),
        ),
        "sensitivity" => csv_param(
            name,
            "Any of these sensitivities",
            codes(Sensitivity::ALL, Sensitivity::code),
        ),
        "timeband" => csv_param(
            name,
            "Recurring bands of the day, UK local time",
            codes(TimeBand::ALL, TimeBand::code),
        ),
        "days" => csv_param(
            name,
            "Weekday or weekend, UK local time",
            codes(DayKind::ALL, DayKind::code),
        ),
        "agency" => string("Any of these agencies (comma-separated codes)"),
        "mine" => {
            json!({ "name": "mine", "in": "query", "required": false, "schema": { "type": "boolean" },
            "description": "Only what you recorded" })
        }
        "place" => integer("Only records linked to this place of the register", 1),
        "cell" => integer("Cell size in metres: 100, 250 or 500", 100),
        "shape" => string("square or hexagon"),
        "weights" => string("distance (a band in metres) or nearest (k neighbours)"),
        "band" => integer("Distance band, metres", 1),
        "k" => integer("Nearest neighbours", 1),
        "fdr" => {
            json!({ "name": "fdr", "in": "query", "required": false, "schema": { "type": "boolean" },
            "description": "Control the false discovery rate" })
        }
        "eps" => integer("Neighbourhood radius, metres (1 to 5000)", 1),
        "min" => integer("Fewest points in a cluster (2 to 10000)", 2),
        "kind" => string("Any of these kinds (comma-separated codes)"),
        "time_of_day" => string("Any of these times of day (comma-separated codes)"),
        "crime_type" => {
            string("Any of these police.uk crime types (comma-separated codes, e.g. drugs)")
        }
        "purpose" => {
            json!({ "name": "purpose", "in": "query", "required": false, "schema": { "type": "string", "maxLength": 500 },
            "description": "Why you open the full record (audited as a consultation); without it, the record as the items show it" })
        }
        _ => string(""),
    }
}

/// Every collection's items and item paths, under `prefix`.
fn collection_paths(prefix: &str) -> serde_json::Map<String, Value> {
    let secured = json!([{ "bearerAuth": [] }, { "sessionCookie": [] }]);
    let common = [
        "bbox",
        "bbox-crs",
        "crs",
        "datetime",
        "limit",
        "cursor",
        "filter",
        "filter-lang",
        "filter-crs",
    ];
    let mut paths = serde_json::Map::new();
    for layer in super::ogc::registry() {
        let id = layer.id();
        let parameters: Vec<Value> = common
            .iter()
            .copied()
            .chain(layer.parameters())
            .map(query_parameter)
            .collect();
        let mut item_parameters = vec![
            json!({ "name": "featureId", "in": "path", "required": true, "schema": { "type": "string" } }),
        ];
        item_parameters.extend(
            ["crs"]
                .into_iter()
                .chain(layer.item_parameters())
                .map(query_parameter),
        );
        let geojson = json!({ "application/geo+json": { "schema": { "type": "object" } } });
        paths.insert(format!("{prefix}/collections/{id}/items"), json!({ "get": {
            "summary": format!("The {id} collection's features as GeoJSON, as your role is shown them"),
            "security": secured,
            "parameters": parameters,
            "responses": {
                "200": { "description": "A FeatureCollection with numberMatched, numberReturned, timeStamp and self, next and prev links", "content": geojson },
                "400": problem_response("A parameter is unknown or invalid"),
                "401": problem_response("No or invalid token"),
                "422": problem_response("too-costly: change the named parameter"),
                "429": problem_response("over-budget, with Retry-After"),
                "503": problem_response("busy, with Retry-After")
            } } }));
        paths.insert(format!("{prefix}/collections/{id}"), json!({ "get": {
            "summary": format!("The {id} collection's description: its extent and links"),
            "responses": { "200": { "description": "The collection", "content": { "application/json": { "schema": { "type": "object" } } } } } } }));
        paths.insert(format!("{prefix}/collections/{id}/queryables"), json!({ "get": {
            "summary": format!("What the {id} collection can be filtered on (JSON Schema)"),
            "responses": { "200": { "description": "The queryables", "content": { "application/schema+json": { "schema": { "type": "object" } } } } } } }));
        paths.insert(format!("{prefix}/collections/{id}/items/{{featureId}}"), json!({ "get": {
            "summary": format!("One feature of the {id} collection (aggregate cells by their code, under the same parameters)"),
            "security": secured,
            "parameters": item_parameters,
            "responses": {
                "200": { "description": "The Feature", "content": geojson },
                "404": problem_response("Not found, or not visible to you")
            } } }));
    }
    paths
}

/// The whole API: `/api`, `/ogc`, tiles and the app's own routes.
fn full() -> Value {
    let mut doc = with_summaries(build());
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        paths.extend(collection_paths("/ogc"));
    }
    complete(doc)
}

/// `GET /ogc/api` and `GET /api/openapi.json`: the whole API, paths
/// absolute from the server's root.
pub async fn document() -> Response {
    openapi_response(full())
}

fn openapi_response(doc: Value) -> Response {
    let mut response = axum::Json(doc).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.oai.openapi+json;version=3.0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The routes the document describes: everything but the app's own
    /// files and the basemap it draws on.
    fn described_routes() -> Vec<String> {
        crate::api::route_paths()
            .into_iter()
            .filter(|p| {
                [
                    "/api/", "/ogc", "/tiles/", "/healthz", "/readyz", "/metrics",
                ]
                .iter()
                .any(|prefix| p.starts_with(prefix))
            })
            .collect()
    }

    #[test]
    fn every_api_route_is_in_the_document_with_its_path_parameters_declared() {
        let doc = full();
        let paths = doc["paths"].as_object().expect("paths");
        let collections: Vec<&str> = crate::api::ogc::registry().iter().map(|c| c.id()).collect();
        let missing: Vec<String> = described_routes()
            .into_iter()
            // `/ogc/` is `/ogc` with a slash.
            .filter(|route| route != "/ogc/")
            .filter(|route| {
                // The document spells OGC item ids `featureId`, as OGC does,
                // and describes each collection on its own path.
                let route = route.replace("/items/{id}", "/items/{featureId}");
                !collections
                    .iter()
                    .all(|c| paths.contains_key(&route.replace("{collection}", c)))
            })
            .collect();
        assert!(missing.is_empty(), "not in the document: {missing:?}");
        for (path, item) in paths {
            let names: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (method, operation) in item.as_object().expect("path item") {
                let declared: Vec<&str> = operation["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| p["in"] == "path")
                            .filter_map(|p| p["name"].as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                for name in &names {
                    assert!(
                        declared.contains(name),
                        "{method} {path} does not declare {{{name}}}"
                    );
                }
                assert!(
                    operation["responses"].get("default").is_none(),
                    "{method} {path} hides its statuses behind `default`"
                );
                for status in ["400", "422", "503"] {
                    assert!(
                        operation["responses"].get(status).is_some(),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_write_that_reads_a_body_says_what_body() {
        // Writes that take no body: the path says everything.
        let bodiless = [
            ("post", "/api/exercises/{id}/freeze"),
            ("post", "/api/me/second-factor"),
            ("post", "/api/role-requests/{id}/approve"),
            ("post", "/api/role-requests/{id}/refuse"),
        ];
        let doc = full();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in ["post", "put", "patch"] {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let takes_none = bodiless.contains(&(method, path.as_str()));
                assert_eq!(
                    operation.get("requestBody").is_some(),
                    !takes_none,
                    "{method} {path}: requestBody"
                );
            }
        }
    }
}
