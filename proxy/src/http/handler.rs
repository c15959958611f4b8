//! One request through the connection manager: the route table, the routing decision, and the
//! response, with Istio's metadata exchange and the request's metrics and access log line.

use std::{
    sync::{Arc, atomic::AtomicU64},
    time::SystemTime,
};

use bytes::Bytes;
use http::{
    HeaderMap, Method, Request, Response, StatusCode, Version,
    header::{HOST, USER_AGENT},
    request::Parts,
    uri::PathAndQuery,
};
use http_body_util::BodyExt;
use hyper::{body::Incoming, upgrade::OnUpgrade};
use tokio::{sync::watch, time::Instant};

use super::{
    Downstream, HttpContext, HttpHandler,
    body::{self, Counted, Logged, PendingLog, ProxyBody},
    client_cert,
    explicit::Target,
    filters::{self, Decoded},
    forward::{Forward, Outgoing, Record},
    headers::{self, X_FORWARDED_PROTO},
    local::{self, RequestUrl},
    shadow,
    stream_timer::{Expiry, StreamTimer, Timed},
    tunnel,
};
use crate::{
    access_log::{AccessLogEntry, rfc3339},
    config::{HttpConnectionManager, RouteSource, Snapshot},
    response_flags::ResponseFlag,
    route::{ConnectionAddrs, Outcome, RequestMeta},
    serve,
    stats::{Labels, Reporter, RequestProtocol, peer},
    trace_export::{self, SpanEnd},
};

/// Envoy's `stream_idle_timeout` when the connection manager does not set one; explicit-proxy
/// requests, which have no connection manager of their own, get it too.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// A downstream connection's request handler.
#[derive(Debug)]
pub struct Conn {
    /// What the listener knows about the connection.
    pub downstream: Downstream,
    /// Which connection manager routes its requests.
    pub handler: HttpHandler,
    /// Shared by every connection.
    pub ctx: Arc<HttpContext>,
    /// The connection's shutdown signal, passed on to CONNECT tunnels.
    pub shutdown: watch::Receiver<bool>,
}

/// What routing tells the rest of the request: the route's name (for the access log) and,
/// when the connection manager traces, the decorator's operation.
struct Seen {
    route_name: Option<String>,
    operation: Option<trace_export::Operation>,
}

/// A request after parsing, before routing.
struct Routed {
    parts: Parts,
    body: ProxyBody,
    authority: String,
    target: Option<Target>,
    upgrade: Option<OnUpgrade>,
}

// === impl Conn ===

