//! `tonewatch serve`: calls straight from the phone system over
//! WebSocket — Genesys AudioHook ([`audiohook`]) and Twilio-style media
//! streams ([`twilio`]) — each analysed on a fixed pool of worker threads
//! ([`pool`]) through the same core path as replay and live.
//!
//! ```text
//!  tokio (I/O threads)                         analysis workers (N threads)
//!  ───────────────────                         ────────────────────────────
//!  HTTP/1.1 (hyper): /healthz /readyz /metrics
//!  upgrade → WebSocket (tungstenite framing)
//!    Session (protocol state machine)
//!      Step::Open / Audio / End ── bounded ──►  ServedCall: Lockstep → Monitor
//!                                  queue        records → Outputs (stdout thread,
//!                                               feed hub, NATS: never block)
//! ```
//!
//! Every instance is stateless between calls: behind any WebSocket-capable
//! load balancer, instances share nothing but NATS, where every record
//! goes and `tonewatch supervise` reads the floor.

pub mod audiohook;
pub mod metrics;
pub mod pool;
pub mod protocol;
pub mod signature;
pub mod twilio;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use self::metrics::ServeMetrics;
use self::pool::{CallHandle, Ending, Pool};
use self::protocol::{Session, Step};
use self::signature::Credentials;

/// Longest request head taken.
const MAX_HEAD: usize = 16 * 1024;
/// A request's head must arrive within this.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Each connection's WebSocket read buffer, bytes: a few messages (20 ms of
/// stereo PCMU is 320 bytes, a media-stream JSON message ~400); a longer
/// one grows it. tungstenite zeroes the free part before every read, twice
/// a message on a trickle of messages (the read that finds nothing too):
/// at 8 KiB that memset was 2 % of the server's CPU under load.
const READ_BUFFER: usize = 2 * 1024;
/// A refused signature is answered after this long (no timing hints).
const FAILURE_DELAY: Duration = Duration::from_millis(200);

/// How `serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The path AudioHook connects to, with the keys it may use; `None`:
    /// no AudioHook.
    pub audiohook: Option<(String, Arc<Credentials>)>,
    /// The path media streams connect to (a secret path is their
    /// credential); `None`: no media streams.
    pub twilio_path: Option<String>,
    /// The token media streams must carry as their `token` parameter.
    pub stream_token: Option<String>,
    /// The site calls belong to (a call's own parameters may name another).
    pub site: String,
    /// Publish the agent's own voice too.
    pub share_agent_voice: bool,
    /// Calls at once; more are refused (503).
    pub max_calls: usize,
    /// Largest WebSocket message, bytes.
    pub max_frame: usize,
    /// A call with no message for this long is ended.
    pub idle_timeout: Duration,
    /// Tokio threads for the network side.
    pub io_threads: usize,
}

