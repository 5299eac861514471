//! A small HTTP service instrumented with `tracing`, exporting its spans
//! through [`OtlpLayer`] to the OTLP endpoint of the standard environment
//! (`http://localhost:4318` when none is set).
//!
//! ```text
//! target/release/otlp-lab receive --http 127.0.0.1:4318 --expect-spans 6 &
//! cargo run --release -p otlp-pipeline --example service -- --listen 127.0.0.1:8080 --requests 3
//! curl http://127.0.0.1:8080/users/7
//! curl -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' http://127.0.0.1:8080/users/8
//! curl http://127.0.0.1:8080/users/0
//! ```
//!
//! `GET /users/{id}` looks the user up in a fake database: users 1 to 1000
//! exist (200), any other id is a 404 with an error event. Each request is
//! one server span (`otel.kind = "server"`, method, path, route, response
//! status), a child of the caller's span when the request has a valid W3C
//! `traceparent` (a malformed one starts a new trace and says so in a warning
//! event); the database call is a client span under it. Events inside a
//! span become its span events; the few outside any span (a failed accept or
//! connection) become log records.
//!
//! The first line on stdout is `listening on http://ADDR`. The service stops
//! after `--requests N` requests or on Ctrl-C, lets the connections in
//! flight finish, shuts the exporter down and prints what it delivered and
//! dropped. Exit status: 0 when everything was delivered, 1 when anything was
//! dropped, 2 on a bad argument or a setup error.

use std::convert::Infallible;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use otlp_pipeline::layer::OtlpLayer;
use otlp_pipeline::{DropReason, Exporter, KeyValue, Resource};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt;

const USAGE: &str = "\
A small HTTP service instrumented with `tracing`, exporting its spans over OTLP.

Usage: service [--listen ADDR] [--requests N]

Options:
  --listen ADDR   Address to serve on [env: SERVICE_LISTEN; default: 127.0.0.1:0, a free port]
  --requests N    Stop after N requests (default: serve until Ctrl-C)
  -h, --help      Print this help

Routes: GET /users/{id}: 200 for ids 1 to 1000, 404 with an error event otherwise.
Export: the OTEL_EXPORTER_OTLP_* variables (endpoint default http://localhost:4318).
Prints `listening on http://ADDR` first and what was delivered at the end;
exits 1 if anything was dropped, 2 on a bad argument or a setup error.";

/// Users 1 to this many exist in the fake database.
const USER_COUNT: u64 = 1000;
/// The fake database's answer time: gives the client span a visible length.
const DB_LATENCY: Duration = Duration::from_millis(1);
/// How long a client has to send a request's headers once connected, so
/// that a silent connection cannot hold the service open.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the connections in flight get to finish once the service stops;
/// the rest are closed.
const DRAIN: Duration = Duration::from_secs(5);
/// How long the exporter gets to deliver what is queued at shutdown; what
/// it cannot deliver by then is counted as dropped.
const EXPORT_DEADLINE: Duration = Duration::from_secs(5);
/// The pause after a failed accept (out of file descriptors, say), so the
/// loop does not spin on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args_os().skip(1), std::env::var_os("SERVICE_LISTEN")) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("service: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("service: {e}");
            ExitCode::from(2)
        }
    }
}

/// The command line.
#[derive(Debug)]
struct Args {
    listen: SocketAddr,
    /// Stop after this many requests; `None`: at Ctrl-C.
    requests: Option<u64>,
}

