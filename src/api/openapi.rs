//! The OpenAPI 3.0 document, linked from the OGC landing page as
//! `service-desc`. Enumerations come from the vocabulary, so the document
//! cannot drift from what the server accepts.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::features::{CRS84, DEFAULT_LIMIT, MAX_LIMIT};
use crate::domain::crs::Crs;
use crate::domain::vocabulary::{
    AgencyKind, AuditAction, Category, DayKind, Handling, Indicator, InformationAssessment, Role,
    Sensitivity, SettingType, Severity, SourceReliability, Status, TimeBand,
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

/// Builds the document.
/// Endpoints described by a summary only: path, method, summary.
const SUMMARIES: &[(&str, &str, &str)] = &[
    ("/tiles/{layer}/{z}/{x}/{y}", "get", "Vector tile (MVT) of observations, grid, hotspots or police-crimes, with the collections' privacy and parameters; ETag/304"),
    ("/api/time-profile", "get", "Weekday × hour counts for a filter or an area (area=ID), or for the hot or cold cells (within=filter|hot|cold); 422 too-costly, 503 busy, 429 over-budget"),
    ("/api/police-imports", "get", "The police.uk import log"),
    ("/api/places", "get", "The places register"),
    ("/api/places", "post", "Add a place (Idempotency-Key); field officers, coordinators, administrators"),
    ("/api/places/{id}", "get", "A place and its linked observations by month (only those you see exactly)"),
    ("/api/places/{id}", "put", "Replace a place's entry (send the version read)"),
    ("/api/places/{id}", "delete", "Take a place off the register"),
    ("/api/places/import", "post", "Import places from CSV or GeoJSON; all or nothing; matched on reference"),
    ("/api/areas", "get", "Every area, without shapes"),
    ("/api/areas", "post", "Save a drawn area (Idempotency-Key); coordinators, administrators"),
    ("/api/areas/{id}", "delete", "Delete an area no exercise uses"),
    ("/api/areas/import", "post", "Import a GeoJSON boundary file (kind); all or nothing; matched on kind and code"),
    ("/api/exercises", "get", "Exercises you may see"),
    ("/api/exercises", "post", "Set up an exercise (coordinators; Idempotency-Key)"),
    ("/api/exercises/{id}", "get", "The meeting view, decided for the panel and cut to what your own scope shows; frozen exercises as frozen, less records hidden since"),
    ("/api/exercises/{id}/annotations", "post", "Draw a point, line or polygon with a note"),
    ("/api/exercises/{id}/decisions", "post", "Record a decision"),
    ("/api/exercises/{id}/actions", "post", "Agree an action (owner agency, due date, links)"),
    ("/api/exercises/{id}/freeze", "post", "Freeze: keep what the panel saw (coordinators)"),
    ("/api/exercises/{id}/pack", "get", "The pack: printable page, PDF or GeoJSON bundle (format, lang); a disclosure, audited"),
    ("/api/exercises/{id}/follow-up", "get", "Counts before and after freezing, in the area and a ring (ring, metres)"),
    ("/api/actions", "get", "Actions across exercises (due=overdue|week|all)"),
    ("/api/actions/{id}", "patch", "Move an action on (status, version)"),
    ("/api/perception-sessions", "get", "Safety-mapping sessions of your agency (coordinators: all); audited"),
    ("/api/perception-sessions", "post", "Record a safety-mapping session (Idempotency-Key)"),
    ("/api/perception-sessions/{id}", "get", "A session and its anonymous marks (exact pins only for whoever recorded it; no participant numbers); audited"),
    ("/api/perception-sessions/{id}/marks", "post", "Add a mark: pin, area or route, with reasons from the fixed list"),
    ("/api/reports/licensing", "get", "Licensing consultation report for a place or point (format=json|html, lang): counts of what you are shown, round the place or the centre of the point's 100 m square; a disclosure, audited; 429 over-budget with Retry-After"),
    ("/api/role-requests", "get", "Role changes waiting for a second administrator (all=true: decided ones too); administrators"),
    ("/api/role-requests/{id}/approve", "post", "Approve a role change as a second administrator (never the one who asked, nor the account's holder)"),
    ("/api/role-requests/{id}/refuse", "post", "Refuse a role change as a second administrator"),
];

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
            "/readyz": { "get": { "summary": "A write transaction can begin", "responses": { "200": { "description": "ready" }, "503": problem_response("Store unreachable") } } },
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
        for (path, method, summary) in SUMMARIES {
            let entry = paths.entry(*path).or_insert_with(|| json!({}));
            entry[*method] = json!({
                "summary": summary,
                "security": secured,
                "responses": { "200": { "description": "OK" }, "default": { "description": "application/problem+json" } }
            });
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
    doc
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
