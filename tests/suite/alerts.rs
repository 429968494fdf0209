//! Area alerts and notifications: a person following a ward or a shape
//! they drew is told of new observations they may see there, and of
//! nothing else — not a record they may not see, not a generalised one
//! more precisely than its square — in the app and by email.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use safetymap::service::alerts::MailSettings;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::common::{observation, test_settings, wards, Session, TestApp, TestDatabase};

/// Imports the made-up wards; returns (west, east) ids.
async fn import_wards(app: &TestApp, coordinator: &str) -> (i64, i64) {
    let reply = app
        .request(
            Method::POST,
            "/api/areas/import",
            Some(coordinator),
            &[("content-type", "application/geo+json")],
            Some(wards().into_bytes()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let areas = app.get("/api/areas", coordinator).await.json();
    let id = |code: &str| {
        areas["areas"]
            .as_array()
            .expect("areas")
            .iter()
            .find(|a| a["code"] == code)
            .expect("ward")["id"]
            .as_i64()
            .expect("id")
    };
    (id("W05900001"), id("W05900002"))
}

/// A square polygon of half-width `r` degrees around `[lon, lat]`.
fn square_around([lon, lat]: [f64; 2], r: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lon - r, lat - r], [lon + r, lat - r], [lon + r, lat + r], [lon - r, lat + r], [lon - r, lat - r]]]})
}