/// A command line the service cannot take.
#[derive(Debug, thiserror::Error)]
enum ArgError {
    #[error("unknown argument {0:?}")]
    Unknown(OsString),
    #[error("{0} needs a value")]
    Missing(&'static str),
    #[error("{flag}: {value:?} is not {expected}")]
    Invalid { flag: &'static str, value: OsString, expected: &'static str },
}

impl Args {
    /// The arguments (without the program name), `--listen` defaulting to
    /// `listen_env`; `None` when help was asked for.
    fn parse(args: impl IntoIterator<Item = OsString>, listen_env: Option<OsString>) -> Result<Option<Args>, ArgError> {
        let mut listen = listen_env.map(|v| ("SERVICE_LISTEN", v));
        let mut requests = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            // `--flag value` or `--flag=value`.
            let (flag, inline) = match arg.to_str() {
                Some(s) => match s.split_once('=') {
                    Some((f, v)) => (f.to_owned(), Some(OsString::from(v))),
                    None => (s.to_owned(), None),
                },
                None => return Err(ArgError::Unknown(arg)),
            };
            let mut value = |name: &'static str| inline.clone().or_else(|| args.next()).ok_or(ArgError::Missing(name));
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--listen" => listen = Some(("--listen", value("--listen")?)),
                "--requests" => requests = Some(value("--requests")?),
                _ => return Err(ArgError::Unknown(arg)),
            }
        }
        let listen = match listen {
            None => SocketAddr::from(([127, 0, 0, 1], 0)),
            Some((flag, v)) => v.to_str().and_then(|s| s.parse().ok()).ok_or(ArgError::Invalid {
                flag,
                value: v,
                expected: "an IP address and port (127.0.0.1:8080)",
            })?,
        };
        let requests = match requests {
            None => None,
            Some(v) => {
                Some(v.to_str().and_then(|s| s.parse().ok()).filter(|&n: &u64| n > 0).ok_or(ArgError::Invalid {
                    flag: "--requests",
                    value: v,
                    expected: "a whole number of at least 1",
                })?)
            }
        };
        Ok(Some(Args { listen, requests }))
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error(transparent)]
    Exporter(#[from] otlp_pipeline::ExporterError),
    #[error("cannot install the tracing subscriber: {0}")]
    Subscriber(#[from] tracing::subscriber::SetGlobalDefaultError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// Serves until the request limit or Ctrl-C, then shuts the exporter down;
/// true when it delivered everything.
async fn run(args: Args) -> Result<bool, SetupError> {
    // The lines an app adds: an exporter from the standard environment, and
    // the layer that hands it the spans of every `tracing` span.
    let exporter =
        Exporter::builder().resource(Resource::new([KeyValue::new("service.name", "users")])).from_env()?.build()?;
    // The layer leaves out the exporter's own crates (hyper, h2, tonic...):
    // their events about the exporter's connections are not exported back.
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(exporter.handle()));
    tracing::subscriber::set_global_default(subscriber)?;

    let listener =
        TcpListener::bind(args.listen).await.map_err(|source| SetupError::Listen { addr: args.listen, source })?;
    let local = listener.local_addr().map_err(|source| SetupError::Listen { addr: args.listen, source })?;
    // Stdout is line-buffered: a script reading this line sees it now.
    println!("listening on http://{local}");

    let served = Arc::new(Served { count: AtomicU64::new(0), limit: args.requests, reached: Notify::new() });
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("service: cannot wait for Ctrl-C ({e}); stop it with --requests or a signal");
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(ctrl_c);
    let why = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, served.clone(), stopped.clone()));
                }
                Err(e) => {
                    eprintln!("service: accept failed: {e}");
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = served.reached.notified() => break "request limit reached",
            () = &mut ctrl_c => break "interrupted",
            // Reaps finished connections, so that the set holds only live ones.
            Some(_) = connections.join_next() => {}
        }
    };
    drop(listener);

    // Connections finish the request in flight and close; idle ones close now.
    let _no_receivers_left = stop.send(true);
    let drained = tokio::time::timeout(DRAIN, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        eprintln!("service: {} connections still open after {DRAIN:?}: closed", connections.len());
        connections.shutdown().await;
    }

    let stats = match exporter.shutdown(EXPORT_DEADLINE).await {
        Ok(stats) => stats,
        Err(e) => {
            eprintln!("service: {e}");
            e.into_stats()
        }
    };
    let p = stats.pipeline;
    println!("stopped: {why}");
    println!(
        "served {} requests; accepted {} items, exported {}, dropped {}",
        served.count.load(Ordering::Relaxed),
        p.accepted,
        p.exported,
        p.dropped_total()
    );
    for reason in DropReason::ALL {
        if p.dropped(reason) > 0 {
            println!("  dropped ({reason}): {}", p.dropped(reason));
        }
    }
    Ok(p.dropped_total() == 0 && p.exported == p.accepted)
}

/// Requests answered, and the signal that the limit was reached.
struct Served {
    count: AtomicU64,
    limit: Option<u64>,
    reached: Notify,
}

impl Served {
    /// Counts a request whose span is closed.
    fn one_more(&self) {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        if self.limit == Some(n) {
            // Stores a permit if the accept loop is not waiting right now.
            self.reached.notify_one();
        }
    }
}

