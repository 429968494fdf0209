//! Serving HTTP: one acceptor hands connections round-robin to a fixed set
//! of workers, each a single-threaded Tokio runtime on its own thread.
//!
//! Why not one work-stealing runtime: a cached tile or a layer answer is a
//! few microseconds of work, and on a small council server the cost of a
//! request was dominated by the multi-threaded scheduler waking idle
//! threads and moving tasks between cores (perf showed ~80% of the time in
//! the kernel). A connection that stays on one thread for its whole life
//! does none of that; this is how actix-web, and so Martin, serve.
//!
//! Everything that outlives a request — the audit writer, housekeeping, the
//! database pool — was started on the main runtime and stays there.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::sync::{mpsc, watch};

/// How long a worker waits, after its last connection closes, for writes
/// it spawned to finish before its runtime is dropped.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves the router `app` makes on `listener` with `workers`
/// single-threaded workers until `shutdown` resolves, then lets open
/// connections finish. Each worker gets a router of its own from `app`, so
/// that what a request clones is not shared with another core.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: impl Fn() -> Router,
    workers: usize,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    let (stop, stopping) = watch::channel(false);
    let mut queues = Vec::new();
    let mut threads = Vec::new();
    for n in 0..workers.max(1) {
        let (queue, incoming) = mpsc::unbounded_channel();
        queues.push(queue);
        let app = app();
        let mut stopping = stopping.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting a worker runtime")?;
        let thread = std::thread::Builder::new()
            .name(format!("safetymap-http-{n}"))
            .spawn(move || {
                runtime.block_on(async move {
                    // Answers go out as soon as they are written: with
                    // Nagle's algorithm a response written in two parts
                    // waits for the client's delayed acknowledgement. (The
                    // tap also gives axum the peer address.)
                    let listener = Handed { incoming, local }.tap_io(|tcp| {
                        if let Err(e) = tcp.set_nodelay(true) {
                            tracing::debug!(error = %e, "TCP_NODELAY not set");
                        }
                    });
                    let served = axum::serve(
                        listener,
                        app.into_make_service_with_connect_info::<SocketAddr>(),
                    )
                    .with_graceful_shutdown(async move {
                        let _ = stopping.wait_for(|stop| *stop).await;
                    })
                    .await;
                    if let Err(e) = served {
                        tracing::error!(error = %e, worker = n, "worker stopped");
                    }
                    // A write runs on its own task so that it completes even
                    // when its client has gone; give such tasks time to end.
                    let metrics = tokio::runtime::Handle::current().metrics();
                    let started = std::time::Instant::now();
                    while metrics.num_alive_tasks() > 0 && started.elapsed() < DRAIN {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                });
            })
            .context("starting a worker thread")?;
        threads.push(thread);
    }

    let mut shutdown = std::pin::pin!(shutdown);
    let mut next = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                match stream.into_std() {
                    Ok(stream) => {
                        // A worker only goes away when its thread has
                        // panicked; the connection is then dropped.
                        let _ = queues[next].send((stream, peer));
                        next = (next + 1) % queues.len();
                    }
                    Err(e) => tracing::warn!(error = %e, "handing over a connection failed"),
                }
            }
            // Out of file descriptors and the like: back off rather than spin.
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    // No new connections from here; those open finish what they are
    // answering (axum's graceful shutdown closes idle keep-alive ones).
    drop(listener);
    let _ = stop.send(true);
    drop(queues);
    let joined = tokio::task::spawn_blocking(move || {
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a worker thread panicked");
            }
        }
    });
    // Bounded: a download that would run for minutes is cut rather than
    // holding a restart up.
    match tokio::time::timeout(FINISH, joined).await {
        Ok(joined) => joined?,
        Err(_) => tracing::warn!(
            seconds = FINISH.as_secs(),
            "requests still running at shutdown were cut off"
        ),
    }
    Ok(())
}

/// How long requests in flight at shutdown may take to finish.
const FINISH: Duration = Duration::from_secs(30);

/// The connections the acceptor hands one worker, as an axum listener.
struct Handed {
    incoming: mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for Handed {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Some((stream, peer)) = self.incoming.recv().await else {
                // The acceptor has stopped; graceful shutdown ends the
                // serve loop, so this never needs to return.
                return std::future::pending().await;
            };
            // Registers the socket with this worker's own reactor.
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => return (stream, peer),
                Err(e) => tracing::warn!(error = %e, "taking over a connection failed"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