async fn follow(app: &TestApp, session: &Session, body: Value) -> Value {
    let reply = app
        .as_session(
            Method::POST,
            "/api/alerts/subscriptions",
            session,
            Some(&body),
            true,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()
}

async fn inbox(app: &TestApp, session: &Session) -> Value {
    let reply = app
        .as_session(Method::GET, "/api/notifications", session, None, true)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

/// The observation ids in a person's inbox.
fn observation_ids(inbox: &Value) -> Vec<i64> {
    inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["observation"]["id"].as_i64())
        .collect()
}

/// Lets the alerts worker match everything queued so far (it also runs on
/// its own after each create; this makes the wait certain).
async fn matched(app: &TestApp) {
    app.state
        .alerts
        .match_new(app.state.clock.now())
        .await
        .expect("match");
}

on_both_stores! {
    async fn a_panel_member_following_a_ward_is_told_of_a_new_observation_there_and_not_of_one_outside_it(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let (west, _) = import_wards(&app, &coordinator).await;
        let (_, panel) = app.session_as(Role::PanelMember, "police").await;
        let made = follow(&app, &panel, json!({"area_id": west, "categories": ["unsafe-environment"]})).await;
        assert_eq!((made["name"].clone(), made["area"]["name_cy"].clone()), (json!("Made-up West"), json!("Gorllewin Dychmygol")));

        let inside = app.create(&officer, &observation(json!({"longitude": -3.0051, "latitude": 51.5851}))).await;
        let outside = app.create(&officer, &observation(json!({"longitude": -2.9951, "latitude": 51.5851}))).await;
        let other_category = app.create(&officer, &observation(json!({"longitude": -3.0061, "latitude": 51.5861, "category": "drug-weapon-litter"}))).await;
        // The worker was rung by the creates: wait for it without helping.
        let mut seen = Vec::new();
        for _ in 0..100 {
            seen = observation_ids(&inbox(&app, &panel).await);
            if !seen.is_empty() { break; }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        matched(&app).await;
        let shown = inbox(&app, &panel).await;
        assert_eq!(observation_ids(&shown), vec![inside], "only the record inside the ward, in a followed category (not {outside} or {other_category}); first seen {seen:?}");
        assert_eq!(shown["unread"], 1);
        let item = &shown["items"][0];
        assert_eq!((item["kind"].clone(), item["subscription"]["name"].clone(), item["observation"]["precision"].clone()), (json!("observation"), json!("Made-up West"), json!("exact")));
        assert_eq!(item["observation"]["position"], json!([-3.0051, 51.5851]));
        assert!(item["observation"]["grid_ref"].as_str().is_some_and(|g| g.starts_with("ST")), "{item}");
        assert!(item.get("description").is_none() && item["observation"].get("description").is_none(), "no free text: {item}");

        let read = app.as_session(Method::POST, "/api/notifications/read", &panel, Some(&json!({"all": true})), true).await;
        assert_eq!((read.status, read.json()["unread"].clone()), (StatusCode::OK, json!(0)));
        // Matching again (another instance, a retry) tells nobody twice.
        sqlx::query("INSERT INTO alert_outbox (observation_id, queued_at) VALUES ($1, '2026-01-01T00:00:00Z')").bind(inside).execute(&app.db.raw().await).await.expect("requeue");
        matched(&app).await;
        assert_eq!(inbox(&app, &panel).await["items"].as_array().map(Vec::len), Some(1));
    }

    async fn attack_a_restricted_record_never_notifies_a_follower_who_may_not_see_it(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let (west, _) = import_wards(&app, &coordinator).await;
        let (_, panel) = app.session_as(Role::PanelMember, "police").await;
        let (_, other_coordinator) = app.session_as(Role::Coordinator, "health").await;
        let (_, own_coordinator) = app.session_as(Role::Coordinator, "council").await;
        for session in [&panel, &other_coordinator, &own_coordinator] {
            follow(&app, session, json!({"area_id": west})).await;
        }
        let restricted = app.create(&officer, &observation(json!({"longitude": -3.0051, "latitude": 51.5851, "sensitivity": "restricted"}))).await;
        matched(&app).await;
        assert_eq!(observation_ids(&inbox(&app, &panel).await), Vec::<i64>::new(), "a panel member is not told a restricted record exists");
        assert_eq!(inbox(&app, &other_coordinator).await["unread"], 0, "nor is another agency's coordinator");
        assert_eq!(observation_ids(&inbox(&app, &own_coordinator).await), vec![restricted], "the recording agency's coordinator is told");
        let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM notifications").fetch_one(&app.db.raw().await).await.expect("count");
        assert_eq!(rows.0, 1, "nothing is even stored for those who may not see it");
    }

    async fn attack_a_shape_drawn_inside_a_generalised_records_square_cannot_place_it_more_precisely(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let (_, panel) = app.session_as(Role::PanelMember, "police").await;
        let (_, panel_too) = app.session_as(Role::PanelMember, "police").await;
        let (_, coordinator) = app.session_as(Role::Coordinator, "council").await;
        let exact = [-3.00437, 51.58563];
        let (cx, cy) = safetymap::bng::square_centre(exact[0], exact[1], 100.0).expect("square");
        let centre = [(cx * 1e6).round() / 1e6, (cy * 1e6).round() / 1e6];
        let r = 0.00004; // about 3-4 m
        assert!((exact[0] - centre[0]).abs() > 2.0 * r || (exact[1] - centre[1]).abs() > 2.0 * r, "the test needs the record away from its square's centre");
        // One colleague draws a tiny shape on the recorded spot, the other on
        // the square's centre; the coordinator (who sees it exactly) on the spot.
        follow(&app, &panel, json!({"name": "Round the back", "geometry": square_around(exact, r)})).await;
        follow(&app, &panel_too, json!({"name": "Middle of the square", "geometry": square_around(centre, r)})).await;
        follow(&app, &coordinator, json!({"name": "Round the back", "geometry": square_around(exact, r)})).await;
        let id = app.create(&officer, &observation(json!({"longitude": exact[0], "latitude": exact[1], "sensitivity": "sensitive", "description": "Behind the garages"}))).await;
        matched(&app).await;
        assert_eq!(inbox(&app, &panel).await["unread"], 0, "a shape round the recorded spot learns nothing: the record is shown at its square's centre");
        let shown = inbox(&app, &panel_too).await;
        assert_eq!(observation_ids(&shown), vec![id]);
        let o = &shown["items"][0]["observation"];
        assert_eq!((o["precision"].clone(), o["position"].clone()), (json!("bng-100m"), json!(centre)), "told only as its square");
        assert!(!shown.to_string().contains("garages"), "no free text: {shown}");
        let exact_view = inbox(&app, &coordinator).await;
        assert_eq!(exact_view["items"][0]["observation"]["position"], json!(exact), "the coordinator sees it as recorded");
    }

    async fn attack_a_tiny_shape_that_matched_a_record_before_it_was_made_sensitive_no_longer_places_it(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let (_, panel) = app.session_as(Role::PanelMember, "police").await;
        let spot = [-3.00437, 51.58563];
        follow(&app, &panel, json!({"name": "That doorway", "geometry": square_around(spot, 0.00004)})).await;
        let id = app.create(&officer, &observation(json!({"longitude": spot[0], "latitude": spot[1]}))).await;
        matched(&app).await;
        assert_eq!(observation_ids(&inbox(&app, &panel).await), vec![id], "a standard record matches where it is");
        let edit = app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &officer, &json!({"sensitivity": "sensitive"})).await;
        assert_eq!(edit.status, StatusCode::OK, "{}", edit.text());
        let after = inbox(&app, &panel).await;
        assert_eq!((observation_ids(&after), after["unread"].clone()), (Vec::<i64>::new(), json!(0)),
            "shown now at its square's centre, outside the shape: the notification no longer says the shape held it: {after}");
        assert!(!after.to_string().contains("That doorway"), "{after}");
    }

    async fn a_withdrawn_or_erased_record_leaves_the_inbox_and_the_unread_count(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let (west, _) = import_wards(&app, &coordinator).await;
        let (_, panel) = app.session_as(Role::PanelMember, "police").await;
        follow(&app, &panel, json!({"area_id": west})).await;
        let withdrawn = app.create(&officer, &observation(json!({"longitude": -3.0051, "latitude": 51.5851}))).await;
        let erased = app.create(&officer, &observation(json!({"longitude": -3.0052, "latitude": 51.5852}))).await;
        matched(&app).await;
        assert_eq!(inbox(&app, &panel).await["unread"], 2);
        let w = app.send_json(Method::POST, &format!("/api/observations/{withdrawn}/withdraw"), &officer, &json!({"reason": "logged twice"})).await;
        assert_eq!(w.status, StatusCode::OK, "{}", w.text());
        let shown = inbox(&app, &panel).await;
        assert_eq!((observation_ids(&shown), shown["unread"].clone()), (vec![erased], json!(1)), "the withdrawn record is gone from the notifications at once");
        let e = app.send_json(Method::POST, &format!("/api/observations/{erased}/erase"), &coordinator, &json!({"reason": "entered in error"})).await;
        assert_eq!(e.status, StatusCode::NO_CONTENT, "{}", e.text());
        assert_eq!(inbox(&app, &panel).await["unread"], 0);
        let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM notifications WHERE subject = $1").bind(erased.to_string()).fetch_one(&app.db.raw().await).await.expect("count");
        assert_eq!(rows.0, 0, "erasure takes its notifications too");
    }

    async fn bad_subscriptions_are_refused_with_the_field_at_fault_and_change_nothing(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let (west, _) = import_wards(&app, &coordinator).await;
        let (_, panel) = app.session_as(Role::PanelMember, "police").await;
        let (_, officer) = app.session_as(Role::FieldOfficer, "council").await;
        let refused = |reply: crate::common::Reply| (reply.status, reply.json()["code"].clone(), reply.json()["errors"][0]["field"].clone(), reply.json()["errors"][0]["code"].clone());
        let post = |session: Session, body: Value| { let app = &app; async move { app.as_session(Method::POST, "/api/alerts/subscriptions", &session, Some(&body), true).await } };
        let both = post(panel.clone(), json!({"area_id": west, "geometry": square_around([-3.0, 51.58], 0.001), "name": "x"})).await;
        assert_eq!(refused(both), (StatusCode::UNPROCESSABLE_ENTITY, json!("area-or-geometry"), json!("area_id"), json!("area-or-geometry")));
        let unknown = post(panel.clone(), json!({"area_id": west, "categories": ["gossip"]})).await;
        assert_eq!(refused(unknown).3, json!("unknown-category"));
        let unnamed = post(panel.clone(), json!({"geometry": square_around([-3.0, 51.58], 0.001)})).await;
        assert_eq!(refused(unnamed).2, json!("name"));
        let abroad = post(panel.clone(), json!({"name": "Paris", "geometry": square_around([2.35, 48.85], 0.01)})).await;
        assert_eq!(refused(abroad).3, json!("outside-service-area"));
        let no_relay = post(panel.clone(), json!({"area_id": west, "email": true})).await;
        assert_eq!(refused(no_relay).3, json!("email-unavailable"));
        let own_only = post(officer.clone(), json!({"area_id": west})).await;
        assert_eq!((own_only.status, own_only.json()["code"].clone()), (StatusCode::FORBIDDEN, json!("nothing-to-alert")));
        let tool = app.token(Role::PanelMember, "police").await;
        let by_token = app.send_json(Method::POST, "/api/alerts/subscriptions", &tool, &json!({"area_id": west})).await;
        assert_eq!((by_token.status, by_token.json()["code"].clone()), (StatusCode::FORBIDDEN, json!("people-only")));
        let bad_email = app.as_session(Method::PUT, "/api/alerts/email", &panel, Some(&json!({"email": "not an address"})), true).await;
        assert_eq!(refused(bad_email).3, json!("invalid-email"));
        let settings = app.as_session(Method::GET, "/api/alerts", &panel, None, true).await.json();
        assert_eq!((settings["subscriptions"].clone(), settings["email"].clone(), settings["email_available"].clone()), (json!([]), Value::Null, json!(false)), "nothing was written");
    }

    async fn nobody_reads_stops_or_marks_anothers_subscriptions_or_notifications(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let (west, _) = import_wards(&app, &coordinator).await;
        let (_, panel) = app.session_as(Role::PanelMember, "police").await;
        let (_, colleague) = app.session_as(Role::PanelMember, "police").await;
        let theirs = follow(&app, &panel, json!({"area_id": west})).await;
        app.create(&officer, &observation(json!({"longitude": -3.0051, "latitude": 51.5851}))).await;
        matched(&app).await;
        let their_note = inbox(&app, &panel).await["items"][0]["id"].as_i64().expect("id");
        let stop = app.as_session(Method::DELETE, &format!("/api/alerts/subscriptions/{}", theirs["id"]), &colleague, None, true).await;
        assert_eq!(stop.status, StatusCode::NOT_FOUND);
        app.as_session(Method::POST, "/api/notifications/read", &colleague, Some(&json!({"ids": [their_note]})), true).await;
        assert_eq!(inbox(&app, &panel).await["unread"], 1, "still unread for its owner");
        assert_eq!(inbox(&app, &colleague).await["items"], json!([]));
        let mine = app.as_session(Method::DELETE, &format!("/api/alerts/subscriptions/{}", theirs["id"]), &panel, None, true).await;
        assert_eq!(mine.status, StatusCode::NO_CONTENT);
        let settings = app.as_session(Method::GET, "/api/alerts", &panel, None, true).await.json();
        assert_eq!(settings["subscriptions"], json!([]));
    }

    async fn actions_due_reach_the_owning_agency_and_reviews_due_reach_its_coordinator(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let (west, _) = import_wards(&app, &coordinator).await;
        // Reviewed six months after it was recorded; seven months on, it is due.
        app.create(&coordinator, &observation(json!({"category": "drug-weapon-litter"}))).await;
        app.state.clock.advance(chrono::Duration::days(7 * 31));
        let (_, police) = app.session_as(Role::PanelMember, "police").await;
        let (_, council) = app.session_as(Role::PanelMember, "council").await;
        let (_, council_coordinator) = app.session_as(Role::Coordinator, "council").await;
        let from = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let to = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let exercise = app.post_keyed(&coordinator, "/api/exercises", "ex", &json!({"kind": "mapping-exercise", "title": "Made-up West", "area_id": west, "from": from, "to": to, "agencies": ["council", "police"], "review_on": "2028-03-01"})).await;
        assert_eq!(exercise.status, StatusCode::CREATED, "{}", exercise.text());
        let exercise = exercise.json()["id"].as_i64().expect("exercise");
        let due = (app.state.clock.now().date_naive() + chrono::Duration::days(3)).to_string();
        let action = app.post_keyed(&coordinator, &format!("/api/exercises/{exercise}/actions"), "a", &json!({"what": "Extra patrols on Friday evenings", "owner_agency": "police", "due_on": due})).await;
        assert_eq!(action.status, StatusCode::CREATED, "{}", action.text());
        // The worker also runs this on its own; either way each is told once.
        app.state.alerts.notify_due(app.state.clock.now()).await.expect("due");
        // Once an hour it runs again: nobody is told twice.
        assert_eq!(app.state.alerts.notify_due(app.state.clock.now()).await.expect("again"), 0);
        let police_items = inbox(&app, &police).await;
        let kinds = |v: &Value| v["items"].as_array().expect("items").iter().map(|i| i["kind"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>();
        assert_eq!(kinds(&police_items), vec!["action-due"]);
        assert_eq!(police_items["items"][0]["action"]["what"], "Extra patrols on Friday evenings");
        assert_eq!(kinds(&inbox(&app, &council).await), Vec::<String>::new(), "the action is police's, and panel members review nothing");
        let review = inbox(&app, &council_coordinator).await;
        assert_eq!(kinds(&review), vec!["review-due"]);
        assert_eq!(review["items"][0]["review"]["due"], 1);
    }
}

/// A local SMTP sink: accepts every message and keeps its text.
struct Sink {
    port: u16,
    messages: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    async fn start() -> Sink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let kept = messages.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(body) = data.as_mut() {
                            if line == "." {
                                kept.lock().expect("lock").push(std::mem::take(body));
                                data = None;
                                let _ = write.write_all(b"250 kept\r\n").await;
                            } else {
                                body.push_str(&line);
                                body.push('\n');
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                        let answer: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250 sink\r\n",
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go on\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 ok\r\n",
                        };
                        let _ = write.write_all(answer).await;
                    }
                });
            }
        });
        Sink { port, messages }
    }

    async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..100 {
            let got = self.messages.lock().expect("lock").clone();
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.messages.lock().expect("lock").clone()
    }
}