/// Serves HTTP/1.1 on one connection until the client closes it or the
/// service stops.
async fn serve_connection(stream: TcpStream, served: Arc<Served>, mut stopped: watch::Receiver<bool>) {
    let service = hyper::service::service_fn(move |request| {
        let served = served.clone();
        async move {
            let response = handle(request).await;
            // `handle` has returned: the request's span is closed and
            // queued for export, so stopping now loses nothing.
            served.one_more();
            Ok::<_, Infallible>(response)
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stopped.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        // A client that disconnects or sends garbage: the service goes on.
        eprintln!("service: connection: {e}");
        tracing::warn!(error = %e, "connection failed");
    }
}

/// What a request path names.
#[derive(Clone, Copy, Debug)]
enum Route {
    /// `/users/{id}`.
    User(u64),
    /// `/users/...` with an id that is not a number.
    BadUserId,
    /// Anything else.
    Unknown,
}

impl Route {
    fn of(path: &str) -> Route {
        match path.strip_prefix("/users/") {
            Some(id) => id.parse().map_or(Route::BadUserId, Route::User),
            None => Route::Unknown,
        }
    }

    /// The route template (`http.route`), when the path matches one.
    fn template(self) -> Option<&'static str> {
        match self {
            Route::User(_) | Route::BadUserId => Some("/users/{id}"),
            Route::Unknown => None,
        }
    }
}

/// Answers one request inside its server span.
async fn handle(request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path();
    let route = Route::of(path);
    // Semantic conventions: the span is named "{method} {route}", or the
    // method alone when no route matched (a path would make names unbounded).
    let name = match route.template() {
        Some(template) => format!("{method} {template}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        "request",
        otel.name = name.as_str(),
        otel.kind = "server",
        http.request.method = method.as_str(),
        url.path = path,
        http.route = route.template(),
        http.response.status_code = Empty,
    );
    continue_trace(&span, request.headers());
    let response = respond(&method, route).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}

/// Makes `span` the child of the caller's span named by the request's W3C
/// `traceparent` (and `tracestate`) header; without one the span starts a
/// new trace, and with a malformed one too, with a warning event.
fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    let Some(traceparent) = headers.get("traceparent") else { return };
    let tracestate = headers.get("tracestate").and_then(|v| v.to_str().ok());
    let result = match traceparent.to_str() {
        Ok(traceparent) => OtlpLayer::set_parent_from_headers(span, traceparent, tracestate).map_err(|e| e.to_string()),
        Err(_) => Err("not visible ASCII".to_owned()),
    };
    if let Err(error) = result {
        span.in_scope(|| tracing::warn!(error = %error, "malformed traceparent: starting a new trace"));
    }
}

/// The answer to a request, computed inside its span.
async fn respond(method: &Method, route: Route) -> Response<Full<Bytes>> {
    match (method, route) {
        (&Method::GET, Route::User(id)) => match find_user(id).await {
            Some(name) => reply(StatusCode::OK, format!("{{\"id\":{id},\"name\":\"{name}\"}}\n")),
            None => {
                // An ERROR event sets the span's status to error.
                tracing::error!(user.id = id, "user not found");
                reply(StatusCode::NOT_FOUND, "no such user\n".to_owned())
            }
        },
        (&Method::GET, Route::BadUserId) => {
            tracing::warn!("the user id is not a number");
            reply(StatusCode::BAD_REQUEST, "the user id is not a number\n".to_owned())
        }
        (_, Route::User(_) | Route::BadUserId) => {
            let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".to_owned());
            response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET"));
            response
        }
        (_, Route::Unknown) => reply(StatusCode::NOT_FOUND, "no such route\n".to_owned()),
    }
}

/// The fake database call, in a client span under the request's.
async fn find_user(id: u64) -> Option<String> {
    let span = tracing::info_span!(
        "SELECT users",
        otel.kind = "client",
        db.system.name = "sqlite",
        db.namespace = "users",
        db.operation.name = "SELECT",
        db.collection.name = "users",
        db.query.text = "SELECT name FROM users WHERE id = ?",
        db.response.returned_rows = Empty,
    );
    async {
        tokio::time::sleep(DB_LATENCY).await;
        let found = (1..=USER_COUNT).contains(&id).then(|| format!("user {id}"));
        tracing::Span::current().record("db.response.returned_rows", u64::from(found.is_some()));
        found
    }
    .instrument(span)
    .await
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let content_type = if status == StatusCode::OK { "application/json" } else { "text/plain; charset=utf-8" };
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
