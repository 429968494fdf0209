//! SIGTERM under load: the server stops taking connections, answers every
//! request it had taken in full, and exits 0; what it acknowledged is there
//! after the restart.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use safetymap::domain::vocabulary::Role;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{observation, TestApp};

/// One POST of an observation on a fresh connection: `None` when the
/// connection was refused or closed before a byte came back (never taken),
/// else the status and whether the body arrived whole.
async fn post(port: u16, token: &str, n: usize) -> Option<(u16, bool, Option<i64>)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let body = observation(json!({"description": format!("Report {n} sent during a restart")}))
        .to_string();
    let request = format!(
        "POST /api/observations HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nIdempotency-Key: shutdown-{n}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    if answer.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&answer);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: Option<usize> = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().ok())
        })
        .flatten();
    let whole = length.is_some_and(|n| rest.len() == n);
    let id = serde_json::from_str::<serde_json::Value>(rest)
        .ok()
        .and_then(|v| v["id"].as_i64());
    Some((status, whole, id))
}

on_both_stores! {
    async fn sigterm_under_load_answers_every_request_it_took_in_full_and_exits_0(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let db = app.shut_down().await;
        let port = {
            let free = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            free.local_addr().expect("addr").port()
        };
        let mut server = db
            .command()
            .arg("serve")
            .env("SAFETYMAP_BIND", format!("127.0.0.1:{port}"))
            .env("SAFETYMAP_DEMO_ON_EMPTY", "false")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve");
        let mut out = std::io::BufReader::new(server.stdout.take().expect("stdout"));
        let mut line = String::new();
        while !line.contains("listening") {
            line.clear();
            assert!(out.read_line(&mut line).expect("read") > 0, "the server stopped");
        }
        // Eight clients posting as fast as they can, until the server goes.
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for c in 0..8 {
            let (stop, token) = (stop.clone(), officer.clone());
            clients.push(tokio::spawn(async move {
                let mut answers = Vec::new();
                let mut n = c * 100_000;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    match post(port, &token, n).await {
                        Some(answer) => answers.push(answer),
                        None => break,
                    }
                }
                answers
            }));
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        let signalled = Instant::now();
        let killed = std::process::Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill");
        assert!(killed.success());
        let status = tokio::task::spawn_blocking(move || server.wait()).await.expect("join").expect("wait");
        stop.store(true, Ordering::SeqCst);
        assert!(status.success(), "exits 0: {status}");
        assert!(signalled.elapsed() < Duration::from_secs(30), "within the bound");
        let mut answers = Vec::new();
        for client in clients {
            answers.extend(client.await.expect("client"));
        }
        assert!(answers.len() > 8, "there was load: {}", answers.len());
        let cut: Vec<_> = answers.iter().filter(|(status, whole, _)| *status != 201 || !whole).collect();
        assert!(cut.is_empty(), "every request taken was answered 201 in full: {cut:?}");

        // Everything acknowledged is there after a restart.
        let app = TestApp::on(db).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let kept = app.item_ids(&coordinator, "limit=10000").await;
        let missing: Vec<i64> = answers.iter().filter_map(|(_, _, id)| *id).filter(|id| !kept.contains(id)).collect();
        assert!(missing.is_empty(), "acknowledged and lost: {missing:?}");
    }
}