on_both_stores! {
    async fn alert_emails_say_how_many_and_where_to_sign_in_and_nothing_of_the_record(backend) {
        let sink = Sink::start().await;
        let settings = safetymap::api::Settings {
            public_url: Some("https://safetymap.example.test".into()),
            mail: Some(MailSettings { relay: format!("smtp://127.0.0.1:{}", sink.port), from: "safetymap <alerts@example.test>".into() }),
            ..test_settings()
        };
        let app = TestApp::with_settings(TestDatabase::new(backend).await, settings).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let (west, _) = import_wards(&app, &coordinator).await;
        let (_, panel) = app.session_as(Role::PanelMember, "police").await;
        let needs_address = app.as_session(Method::POST, "/api/alerts/subscriptions", &panel, Some(&json!({"area_id": west, "email": true})), true).await;
        assert_eq!(needs_address.json()["errors"][0]["code"], "no-email-address");
        let set = app.as_session(Method::PUT, "/api/alerts/email", &panel, Some(&json!({"email": "panel.member@police.example.test"})), true).await;
        assert_eq!((set.status, set.json()["email"].clone(), set.json()["email_available"].clone()), (StatusCode::OK, json!("panel.member@police.example.test"), json!(true)));
        follow(&app, &panel, json!({"area_id": west, "email": true})).await;

        // A restricted record first: no email may go for it.
        app.create(&officer, &observation(json!({"longitude": -3.0041, "latitude": 51.5841, "sensitivity": "restricted", "description": "Cars parked by the garages at night"}))).await;
        app.create(&officer, &observation(json!({"longitude": -3.0051, "latitude": 51.5851, "description": "Path unlit after dusk by the bandstand"}))).await;
        matched(&app).await;
        app.state.alerts.send_emails().await.expect("send");
        let mail = sink.wait_for(1).await;
        assert_eq!(mail.len(), 1, "one email, for the record the member may see");
        let text = &mail[0];
        assert!(text.contains("panel.member@police.example.test"), "{text}");
        assert!(text.contains("There is a new observation in Made-up West."), "{text}");
        assert!(text.contains("https://safetymap.example.test/#alerts"), "{text}");
        assert!(text.contains("Mae arsylwad newydd yn Made-up West."), "{text}");
        for secret in ["bandstand", "garages", "unsafe-environment", "Unsafe", "-3.005", "51.585", "ST3"] {
            assert!(!text.contains(secret), "the email must not carry `{secret}`: {text}");
        }
        // Sent once: another run sends nothing more.
        assert_eq!(app.state.alerts.send_emails().await.expect("again"), 0);
        assert_eq!(sink.wait_for(2).await.len(), 1);
    }
}
