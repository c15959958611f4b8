//! Listening sockets and their accept loops.

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use super::{DataPlaneContext, ServeOptions, dispatch::serve_accepted, tracker::Tracker};
use crate::config::ListenerConfig;

/// Envoy's default `tcp_backlog_size`.
const BACKLOG: i32 = 1024;

/// A bound listener whose accept loop runs until it is closed.
#[derive(Debug)]
pub(super) struct Bound {
    /// Where the configuration asked to bind (after overrides), to tell an unchanged listener.
    pub(super) requested: SocketAddr,
    /// Where the socket is bound (port 0 resolved).
    pub(super) local: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Where `listener` binds under `options`: unspecified addresses become `bind_ip`, and
/// `port_overrides` replaces the port.
pub(super) fn bind_address(listener: &ListenerConfig, options: &ServeOptions) -> SocketAddr {
    let mut address = listener.address;
    if let Some(ip) = options.bind_ip
        && address.ip().is_unspecified()
    {
        address.set_ip(ip);
    }
    if let Some(port) = options.port_overrides.get(&listener.name) {
        address.set_port(*port);
    }
    address
}

/// A listening socket on `address` with `SO_REUSEADDR`, so a restarted proxy can bind while
/// the previous one's connections linger in `TIME_WAIT`.
pub(super) fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

// === impl Bound ===

impl Bound {
    /// Binds `listener` and starts accepting on it.
    pub(super) fn start(
        listener: &ListenerConfig,
        ctx: &Arc<DataPlaneContext>,
        tracker: &Tracker,
    ) -> io::Result<Self> {
        let requested = bind_address(listener, &ctx.options);
        let socket = listen(requested)?;
        let local = socket.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(
            socket,
            listener.name.clone(),
            Arc::clone(ctx),
            tracker.clone(),
            stopped,
        ));
        tracing::info!(listener = %listener.name, address = %local, "listening");
        Ok(Self {
            requested,
            local,
            stop,
            task,
        })
    }

    /// Stops accepting and closes the socket; connections already accepted carry on.
    pub(super) async fn close(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn accept_loop(
    socket: TcpListener,
    name: String,
    ctx: Arc<DataPlaneContext>,
    tracker: Tracker,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = socket.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let connection = serve_accepted(
                    Arc::clone(&ctx),
                    name.clone(),
                    ctx.options.original_dst,
                    stream,
                    peer,
                );
                tracker.spawn(connection);
            }
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(listener = %name, %error, "accept failed");
                tokio::select! {
                    _ = &mut stop => break,
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        }
    }
    tracing::info!(listener = %name, "stopped listening");
}
