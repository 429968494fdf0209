//! People: accounts and agencies, sign-in with password and TOTP, sessions
//! and their limits, CSRF, throttling.

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use safetymap::security::totp;
use serde_json::{json, Value};

use crate::common::{observation, test_settings, Session, TestApp, TestDatabase, PASSWORD};

const ITEMS: &str = "/ogc/collections/observations/items";

/// Enrols a second factor for a freshly signed-in coordinator or admin;
/// returns the secret, the recovery codes and the full session.
async fn enrol(app: &TestApp, session: &Session) -> (String, Vec<String>, Session) {
    let offered = app
        .as_session(Method::POST, "/api/me/second-factor", session, None, true)
        .await;
    assert_eq!(offered.status, StatusCode::OK, "{}", offered.text());
    let secret = offered.json()["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert!(offered.json()["otpauth_uri"]
        .as_str()
        .expect("uri")
        .starts_with("otpauth://totp/safetymap%3A"));
    let code = totp::code_at(&secret, app.state.clock.now().timestamp()).expect("code");
    let confirmed = app
        .as_session(
            Method::POST,
            "/api/me/second-factor/confirm",
            session,
            Some(&json!({"code": code})),
            true,
        )
        .await;
    let codes: Vec<String> = confirmed.json()["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    (secret, codes, Session::from_reply(&confirmed))
}

fn code(reply: &crate::common::Reply) -> Value {
    reply.json()["code"].clone()
}

on_both_stores! {
    async fn a_session_cookie_is_httponly_strict_and_new_at_each_sign_in_and_writes_need_the_csrf_token(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.user(Role::FieldOfficer, "parks").await;
        let reply = app.sign_in_from(&json!({"username": officer.username.to_uppercase(), "password": PASSWORD}), [10, 0, 0, 1]).await;
        let cookie = reply.headers["set-cookie"].to_str().expect("cookie").to_owned();
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(flag), "{cookie} lacks {flag}");
        }
        assert!(!cookie.contains("Secure"), "not over TLS in tests");
        let token = cookie.split(';').next().and_then(|c| c.split_once('=')).map(|(_, v)| v.to_owned()).expect("value");
        assert!(token.len() >= 32, "at least 128 bits");
        let first = Session::from_reply(&reply);
        let second = app.sign_in(&officer, None).await;
        assert_ne!(first.cookie, second.cookie, "a new token at each sign-in");

        let me = app.as_session(Method::GET, "/api/me", &first, None, false).await;
        assert_eq!(me.json()["account"]["username"], officer.username);
        assert_eq!(me.json()["account"]["role"], "field-officer");

        let forged = app.as_session(Method::POST, "/api/observations", &first, Some(&observation(json!({}))), false).await;
        assert_eq!((forged.status, code(&forged)), (StatusCode::FORBIDDEN, json!("csrf-token-mismatch")));
        let crossed = Session { csrf: second.csrf.clone(), ..first.clone() };
        let crossed = app.as_session(Method::POST, "/api/observations", &crossed, Some(&observation(json!({}))), true).await;
        assert_eq!(crossed.status, StatusCode::FORBIDDEN, "another session's CSRF token does not do");
        assert!(app.as_session(Method::GET, ITEMS, &first, None, false).await.feature_ids().is_empty(), "nothing was written");
        let made = app.as_session(Method::POST, "/api/observations", &first, Some(&observation(json!({}))), true).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        assert_eq!(app.as_session(Method::GET, ITEMS, &first, None, false).await.feature_ids().len(), 1);

        let out = app.as_session(Method::DELETE, "/api/session", &first, None, true).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert!(out.headers["set-cookie"].to_str().expect("cookie").contains("Max-Age=0"));
        let after = app.as_session(Method::GET, ITEMS, &first, None, false).await;
        assert_eq!((after.status, code(&after)), (StatusCode::UNAUTHORIZED, json!("session-expired")));
        assert_eq!(app.as_session(Method::GET, ITEMS, &second, None, false).await.status, StatusCode::OK, "other sessions go on");
    }

    async fn sessions_end_after_thirty_idle_minutes_and_after_twelve_hours_however_busy(backend) {
        let app = TestApp::new(backend).await;
        let panel = app.user(Role::PanelMember, "police").await;
        let idle = app.sign_in(&panel, None).await;
        app.state.clock.advance(chrono::Duration::minutes(29));
        assert_eq!(app.as_session(Method::GET, ITEMS, &idle, None, false).await.status, StatusCode::OK);
        app.state.clock.advance(chrono::Duration::minutes(29));
        assert_eq!(app.as_session(Method::GET, ITEMS, &idle, None, false).await.status, StatusCode::OK, "use restarts the idle clock");
        app.state.clock.advance(chrono::Duration::minutes(31));
        let expired = app.as_session(Method::GET, ITEMS, &idle, None, false).await;
        assert_eq!((expired.status, code(&expired)), (StatusCode::UNAUTHORIZED, json!("session-expired")));

        let busy = app.sign_in(&panel, None).await;
        for _ in 0..(12 * 60 / 20 - 1) {
            app.state.clock.advance(chrono::Duration::minutes(20));
            assert_eq!(app.as_session(Method::GET, ITEMS, &busy, None, false).await.status, StatusCode::OK);
        }
        app.state.clock.advance(chrono::Duration::minutes(21));
        let ended = app.as_session(Method::GET, ITEMS, &busy, None, false).await;
        assert_eq!((ended.status, code(&ended)), (StatusCode::UNAUTHORIZED, json!("session-expired")));
    }

    async fn disabling_a_user_ends_their_open_session_and_their_tokens_at_once(backend) {
        let app = TestApp::new(backend).await;
        let (_, admin) = app.session_as(Role::Admin, "corporate").await;
        let officer = app.user(Role::FieldOfficer, "parks").await;
        let session = app.sign_in(&officer, None).await;
        let tool = app.token_for(&officer, false).await;
        assert_eq!(app.as_session(Method::GET, ITEMS, &session, None, false).await.status, StatusCode::OK);
        assert_eq!(app.get(ITEMS, &tool).await.status, StatusCode::OK);

        let disabled = app.as_session(Method::PATCH, &format!("/api/users/{}", officer.id), &admin, Some(&json!({"disabled": true})), true).await;
        assert_eq!(disabled.json()["disabled"], true, "{}", disabled.text());
        let refused = app.as_session(Method::GET, ITEMS, &session, None, false).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(!refused.text().contains("Feature"));
        let tool_refused = app.get(ITEMS, &tool).await;
        assert_eq!(tool_refused.status, StatusCode::UNAUTHORIZED);
        let again = app.sign_in_from(&json!({"username": officer.username, "password": PASSWORD}), [10, 0, 0, 2]).await;
        assert_eq!((again.status, code(&again)), (StatusCode::UNAUTHORIZED, json!("sign-in-failed")));

        app.as_session(Method::PATCH, &format!("/api/users/{}", officer.id), &admin, Some(&json!({"disabled": false})), true).await;
        assert_eq!(app.get(ITEMS, &tool).await.status, StatusCode::UNAUTHORIZED, "re-enabling does not revive tokens");
        assert_eq!(app.sign_in_from(&json!({"username": officer.username, "password": PASSWORD}), [10, 0, 0, 2]).await.status, StatusCode::OK);
    }

    async fn repeated_failed_sign_ins_are_throttled_per_account_and_per_address_and_logged(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.user(Role::FieldOfficer, "parks").await;
        let wrong = json!({"username": officer.username, "password": "not the password at all"});
        for n in 0..5 {
            let reply = app.sign_in_from(&wrong, [10, 0, 0, n + 1]).await;
            assert_eq!((reply.status, code(&reply)), (StatusCode::UNAUTHORIZED, json!("sign-in-failed")));
        }
        let right = json!({"username": officer.username, "password": PASSWORD});
        let throttled = app.sign_in_from(&right, [10, 0, 0, 9]).await;
        assert_eq!((throttled.status, code(&throttled)), (StatusCode::TOO_MANY_REQUESTS, json!("sign-in-throttled")));
        assert!(throttled.headers.contains_key("retry-after"));
        assert!(!throttled.headers.contains_key("set-cookie"), "even the right password waits");
        app.state.clock.advance(chrono::Duration::minutes(16));
        assert_eq!(app.sign_in_from(&right, [10, 0, 0, 9]).await.status, StatusCode::OK, "the window passes");

        // One address trying many names.
        for n in 0..30 {
            app.sign_in_from(&json!({"username": format!("nobody{n}"), "password": "guessing guessing"}), [192, 0, 2, 7]).await;
        }
        let other = app.user(Role::PanelMember, "police").await;
        let from_attacker = app.sign_in_from(&json!({"username": other.username, "password": PASSWORD}), [192, 0, 2, 7]).await;
        assert_eq!(from_attacker.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(app.sign_in_from(&json!({"username": other.username, "password": PASSWORD}), [10, 0, 0, 3]).await.status, StatusCode::OK);

        let admin = app.enrolled_user(Role::Admin, "corporate").await;
        let log = app.get("/api/sign-ins", &app.token_for(&admin, false).await).await.json();
        let outcomes = |name: &str| -> Vec<String> {
            log.as_array().expect("log").iter().filter(|e| e["username"] == name).map(|e| e["outcome"].as_str().unwrap_or("").to_owned()).collect()
        };
        assert_eq!(outcomes(&officer.username), ["success", "throttled", "failure", "failure", "failure", "failure", "failure"]);
        assert!(!log.to_string().contains("not the password"), "passwords are never logged");
        assert_eq!(log.as_array().expect("log").iter().filter(|e| e["client"] == "192.0.2.7").count(), 31);
    }

    async fn a_coordinators_sign_in_log_holds_only_the_accounts_they_manage_not_a_fellow_coordinators(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.user(Role::FieldOfficer, "parks").await;
        let fellow = app.enrolled_user(Role::Coordinator, "parks").await;
        let elsewhere = app.user(Role::FieldOfficer, "police").await;
        for (user, n) in [(&officer, 1), (&fellow, 2), (&elsewhere, 3)] {
            app.sign_in_from(&json!({"username": user.username, "password": "not the password at all"}), [10, 0, 1, n]).await;
        }
        let coordinator = app.enrolled_user(Role::Coordinator, "parks").await;
        let log = app.get("/api/sign-ins", &app.token_for(&coordinator, false).await).await.json();
        let names: Vec<&str> = log.as_array().expect("log").iter().filter_map(|e| e["username"].as_str()).collect();
        assert_eq!(names, [officer.username.as_str()], "their field officer only: {log}");
        assert!(!log.to_string().contains("10.0.1.2"), "nothing of the fellow coordinator's, not even the address");
    }

    async fn a_username_that_is_the_services_own_audit_name_is_refused(backend) {
        let app = TestApp::new(backend).await;
        let (coordinator, session) = app.session_as(Role::Coordinator, "parks").await;
        let bearer = app.token_for(&coordinator, false).await;
        for name in ["system", "Console"] {
            let body = json!({"username": name, "display_name": "Made-up Officer", "agency": coordinator.agency, "role": "field-officer", "password": PASSWORD});
            let reply = app.as_session(Method::POST, "/api/users", &session, Some(&body), true).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {}", reply.text());
            assert_eq!(reply.json()["errors"][0]["field"], "username");
            assert_eq!(reply.json()["errors"][0]["code"], "reserved");
        }
        let users = app.get("/api/users", &bearer).await.json();
        assert!(!users.to_string().contains("\"system\""), "nothing was made: {users}");
    }

    async fn coordinators_must_enrol_totp_and_then_sign_in_with_a_code_or_a_recovery_code_once(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.user(Role::Coordinator, "council").await;
        let first = app.sign_in(&coordinator, None).await;
        let blocked = app.as_session(Method::GET, ITEMS, &first, None, false).await;
        assert_eq!((blocked.status, code(&blocked)), (StatusCode::FORBIDDEN, json!("second-factor-enrolment-required")));
        let (secret, codes, full) = enrol(&app, &first).await;
        assert_eq!(codes.len(), 10);
        assert_eq!(app.as_session(Method::GET, ITEMS, &full, None, false).await.status, StatusCode::OK);
        assert_eq!(app.as_session(Method::GET, ITEMS, &first, None, false).await.status, StatusCode::UNAUTHORIZED, "the enrolment session was replaced");

        let no_code = app.sign_in_from(&json!({"username": coordinator.username, "password": PASSWORD}), [10, 0, 0, 1]).await;
        assert_eq!((no_code.status, code(&no_code), no_code.json()["field"].clone()), (StatusCode::UNAUTHORIZED, json!("second-factor-required"), json!("totp")));
        assert!(!no_code.headers.contains_key("set-cookie"));
        let wrong = app.sign_in_from(&json!({"username": coordinator.username, "password": PASSWORD, "totp": "000000"}), [10, 0, 0, 1]).await;
        assert_eq!(code(&wrong), json!("sign-in-failed"));

        app.state.clock.advance(chrono::Duration::seconds(60));
        let now_code = totp::code_at(&secret, app.state.clock.now().timestamp()).expect("code");
        let with_code = json!({"username": coordinator.username, "password": PASSWORD, "totp": now_code});
        assert_eq!(app.sign_in_from(&with_code, [10, 0, 0, 1]).await.status, StatusCode::OK);
        assert_eq!(code(&app.sign_in_from(&with_code, [10, 0, 0, 1]).await), json!("sign-in-failed"), "a code works once");

        let recovery = json!({"username": coordinator.username, "password": PASSWORD, "recovery_code": codes[3].to_uppercase()});
        let used = app.sign_in_from(&recovery, [10, 0, 0, 1]).await;
        assert_eq!(used.status, StatusCode::OK, "{}", used.text());
        let session = Session::from_reply(&used);
        assert_eq!(app.as_session(Method::GET, "/api/me", &session, None, false).await.json()["recovery_codes_left"], 9);
        assert_eq!(code(&app.sign_in_from(&recovery, [10, 0, 0, 1]).await), json!("sign-in-failed"), "a recovery code works once");
    }

    async fn admins_manage_agencies_and_accounts_and_coordinators_only_their_own_agencys(backend) {
        let app = TestApp::new(backend).await;
        let (_, admin) = app.session_as(Role::Admin, "corporate").await;
        let agency = app.as_session(Method::POST, "/api/agencies", &admin, Some(&json!({"code": "gwent-police", "name_en": "Gwent Police", "name_cy": "Heddlu Gwent", "kind": "police"})), true).await;
        assert_eq!(agency.status, StatusCode::CREATED, "{}", agency.text());
        let again = app.as_session(Method::POST, "/api/agencies", &admin, Some(&json!({"code": "gwent-police", "name_en": "x", "name_cy": "y", "kind": "police"})), true).await;
        assert_eq!((again.status, code(&again), again.json()["field"].clone()), (StatusCode::CONFLICT, json!("already-exists"), json!("code")));
        let bad_kind = app.as_session(Method::POST, "/api/agencies", &admin, Some(&json!({"code": "x-y", "name_en": "x", "name_cy": "y", "kind": "army"})), true).await;
        assert_eq!((bad_kind.status, bad_kind.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("kind")));

        let new_user = |username: &str, agency: &str, role: &str, password: &str| json!({
            "username": username, "display_name": "Someone", "agency": agency, "role": role, "password": password,
        });
        let made = app.as_session(Method::POST, "/api/users", &admin, Some(&new_user("inspector.a", "gwent-police", "coordinator", PASSWORD)), true).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        assert_eq!(made.json()["second_factor_required"], true);
        let short = app.as_session(Method::POST, "/api/users", &admin, Some(&new_user("inspector.b", "gwent-police", "panel-member", "short")), true).await;
        assert_eq!((short.status, code(&short), short.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("password-too-short"), json!("password")));
        let common = app.as_session(Method::POST, "/api/users", &admin, Some(&new_user("inspector.b", "gwent-police", "panel-member", "password1234")), true).await;
        assert_eq!(common.json()["errors"][0]["code"], "password-common");
        let nowhere = app.as_session(Method::POST, "/api/users", &admin, Some(&new_user("inspector.b", "no-such-agency", "panel-member", PASSWORD)), true).await;
        assert_eq!((nowhere.status, code(&nowhere)), (StatusCode::UNPROCESSABLE_ENTITY, json!("unknown-agency")));
        let taken = app.as_session(Method::POST, "/api/users", &admin, Some(&new_user("Inspector.A", "gwent-police", "panel-member", PASSWORD)), true).await;
        assert_eq!((taken.status, taken.json()["field"].clone()), (StatusCode::CONFLICT, json!("username")));

        let (_, coordinator) = app.session_as(Role::Coordinator, "gwent-police").await;
        let own = app.as_session(Method::POST, "/api/users", &coordinator, Some(&new_user("pc.jones", "gwent-police", "panel-member", PASSWORD)), true).await;
        assert_eq!(own.status, StatusCode::CREATED);
        let elsewhere = app.as_session(Method::POST, "/api/users", &coordinator, Some(&new_user("pc.evans", "corporate", "panel-member", PASSWORD)), true).await;
        assert_eq!((elsewhere.status, elsewhere.json()["field"].clone()), (StatusCode::FORBIDDEN, json!("agency")));
        let promote = app.as_session(Method::POST, "/api/users", &coordinator, Some(&new_user("pc.evans", "gwent-police", "admin", PASSWORD)), true).await;
        assert_eq!(promote.status, StatusCode::FORBIDDEN);
        let listed = app.as_session(Method::GET, "/api/users", &coordinator, None, false).await.json();
        assert!(listed.as_array().expect("users").iter().all(|u| u["agency"] == "gwent-police"));
        let admin_id = app.store.users(Some("corporate")).await.expect("users")[0].id;
        assert_eq!(app.as_session(Method::GET, &format!("/api/users/{admin_id}"), &coordinator, None, false).await.status, StatusCode::NOT_FOUND);
        let disable_admin = app.as_session(Method::PATCH, &format!("/api/users/{admin_id}"), &coordinator, Some(&json!({"disabled": true})), true).await;
        assert_eq!(disable_admin.status, StatusCode::NOT_FOUND);
        assert!(app.store.user(admin_id).await.expect("user").expect("admin").disabled_at.is_none(), "nothing changed");
        // Nor a fellow coordinator, whom a password and second-factor reset
        // would let them impersonate.
        let fellow = made.json()["id"].as_i64().expect("id");
        let reset = app.as_session(Method::PATCH, &format!("/api/users/{fellow}"), &coordinator, Some(&json!({"password": "a brand new passphrase here", "reset_second_factor": true})), true).await;
        assert_eq!(reset.status, StatusCode::NOT_FOUND);
        let promote_own = app.as_session(Method::PATCH, &format!("/api/users/{}", own.json()["id"]), &coordinator, Some(&json!({"role": "coordinator"})), true).await;
        assert_eq!((promote_own.status, promote_own.json()["field"].clone()), (StatusCode::FORBIDDEN, json!("role")));
        // An administrator role always carries the administrator's powers, shown as such.
        let half = app.as_session(Method::PATCH, &format!("/api/users/{admin_id}"), &admin, Some(&json!({"admin": false})), true).await;
        assert_eq!((half.status, half.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("admin")));
    }

    async fn the_cli_makes_the_first_admin_who_must_then_enrol_a_second_factor(backend) {
        let app = TestApp::new(backend).await;
        let made = app.db.cli_with_env(
            &["user", "create", "--username", "Ceri.Admin", "--name", "Ceri", "--agency", "corporate", "--role", "admin",
              "--agency-name-en", "Corporate", "--agency-name-cy", "Corfforaethol", "--agency-kind", "council-directorate"],
            &[("SAFETYMAP_NEW_PASSWORD", PASSWORD)],
        );
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let weak = app.db.cli_with_env(
            &["user", "create", "--username", "weak", "--name", "W", "--agency", "corporate", "--role", "panel-member"],
            &[("SAFETYMAP_NEW_PASSWORD", "password1234")],
        );
        assert!(!weak.status.success());
        assert!(String::from_utf8_lossy(&weak.stderr).contains("password-common"));
        let reply = app.sign_in_from(&json!({"username": "ceri.admin", "password": PASSWORD}), [10, 0, 0, 1]).await;
        assert_eq!(reply.json()["stage"], "enrol-mfa");
        assert_eq!(reply.json()["account"]["admin"], true);
    }

    async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client_and_elsewhere_it_is_ignored(backend) {
        let settings = safetymap::api::Settings { trusted_proxies: vec!["10.9.9.9".parse().expect("ip")], ..test_settings() };
        let app = TestApp::with_settings(TestDatabase::new(backend).await, settings).await;
        let wrong = json!({"username": "someone", "password": "not the password at all"});
        app.sign_in_with_headers(&wrong, [10, 9, 9, 9], &[("x-forwarded-for", "198.51.100.1, 203.0.113.5")]).await;
        app.sign_in_with_headers(&wrong, [10, 0, 0, 1], &[("x-forwarded-for", "203.0.113.6")]).await;
        let admin = app.enrolled_user(Role::Admin, "corporate").await;
        let log = app.get("/api/sign-ins", &app.token_for(&admin, false).await).await.json();
        let clients: Vec<&str> = log.as_array().expect("log").iter().map(|e| e["client"].as_str().unwrap_or("")).collect();
        assert_eq!(clients, ["10.0.0.1", "203.0.113.5"], "newest first; a forwarded address from an untrusted peer is ignored");
    }

    async fn a_promotion_ends_the_persons_sessions_and_their_tokens_wait_for_a_second_factor(backend) {
        let app = TestApp::new(backend).await;
        let (_, admin) = app.session_as(Role::Admin, "corporate").await;
        let (panel, session) = app.session_as(Role::PanelMember, "police").await;
        let tool = app.token_for(&panel, false).await;
        let promoted = app.as_session(Method::PATCH, &format!("/api/users/{}", panel.id), &admin, Some(&json!({"role": "coordinator"})), true).await;
        assert_eq!(promoted.json()["second_factor_required"], true, "{}", promoted.text());
        assert_eq!(app.as_session(Method::GET, ITEMS, &session, None, false).await.status, StatusCode::UNAUTHORIZED);
        let token_reply = app.get(ITEMS, &tool).await;
        assert_eq!((token_reply.status, code(&token_reply)), (StatusCode::FORBIDDEN, json!("second-factor-enrolment-required")));
        let again = app.sign_in(&panel, None).await;
        let blocked = app.as_session(Method::GET, "/api/audit", &again, None, false).await;
        assert_eq!(code(&blocked), json!("second-factor-enrolment-required"));
    }
}