struct Ctx {
    options: ServeOptions,
    pool: Pool,
    metrics: Arc<ServeMetrics>,
    /// Connections upgraded and not yet ended.
    sessions: AtomicUsize,
    draining: AtomicBool,
    drain: tokio::sync::watch::Sender<bool>,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
    ctx: Arc<Ctx>,
    outputs: Arc<pool::Outputs>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    heartbeat: crate::service::Heartbeat,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `options.listen` and starts serving, with `workers` analysis
    /// threads sending records to `outputs`.
    ///
    /// # Errors
    /// The address cannot be bound, or a thread cannot be started.
    pub fn start(
        options: ServeOptions,
        settings: tonewatch_core::settings::Settings,
        workers: usize,
        outputs: pool::Outputs,
        metrics: Arc<ServeMetrics>,
    ) -> std::io::Result<Self> {
        let outputs = Arc::new(outputs);
        let pool = Pool::start(
            workers,
            settings,
            Arc::clone(&outputs),
            Arc::clone(&metrics),
        )?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.io_threads.max(1))
            .thread_name("tonewatch-serve")
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind(options.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (drain, _) = tokio::sync::watch::channel(false);
        let ctx = Arc::new(Ctx {
            options,
            pool,
            metrics,
            sessions: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            drain,
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let accept_ctx = Arc::clone(&ctx);
        runtime.spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!("serve: {e}");
                    return;
                }
            };
            tokio::select! {
                () = accept_loop(listener, accept_ctx) => {}
                _ = stopped => {}
            }
        });
        let heartbeat = crate::service::Heartbeat::new();
        runtime.spawn(heartbeat.clone().run());
        tracing::info!("serving calls on {addr}");
        Ok(Self {
            addr,
            runtime: Some(runtime),
            ctx,
            outputs,
            stop: Some(stop),
            heartbeat,
        })
    }

    /// The address served (with the port chosen when 0 was asked).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the connection runtime ran a task within `within` (what
    /// feeds systemd's watchdog).
    #[must_use]
    pub fn responsive(&self, within: Duration) -> bool {
        self.heartbeat.fresh(within)
    }

    /// New settings (SIGHUP): see [`Pool::reload`].
    pub fn reload(&self, settings: tonewatch_core::settings::Settings) {
        self.ctx.pool.reload(settings);
        self.ctx.metrics.reloads.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a reload refused (a bad file: the running settings stay).
    pub fn reload_failed(&self) {
        self.ctx
            .metrics
            .reload_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Calls being served now.
    #[must_use]
    pub fn sessions(&self) -> usize {
        self.ctx.sessions.load(Ordering::Relaxed)
    }

    /// Stops taking calls, ends every open call (alerts cleared, summary
    /// flushed to every output, the platform told) and waits up to
    /// `grace` for their connections to finish; then stops the workers
    /// and the outputs.
    pub fn drain(mut self, grace: Duration) {
        self.ctx.draining.store(true, Ordering::Relaxed);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.ctx.drain.send(true);
        let deadline = std::time::Instant::now() + grace;
        while self.sessions() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
        let ctx = match Arc::try_unwrap(self.ctx) {
            Ok(ctx) => ctx,
            Err(_) => {
                tracing::warn!("serve: connections outlived the drain");
                return;
            }
        };
        ctx.pool.join();
        if let Ok(mut outputs) = Arc::try_unwrap(self.outputs) {
            outputs.close();
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, ctx: Arc<Ctx>) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("serve: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ctx = Arc::clone(&ctx);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let ctx = Arc::clone(&ctx);
                async move { Ok::<_, Infallible>(handle(req, ctx).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD.max(8192))
                .max_header_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

type Body = Full<Bytes>;

fn answer(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn header_text(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Which protocol a path speaks.
#[derive(Clone, Copy)]
enum Protocol {
    AudioHook,
    Twilio,
}

async fn handle(mut req: Request<Incoming>, ctx: Arc<Ctx>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_string());
    match path.as_str() {
        "/healthz" => return answer(StatusCode::OK, "ok"),
        "/readyz" => {
            let full = ctx.sessions.load(Ordering::Relaxed) >= ctx.options.max_calls;
            return if ctx.draining.load(Ordering::Relaxed) {
                answer(StatusCode::SERVICE_UNAVAILABLE, "draining")
            } else if full {
                answer(StatusCode::SERVICE_UNAVAILABLE, "at the call limit")
            } else {
                answer(StatusCode::OK, "ready")
            };
        }
        "/metrics" => {
            let mut r = answer(StatusCode::OK, "");
            *r.body_mut() = Full::new(Bytes::from(ctx.metrics.render()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            return r;
        }
        _ => {}
    }
    let protocol = match &ctx.options {
        o if o.audiohook.as_ref().is_some_and(|(p, _)| *p == path) => Protocol::AudioHook,
        o if o.twilio_path.as_ref().is_some_and(|p| *p == path) => Protocol::Twilio,
        _ => {
            ctx.metrics.rejected("not_found");
            return answer(StatusCode::NOT_FOUND, "no such endpoint");
        }
    };
    let upgrade = header_text(&req, "upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let key = header_text(&req, "sec-websocket-key");
    let (true, Some(key)) = (upgrade, key) else {
        ctx.metrics.rejected("not_websocket");
        let mut r = answer(
            StatusCode::UPGRADE_REQUIRED,
            "this endpoint takes a WebSocket (Upgrade: websocket)",
        );
        r.headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return r;
    };
    if header_text(&req, "sec-websocket-version").as_deref() != Some("13") {
        ctx.metrics.rejected("not_websocket");
        return answer(StatusCode::BAD_REQUEST, "Sec-WebSocket-Version must be 13");
    }
    if let (Protocol::AudioHook, Some((_, creds))) = (protocol, &ctx.options.audiohook) {
        if let Err(e) = creds.verify(req.headers(), &target, now_s()) {
            ctx.metrics.rejected(e.label());
            tracing::warn!("serve: AudioHook connection refused: {e}");
            tokio::time::sleep(FAILURE_DELAY).await;
            return answer(StatusCode::UNAUTHORIZED, &e.to_string());
        }
    }
    if ctx.draining.load(Ordering::Relaxed) {
        ctx.metrics.rejected("draining");
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining: try another instance",
        );
    }
    // Counted now, so calls at once never exceed the limit.
    let taken = ctx.sessions.fetch_add(1, Ordering::AcqRel);
    if taken >= ctx.options.max_calls {
        ctx.sessions.fetch_sub(1, Ordering::AcqRel);
        ctx.metrics.rejected("too_many_calls");
        return answer(StatusCode::SERVICE_UNAVAILABLE, "at the call limit");
    }
    let session: Box<dyn Session> = match protocol {
        Protocol::AudioHook => Box::new(audiohook::AudioHookSession::new(
            &ctx.options.site,
            ctx.options.share_agent_voice,
            header_text(&req, "audiohook-session-id"),
            header_text(&req, "audiohook-organization-id"),
            ctx.options.max_frame,
        )),
        Protocol::Twilio => Box::new(twilio::TwilioSession::new(
            &ctx.options.site,
            ctx.options.share_agent_voice,
            ctx.options.max_frame,
            ctx.options.stream_token.clone(),
        )),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let task_ctx = Arc::clone(&ctx);
    tokio::spawn(async move {
        let guard = SessionGuard(Arc::clone(&task_ctx));
        match on_upgrade.await {
            Ok(upgraded) => {
                // Small buffers: thousands of calls, each a trickle of
                // 20-ms messages (the 128 KiB defaults cost 256 KiB a call).
                let config = WebSocketConfig::default()
                    .read_buffer_size(READ_BUFFER)
                    .write_buffer_size(0)
                    .max_message_size(Some(task_ctx.options.max_frame.max(64 * 1024)))
                    .max_frame_size(Some(task_ctx.options.max_frame.max(64 * 1024)));
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                drive(ws, session, protocol, &task_ctx).await;
            }
            Err(e) => tracing::warn!("serve: upgrade failed: {e}"),
        }
        drop(guard);
    });
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(
        &tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()),
    ) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    r
}

/// Gives back a session's place under the call limit.
struct SessionGuard(Arc<Ctx>);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What ended a connection's reading.
enum Stop {
    Idle,
    Gone,
    TooLarge,
    Shutdown,
}

/// Runs one connection: messages to its session, its steps to the pool
/// and back to the platform, until the session or the connection ends.
async fn drive<S>(
    ws: WebSocketStream<S>,
    mut session: Box<dyn Session>,
    protocol: Protocol,
    ctx: &Arc<Ctx>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let mut drain = ctx.drain.subscribe();
    let mut call: Option<CallHandle> = None;
    let mut steps = Vec::new();
    let metrics = &ctx.metrics;
    loop {
        let stop = tokio::select! {
            biased;
            _ = drain.wait_for(|d| *d) => Some(Stop::Shutdown),
            m = tokio::time::timeout(ctx.options.idle_timeout, stream.next()) => match m {
                Err(_) => Some(Stop::Idle),
                Ok(None) | Ok(Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed))) => {
                    Some(Stop::Gone)
                }
                Ok(Some(Err(WsError::Capacity(_)))) => Some(Stop::TooLarge),
                Ok(Some(Err(_))) => Some(Stop::Gone),
                Ok(Some(Ok(Message::Text(t)))) => {
                    session.text(t.as_str(), &mut steps);
                    None
                }
                Ok(Some(Ok(Message::Binary(b)))) => {
                    metrics.audio_bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                    session.binary(&b, &mut steps);
                    None
                }
                Ok(Some(Ok(Message::Close(_)))) => Some(Stop::Gone),
                Ok(Some(Ok(_))) => None,
            },
        };
        if let Some(stop) = stop {
            let (reason, code, detail) = match stop {
                Stop::Idle => (
                    "idle",
                    CloseCode::Policy,
                    "no message within the idle timeout",
                ),
                Stop::Gone => ("vanished", CloseCode::Away, "the connection ended mid-call"),
                Stop::TooLarge => (
                    "too_large",
                    CloseCode::Size,
                    "a message over the size limit",
                ),
                Stop::Shutdown => ("shutdown", CloseCode::Away, "the server is shutting down"),
            };
            if let Some(c) = call.take() {
                close_call(c, reason, vec![detail.to_string()]).await;
            }
            if let (Stop::Shutdown, Some(bye)) = (&stop, session.goodbye()) {
                let _ = sink.send(Message::text(bye)).await;
            }
            let _ = sink
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: detail.into(),
                })))
                .await;
            return;
        }
        for step in steps.drain(..) {
            match step {
                Step::Reply(text) => {
                    let _ = sink.send(Message::text(text)).await;
                }
                Step::Open(spec) => {
                    tracing::info!(
                        call_id = spec.origin.call_id.as_deref().unwrap_or(""),
                        agent = %spec.origin.agent,
                        "call opened"
                    );
                    let i = match protocol {
                        Protocol::AudioHook => 0,
                        Protocol::Twilio => 1,
                    };
                    metrics.calls_total[i].fetch_add(1, Ordering::Relaxed);
                    call = Some(ctx.pool.open(spec).await);
                }
                Step::Audio(samples) => {
                    if let Some(c) = &call {
                        c.audio(samples).await;
                    }
                }
                Step::Resync => {
                    if let Some(c) = &call {
                        c.resync().await;
                    }
                }
                Step::Repaired { gap, late } => {
                    metrics.gap_samples.fetch_add(gap, Ordering::Relaxed);
                    metrics.late_samples.fetch_add(late, Ordering::Relaxed);
                }
                Step::End {
                    reason,
                    reply,
                    detail,
                    warnings,
                } => {
                    match call.take() {
                        Some(c) => close_call(c, reason, warnings).await,
                        // Refused at its start message (a media stream's token).
                        None if reason == "unauthorized" => metrics.rejected(reason),
                        None => {}
                    }
                    if let Some(reply) = reply {
                        let _ = sink.send(Message::text(reply)).await;
                    }
                    let code = match reason {
                        "closed" | "stopped" => CloseCode::Normal,
                        "too_large" => CloseCode::Size,
                        _ => CloseCode::Policy,
                    };
                    if code != CloseCode::Normal {
                        tracing::warn!("serve: session ended: {detail}");
                    }
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code,
                            reason: truncate(&detail, 120).into(),
                        })))
                        .await;
                    // The client's close answer, briefly.
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while let Some(Ok(m)) = stream.next().await {
                            if m.is_close() {
                                break;
                            }
                        }
                    })
                    .await;
                    return;
                }
            }
        }
        if session.ended() {
            return;
        }
    }
}

async fn close_call(call: CallHandle, reason: &'static str, warnings: Vec<String>) {
    call.close(Ending { reason, warnings }).await;
}

/// At most `n` bytes of `s`, cut at a character boundary (a close
/// frame's reason is at most 123 bytes).
fn truncate(s: &str, n: usize) -> String {
    let mut end = n.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