impl Conn {
    /// Handles one request to its response; never fails (errors become responses).
    pub async fn handle(&self, mut request: Request<Incoming>) -> Response<ProxyBody> {
        let started = Instant::now();
        let start_time = SystemTime::now();
        let snapshot = self.ctx.store.load();
        let (manager, generate_request_id, access_log, target, idle) = match &self.handler {
            HttpHandler::Chain(hcm) => (
                Some(Arc::clone(hcm)),
                hcm.generate_request_id,
                hcm.access_log,
                None,
                hcm.stream_idle_timeout,
            ),
            HttpHandler::Explicit => {
                if request.method() == Method::CONNECT {
                    return tunnel::connect(
                        request,
                        &self.ctx,
                        self.downstream.peer,
                        &self.shutdown,
                    )
                    .await;
                }
                let target = Target::of(request.uri(), request.headers());
                // The target port's connection manager: its routes and HTTP filters (fault,
                // CORS) serve the request as they would a captured one.
                let manager = target
                    .as_ref()
                    .and_then(|t| serve::explicit_http_manager(&snapshot, t.port));
                (
                    manager,
                    true,
                    false,
                    target,
                    Some(DEFAULT_STREAM_IDLE_TIMEOUT),
                )
            }
        };
        let telemetry = self.ctx.telemetry();
        let stats = &telemetry.stats;
        let reporter = stats.reporter(&self.downstream.listener);
        // The exchange headers are the proxies' business: whatever the client sent is removed,
        // and only the inbound side reads it.
        let request_peer = peer::take(request.headers_mut());
        let source_peer = match reporter {
            Reporter::Destination => Some(stats.peer(request_peer.as_ref())),
            Reporter::Source => {
                if let Some(ours) = stats.peer_headers() {
                    ours.insert(request.headers_mut());
                }
                None
            }
        };
        let reply_to = local::ReplyTo::of(request.method(), request.headers());
        let protocol = if is_grpc(request.headers()) {
            RequestProtocol::Grpc
        } else {
            RequestProtocol::Http
        };
        let request_id = headers::ensure_request_id(request.headers_mut(), generate_request_id);
        let edge = matches!(&self.handler, HttpHandler::Chain(hcm) if hcm.use_remote_address);
        if edge {
            headers::append_forwarded_for(request.headers_mut(), self.downstream.peer.ip());
        }
        let tls = self.downstream.tls.as_deref();
        headers::set_forwarded_proto(request.headers_mut(), tls.is_some(), edge);
        let client_cert = manager.as_ref().map(|m| m.client_cert).unwrap_or_default();
        client_cert::forward_client_cert(request.headers_mut(), tls, &client_cert);
        let authority = match &target {
            Some(target) => target.authority(),
            None => authority_of(&request),
        };
        let upgrade = (request.version() == Version::HTTP_11
            && headers::upgrade_type(request.headers()).is_some())
        .then(|| hyper::upgrade::on(&mut request));
        let received = Arc::new(AtomicU64::new(0));
        let (mut parts, incoming) = request.into_parts();
        let (mut span, operation) = trace_export::request::start_request(
            &self.ctx.spans,
            manager.as_deref(),
            &snapshot,
            &self.downstream,
            &authority,
            &mut parts,
        )
        .map_or((None, None), |(span, operation)| (span, Some(operation)));
        let entry = access_log.then(|| AccessLogEntry {
            start_time: rfc3339(start_time),
            method: Some(parts.method.to_string()),
            path: Some(path_and_query(&parts).to_owned()),
            protocol: Some(protocol_name(parts.version).to_owned()),
            x_request_id: request_id,
            traceparent: header(&parts.headers, "traceparent"),
            authority: Some(authority.clone()).filter(|a| !a.is_empty()),
            user_agent: header(&parts.headers, USER_AGENT.as_str()),
            downstream_remote_address: Some(self.downstream.peer.to_string()),
            downstream_local_address: Some(self.downstream.local.to_string()),
            ..AccessLogEntry::default()
        });
        let timer = StreamTimer::new(idle);
        let routed = Routed {
            parts,
            body: body::boxed(Timed::request(
                body::boxed(Counted::new(incoming, Arc::clone(&received))),
                Arc::clone(&timer),
            )),
            authority,
            target,
            upgrade,
        };
        let mut record = Record::default();
        let mut seen = Seen {
            route_name: None,
            operation,
        };
        let routing = self.route(
            &snapshot,
            manager.as_deref(),
            routed,
            &timer,
            &mut record,
            &mut seen,
        );
        let (response, expired) = tokio::select! {
            response = routing => {
                // Sending the response headers is activity too.
                timer.touch();
                (response, None)
            }
            expiry = timer.expired() => (timer.local_reply(expiry), Some(expiry)),
        };
        if expired == Some(Expiry::Idle) {
            record.flags.insert(ResponseFlag::StreamIdleTimeout);
        }
        let response = local::finish(response, reply_to);
        let (mut parts, body) = response.into_parts();
        if let Some(operation) = &mut seen.operation {
            trace_export::request::name_span(span.as_mut(), operation, &mut parts.headers);
        }
        let traced = span.map(|span| {
            let end = SpanEnd {
                status: parts.status.as_u16(),
                flags: record.flags.clone(),
                upstream_cluster: record.upstream_cluster.clone(),
                ..SpanEnd::default()
            };
            (span, end, Arc::clone(&received))
        });
        let body = body::boxed(Timed::response(body, Arc::clone(&timer)));
        let response_peer = peer::take(&mut parts.headers);
        let peer = match source_peer {
            Some(source) => {
                if let Some(ours) = stats.peer_headers() {
                    ours.insert(&mut parts.headers);
                }
                source
            }
            None => stats.peer(response_peer.as_ref()),
        };
        let service = record
            .upstream_cluster
            .as_ref()
            .and_then(|name| snapshot.clusters.get(name))
            .map_or_else(|| stats.unknown_service(), |c| Arc::clone(&c.service));
        let labels = Labels {
            reporter,
            peer,
            service,
            protocol,
            response_code: Some(parts.status.as_u16()),
            grpc_status: body::grpc_status(&parts.headers),
            response_flags: None,
        };
        let entry = entry.map(|entry| AccessLogEntry {
            response_code: Some(parts.status.as_u16()),
            upstream_host: record.upstream_host.map(|a| a.to_string()),
            upstream_cluster: record.upstream_cluster,
            route_name: seen.route_name,
            ..entry
        });
        let pending = PendingLog {
            observation: telemetry.http(labels, entry),
            flags: record.flags,
            received,
            started,
        };
        let response = Response::from_parts(parts, Logged::new(body, pending).boxed_unsync());
        trace_export::request::finish_with(response, traced)
    }