on_both_stores! {
    async fn with_sessions_cached_signing_out_or_disabling_the_account_still_ends_the_session_at_once(backend) {
        let settings = safetymap::api::Settings {
            token_cache: std::time::Duration::from_secs(60),
            ..crate::common::test_settings()
        };
        let app = TestApp::with_settings(crate::common::TestDatabase::new(backend).await, settings).await;
        let (_, admin) = app.session_as(Role::Admin, "newport-council").await;
        let (officer, session) = app.session_as(Role::FieldOfficer, "newport-council").await;
        let me = app.as_session(Method::GET, "/api/me", &session, None, false).await;
        assert_eq!(me.status, StatusCode::OK);
        // Cached now; disabling through the API ends it on the next request.
        let disabled = app.as_session(Method::PATCH, &format!("/api/users/{}", officer.id), &admin, Some(&json!({"disabled": true})), true).await;
        assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
        let after = app.as_session(Method::GET, "/api/me", &session, None, false).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.text());

        let (_, other) = app.session_as(Role::PanelMember, "newport-council").await;
        assert_eq!(app.as_session(Method::GET, "/api/me", &other, None, false).await.status, StatusCode::OK);
        let out = app.as_session(Method::DELETE, "/api/session", &other, None, true).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        let gone = app.as_session(Method::GET, "/api/me", &other, None, false).await;
        assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
        assert_eq!(gone.json()["code"], "session-expired");
    }
}
