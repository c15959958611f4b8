//! The upstream of every topology: an HTTP server (HTTP/1.1 and h2c on one port) answering 200
//! with a small fixed body, or a gRPC call with its own message and `grpc-status: 0`, and a TCP
//! echo server. Both run in this process, on a thread and
//! runtime of their own, so the figures of the load generator's runtime are not theirs.

use std::{
    convert::Infallible,
    net::{SocketAddr, TcpListener as StdListener},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use http_body_util::{BodyExt as _, Full, combinators::UnsyncBoxBody};
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::oneshot,
};

/// The body of every HTTP answer.
pub const BODY: &[u8] = b"mesh.rs bench upstream\n";

/// A stall injected into the HTTP server, for testing the generator: the `nth` request
/// (counted from 1) is answered `delay` late.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    /// Which request stalls.
    pub nth: u64,
    /// For how long.
    pub delay: Duration,
}

/// The running servers. Dropping this stops them.
#[derive(Debug)]
pub struct Upstream {
    /// The HTTP server's address.
    pub http: SocketAddr,
    /// The echo server's address.
    pub tcp: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

// === impl Upstream ===

impl Upstream {
    /// Binds both servers on ephemeral ports of 127.0.0.1 and starts them.
    pub fn start(stall: Option<Stall>) -> anyhow::Result<Upstream> {
        let http_listener = bind()?;
        let tcp_listener = bind()?;
        let http = http_listener.local_addr()?;
        let tcp = tcp_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the upstream's runtime")?;
        let (shutdown, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("bench-upstream".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let (Ok(http_listener), Ok(tcp_listener)) = (
                        TcpListener::from_std(http_listener),
                        TcpListener::from_std(tcp_listener),
                    ) else {
                        return;
                    };
                    tokio::select! {
                        () = serve_http(http_listener, stall) => {}
                        () = serve_echo(tcp_listener) => {}
                        _ = stopped => {}
                    }
                });
            })
            .context("starting the upstream's thread")?;
        Ok(Upstream {
            http,
            tcp,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn bind() -> anyhow::Result<StdListener> {
    let listener = StdListener::bind("127.0.0.1:0").context("binding an upstream listener")?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

async fn serve_http(listener: TcpListener, stall: Option<Stall>) {
    let served = Arc::new(AtomicU64::new(0));
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let served = served.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let served = served.clone();
            async move {
                let nth = served.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(stall) = stall.filter(|stall| stall.nth == nth) {
                    tokio::time::sleep(stall.delay).await;
                }
                Ok::<_, Infallible>(answer(request).await)
            }
        });
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Body = UnsyncBoxBody<Bytes, hyper::Error>;

/// A gRPC call's own message back, with `grpc-status: 0`; anything else the fixed body.
async fn answer(request: Request<Incoming>) -> Response<Body> {
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let full = |bytes: Bytes| Full::new(bytes).map_err(|e| match e {});
    // A request whose body broke off gets an answer that counts as an error; its connection
    // is gone anyway.
    let Ok(body) = request.into_body().collect().await else {
        let mut response = Response::new(full(Bytes::new()).boxed_unsync());
        *response.status_mut() = http::StatusCode::BAD_REQUEST;
        return response;
    };
    if !grpc {
        return Response::new(full(Bytes::from_static(BODY)).boxed_unsync());
    }
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let body = full(body.to_bytes())
        .with_trailers(async move { Some(Ok(trailers)) })
        .boxed_unsync();
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    response
}

async fn serve_echo(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(echo(stream));
    }
}

async fn echo(mut stream: TcpStream) {
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => {
                if stream.write_all(&buffer[..read]).await.is_err() {
                    return;
                }
            }
        }
    }
}
