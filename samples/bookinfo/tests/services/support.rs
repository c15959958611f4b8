//! Test support: running services on 127.0.0.1:0, a small HTTP client, and a recording
//! upstream that answers as each test scripts it.

use std::{
    collections::HashMap, convert::Infallible, io, net::SocketAddr, sync::Arc, time::Duration,
};

use bookinfo::{
    config::{Authority, Config, ReviewsVersion, ServiceKind, Timeouts, Upstreams},
    server::Server,
};
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, client::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Mutex, Notify, oneshot},
    task::JoinHandle,
};

/// How long any single test exchange may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// A service running in this process.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Running {
    /// Asks the server to shut down and waits until it has.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic")
    }

    /// The service's address as an upstream.
    pub fn authority(&self) -> Authority {
        authority(self.addr)
    }
}

pub fn authority(addr: SocketAddr) -> Authority {
    Authority::parse("test", &addr.to_string(), 9080).unwrap()
}

/// An address where nothing listens: connecting is refused.
pub async fn dead_authority() -> Authority {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    authority(addr)
}

/// A config for `service` on 127.0.0.1:0 whose upstreams all refuse connections.
pub async fn config(service: ServiceKind) -> Config {
    let dead = dead_authority().await;
    Config {
        service,
        listen: "127.0.0.1:0".parse().unwrap(),
        reviews_version: ReviewsVersion::V1,
        upstreams: Upstreams {
            details: dead.clone(),
            reviews: dead.clone(),
            ratings: dead,
        },
        http_proxy: None,
        podname: "reviews-test".to_string(),
        timeouts: Timeouts::default(),
    }
}

/// Runs `config` on its own task.
pub async fn start(config: Config) -> Running {
    let server = Server::bind(config.listen).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(bookinfo::serve(server, config, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

/// A response read in full.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }
}

pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(addr, "GET", path, headers, "").await
}

pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    tokio::time::timeout(PATIENCE, async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    })
    .await
    .expect("the exchange completes in time")
}

/// A request a [`Recorder`] received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The request target as sent: a path, or a whole URL through a proxy.
    pub target: String,
    pub headers: HeaderMap,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// How a [`Recorder`] answers.
#[derive(Clone, Debug)]
pub enum Answer {
    /// This status and JSON body.
    Json(u16, String),
    /// Nothing, ever.
    Never,
    /// This status and body, once the gate is opened.
    AfterGate(Arc<Notify>, u16, String),
}

/// An HTTP/1 upstream that records every request and answers by request target.
pub struct Recorder {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    /// Answers every request with `answer`.
    pub async fn start(answer: Answer) -> Self {
        Self::routing(HashMap::new(), answer).await
    }

    /// Answers a request whose target is a key of `routes` with its value, others with
    /// `fallback`.
    pub async fn routing(routes: HashMap<String, Answer>, fallback: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let routes = Arc::new(routes);
        let recorded = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (routes, fallback, recorded) =
                    (routes.clone(), fallback.clone(), recorded.clone());
                let service = service_fn(move |req: Request<Incoming>| {
                    let (routes, fallback, recorded) =
                        (routes.clone(), fallback.clone(), recorded.clone());
                    async move {
                        let target = req.uri().to_string();
                        recorded.lock().await.push(Recorded {
                            method: req.method().to_string(),
                            target: target.clone(),
                            headers: req.headers().clone(),
                        });
                        let answer = routes.get(&target).cloned().unwrap_or(fallback);
                        let (status, body) = match answer {
                            Answer::Json(status, body) => (status, body),
                            Answer::Never => std::future::pending().await,
                            Answer::AfterGate(gate, status, body) => {
                                gate.notified().await;
                                (status, body)
                            }
                        };
                        let mut response = Response::new(Full::new(Bytes::from(body)));
                        *response.status_mut() = StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Self { addr, requests }
    }

    pub fn authority(&self) -> Authority {
        authority(self.addr)
    }

    pub async fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().await.clone()
    }
}

/// The ratings service's answer for product 0, as a recorder plays it.
pub const RATINGS_JSON: &str = r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;