    async fn route(
        &self,
        snapshot: &Snapshot,
        manager: Option<&HttpConnectionManager>,
        request: Routed,
        timer: &StreamTimer,
        record: &mut Record,
        seen: &mut Seen,
    ) -> Response<ProxyBody> {
        let table = match manager.map(|m| &m.routes) {
            Some(RouteSource::Inline(table)) => Some(Arc::clone(table)),
            Some(RouteSource::Rds(name)) => snapshot.routes.get(name).cloned(),
            None => None,
        };
        let Some(table) = table else {
            record.flags.insert(ResponseFlag::NoRouteFound);
            return local::respond(StatusCode::NOT_FOUND, Bytes::new());
        };
        let Routed {
            mut parts,
            body,
            authority,
            target,
            upgrade,
        } = request;
        let original = path_and_query(&parts).to_owned();
        let meta = RequestMeta::new(&parts.method, &authority, &original, &parts.headers);
        if table.redirects_to_tls(&meta) {
            return local::tls_redirect(&authority, &original);
        }
        let Some(decision) = table.find(&meta, rand::random()) else {
            record.flags.insert(ResponseFlag::NoRouteFound);
            return local::respond(StatusCode::NOT_FOUND, Bytes::new());
        };
        seen.route_name = Some(decision.route.name.clone()).filter(|n| !n.is_empty());
        let rewritten = decision.rewritten_path(&meta);
        if let Some(operation) = &mut seen.operation {
            operation.routed(decision.route.decorator.as_ref(), &mut parts.headers);
        }
        let mut response = match decision.outcome {
            Outcome::Forward { cluster, policy } => {
                timer.route(policy.idle_timeout, policy.max_stream_duration);
                let Ok(path_and_query) =
                    PathAndQuery::try_from(rewritten.unwrap_or_else(|| original.clone()))
                else {
                    return local::respond(StatusCode::BAD_REQUEST, Bytes::new());
                };
                // Upgrades are on unless the route turns this one off.
                let upgrade = upgrade.filter(|_| {
                    let kind = headers::upgrade_type(&parts.headers).unwrap_or_default();
                    !policy.upgrades.iter().any(|(t, on)| *t == kind && !on)
                });
                let (route, vhost) = (decision.route, decision.vhost);
                let decorate = match filters::decode(
                    manager,
                    route,
                    vhost,
                    &parts.method,
                    &parts.headers,
                    record,
                )
                .await
                {
                    Decoded::Respond(response) => return response,
                    Decoded::Forward(decorate) => decorate,
                };
                let downstream_http2 = self.downstream.http2 || parts.version == Version::HTTP_2;
                let shadowed = shadow::Original {
                    method: &parts.method,
                    authority: &authority,
                    path_and_query: &path_and_query,
                    headers: &parts.headers,
                    decision: &decision,
                    cluster,
                    policy,
                    original_dst: self.downstream.original_dst,
                    downstream_http2,
                };
                let body = shadow::mirror(&self.ctx, snapshot, &shadowed, body);
                let forward = Forward {
                    ctx: &self.ctx,
                    snapshot,
                    decision: &decision,
                    cluster,
                    policy,
                    downstream_http2,
                    original_dst: self.downstream.original_dst,
                    explicit: target.as_ref(),
                    // As Envoy sees it, a captured connection's local address is its
                    // original destination.
                    connection: Some(ConnectionAddrs {
                        remote: self.downstream.peer,
                        local: self
                            .downstream
                            .original_dst
                            .unwrap_or(self.downstream.local),
                    }),
                };
                let out = Outgoing {
                    method: parts.method,
                    authority,
                    path_and_query,
                    headers: parts.headers,
                    body,
                    upgrade,
                };
                let mut response = forward.run(out, record).await;
                if let Some(headers) = decorate {
                    response.headers_mut().extend(headers);
                }
                return response;
            }
            Outcome::Redirect(redirect) => {
                let scheme = parts
                    .headers
                    .get(&X_FORWARDED_PROTO)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("http");
                local::redirect(
                    redirect,
                    RequestUrl {
                        scheme,
                        authority: &authority,
                        path_and_query: &original,
                        rewritten: rewritten.as_deref(),
                    },
                )
            }
            Outcome::Direct(direct) => local::direct(direct),
        };
        for edits in decision.response_header_edits() {
            edits.apply(response.headers_mut());
        }
        response
    }
}

fn authority_of<B>(request: &Request<B>) -> String {
    match request.uri().authority() {
        Some(authority) => authority.as_str().to_owned(),
        None => request
            .headers()
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    }
}

fn path_and_query(parts: &Parts) -> &str {
    parts.uri.path_and_query().map_or("/", PathAndQuery::as_str)
}

fn protocol_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// gRPC is HTTP/2 with a `content-type` of `application/grpc` or `application/grpc+<codec>`.
fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.strip_prefix("application/grpc")
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['+', ';']))
        })
}
