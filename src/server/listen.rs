//! Owns accepting: binding a listener, the one accept loop every listener shares (the
//! connection cap, shutdown, and backing off on accept errors), and handing each connection
//! to its listener's own serving function.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::task::TaskTracker;

use super::ServeError;

/// Binds `addr`, naming it in the error.
pub(super) async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| ServeError::Bind { addr, error })
}

/// The address a listener got (the port the OS chose for `:0`).
pub(super) fn local_addr(listener: &TcpListener, fallback: SocketAddr) -> SocketAddr {
    listener.local_addr().unwrap_or(fallback)
}

/// Accepts connections until shutdown and spawns `serve` for each on `connections`. With
/// `slots`, at `max_connections` it waits for one to end before accepting more, and the
/// permit goes to `serve` (which keeps it as long as the connection, or its tunnel, lives).
pub(super) async fn accept_loop<F, Fut>(
    listener: TcpListener,
    slots: Option<Arc<Semaphore>>,
    connections: TaskTracker,
    mut shutdown: watch::Receiver<bool>,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr, Option<OwnedSemaphorePermit>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let permit = match &slots {
            None => None,
            Some(slots) => tokio::select! {
                _ = shutdown.changed() => return,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(p) => Some(p),
                    Err(_) => return,
                },
            },
        };
        let Some((stream, peer)) = next_connection(&listener, &mut shutdown).await else {
            return;
        };
        connections.spawn(serve(stream, peer, permit));
    }
}

/// The next accepted connection, or None once shutdown begins. Accept errors (out of file
/// descriptors and similar) back off briefly instead of spinning.
async fn next_connection(
    listener: &TcpListener,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return None,
            accepted = listener.accept() => match accepted {
                Ok(pair) => return Some(pair),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}
