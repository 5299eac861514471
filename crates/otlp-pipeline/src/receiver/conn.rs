//! Connections, the same for both transports: accepting under a cap, the TLS
//! handshake under a timeout, and the watchdog that closes a connection that
//! sends no request in time or stays idle.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use super::Shared;

/// A connection's byte stream, plain TCP or TLS over it.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An accepted connection, after its TLS handshake when there is one.
pub(super) type Conn = Box<dyn Io>;

/// A TLS acceptor for the receiver's certificate and key, offering `alpn`
/// (gRPC needs `h2`: tonic's client refuses a server that does not
/// negotiate it).
pub(super) fn tls_acceptor(
    identity: &super::TlsIdentity,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |what: &std::path::Path, e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{}: {e}", what.display()))
    };
    let certs = CertificateDer::pem_file_iter(&identity.cert_chain)
        .map_err(|e| invalid(&identity.cert_chain, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&identity.cert_chain, &e))?;
    let key = PrivateKeyDer::from_pem_file(&identity.key).map_err(|e| invalid(&identity.key, &e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| invalid(&identity.cert_chain, &e))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections while fewer than `max_connections` are open (a
/// permit is held for each connection's life, so one over the cap waits in
/// the listen backlog until another closes), and serves each on its own
/// task with `serve` (the transport's: `http::serve_connection` or
/// `grpc::serve_connection`) until `stopped` turns true.
pub(super) async fn accept_loop<F, S>(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    serve: S,
) where
    S: Fn(Conn, Arc<Shared>, watch::Receiver<bool>, Arc<Activity>) -> F + Copy + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = stopped.changed() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                // Out of file descriptors or a reset during accept: skip this
                // one, pausing so that a lasting error (EMFILE) does not spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let (shared, stopped, acceptor) = (shared.clone(), stopped.clone(), acceptor.clone());
        connections.spawn(async move {
            // The first request's deadline counts from here, the handshake included.
            let activity = Arc::new(Activity::new(&shared.config));
            let conn: Conn = match acceptor {
                None => Box::new(stream),
                Some(acceptor) => {
                    // A client that never finishes its handshake is cut off like a slow header.
                    let timeout = shared.config.header_read_timeout;
                    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => Box::new(tls),
                        Ok(Err(_)) | Err(_) => return,
                    }
                }
            };
            serve(conn, shared, stopped, activity).await;
            drop(permit);
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}

/// What a connection is doing, for its watchdog: requests in flight, and
/// when the last one ended.
#[derive(Debug)]
pub(super) struct Activity {
    opened: Instant,
    first_request_timeout: Duration,
    idle_timeout: Duration,
    state: Mutex<ActivityState>,
}

#[derive(Debug, Default)]
struct ActivityState {
    in_flight: usize,
    last_end: Option<Instant>,
}

impl Activity {
    fn new(config: &super::ReceiverConfig) -> Activity {
        Activity {
            opened: Instant::now(),
            first_request_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            state: Mutex::new(ActivityState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        // The state is two counters: a panic elsewhere cannot leave them torn.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a request in flight until the guard is dropped.
    pub(super) fn begin(self: &Arc<Self>) -> InFlight {
        self.state().in_flight += 1;
        InFlight(self.clone())
    }

    /// Resolves once the connection has had no request in flight for its
    /// time: `header_read_timeout` from connecting when no request came
    /// yet, `idle_timeout` since the last one ended otherwise. Nothing
    /// wakes it when a request starts or ends: it sleeps to the deadline it
    /// knows and looks again.
    pub(super) async fn idle(&self) {
        loop {
            let deadline = {
                let s = self.state();
                if s.in_flight > 0 {
                    None
                } else {
                    Some(match s.last_end {
                        None => self.opened + self.first_request_timeout,
                        Some(end) => end + self.idle_timeout,
                    })
                }
            };
            match deadline {
                None => tokio::time::sleep(self.idle_timeout).await,
                Some(d) if Instant::now() >= d => return,
                Some(d) => tokio::time::sleep_until(d).await,
            }
        }
    }
}

/// A request in flight on a connection (see [`Activity::begin`]).
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.state();
        s.in_flight -= 1;
        s.last_end = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_waits_for_requests_in_flight_and_then_the_idle_time() {
        let config = super::super::ReceiverConfig {
            header_read_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(60),
            ..super::super::ReceiverConfig::default()
        };
        let activity = Arc::new(Activity::new(&config));
        let opened = Instant::now();
        // No request at all: closed after the first-request time.
        activity.idle().await;
        assert_eq!(opened.elapsed(), Duration::from_secs(1));
        // A request in flight keeps it open however long it takes.
        let request = activity.begin();
        let idle = activity.idle();
        tokio::pin!(idle);
        assert!(tokio::time::timeout(Duration::from_secs(600), idle.as_mut()).await.is_err());
        let ended = Instant::now();
        drop(request);
        idle.await;
        assert_eq!(ended.elapsed(), Duration::from_secs(60));
    }
}
