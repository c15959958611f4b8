//! `mesh-proxy run`: the bootstrap's static configuration, the ADS client, the listeners, the
//! admin, health and metrics ports, the tracing span exporter, and the drain on SIGTERM.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use anyhow::Context;
use tokio::{net::TcpListener, sync::mpsc};

use super::{
    health,
    logging::Logging,
    memory::{self, MemoryRelease},
};
use crate::{
    access_log::{self, AccessLog},
    admin::{self, AdminState},
    bootstrap::Bootstrap,
    capture::OriginalDst,
    cli::RunArgs,
    config::{ConfigStore, refresh_dns_forever},
    http::HttpContext,
    serve::{DataPlane, ServeOptions},
    stats::{self, Exporter, Stats, Telemetry},
    trace_export::{self, ExportOptions, NodeTags},
    upstream::Pools,
    xds_client::XdsClient,
};

/// How often the addresses of STRICT_DNS and LOGICAL_DNS clusters are resolved again.
const DNS_REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// Where the metrics port listens unless `--metrics-address` says otherwise.
const DEFAULT_METRICS_ADDRESS: &str = "0.0.0.0:15090";

/// How long the spans still queued at exit may take to reach their collector.
const SPAN_FLUSH_ON_EXIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How often histogram samples are folded into their buckets between scrapes, which bounds
/// the memory of a proxy nobody scrapes.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the proxy until SIGTERM, Ctrl-C or the admin's `/quitquitquit`, then drains.
pub fn run(args: &RunArgs, release: Option<MemoryRelease>) -> anyhow::Result<()> {
    let logging = Logging::init(&args.log_level, args.log_format)?;
    let runtime = runtime(args.concurrency).context("starting the runtime")?;
    runtime.block_on(serve(args, logging, release))
}

/// The runtime for `--concurrency`. One worker is the thread that started the proxy: a
/// multi-threaded runtime of one worker would keep that thread waiting beside it, with a
/// second stack and malloc arena, and hand every wake-up across threads.
fn runtime(concurrency: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match concurrency.map(|workers| workers.max(1)) {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(workers) => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(workers);
            builder
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    builder
        .enable_all()
        .thread_name("mesh-proxy-worker")
        .build()
}

async fn serve(
    args: &RunArgs,
    logging: Logging,
    release: Option<MemoryRelease>,
) -> anyhow::Result<()> {
    let mut bootstrap = Bootstrap::load(&args.bootstrap)?;
    // The descriptors that read it are needed again only to print `/config_dump`.
    mesh_xds::json::release_descriptor_pool();
    bootstrap.resolve_dns().await;
    tracing::info!(
        node = %bootstrap.node.id,
        bootstrap = %args.bootstrap.display(),
        version = env!("CARGO_PKG_VERSION"),
        "starting"
    );

    let store = Arc::new(ConfigStore::new(std::mem::take(
        &mut bootstrap.static_snapshot,
    )));
    let stats = Arc::new(Stats::new(&bootstrap.node));
    let access_log = AccessLog::stdout(access_log::DEFAULT_CAPACITY);
    let telemetry = Telemetry::new(access_log.clone(), Arc::clone(&stats));
    // Spans go out through pools of their own, counted with the proxy's upstream connections.
    let (spans, span_exporter) = trace_export::exporter::spawn(
        Arc::clone(&store),
        Pools::counted(Arc::clone(stats.upstream_connections())),
        NodeTags {
            id: bootstrap.node.id.clone(),
            zone: bootstrap
                .node
                .locality
                .as_ref()
                .map(|l| l.zone.clone())
                .unwrap_or_default(),
        },
        ExportOptions::default(),
    );
    let span_counts = Arc::clone(spans.counts());
    let http =
        Arc::new(HttpContext::with_telemetry(Arc::clone(&store), telemetry).with_spans(spans));
    let plane = DataPlane::start(
        Arc::clone(&store),
        Arc::clone(&http),
        ServeOptions {
            original_dst: OriginalDst::Socket,
            bind_ip: args.bind_ip,
            port_overrides: HashMap::new(),
        },
    );
    let xds = bootstrap.ads.clone().map(|ads| {
        XdsClient::spawn(
            ads,
            bootstrap.node.clone(),
            Arc::clone(&store),
            args.xds_delta,
        )
    });

    let mut exporter = Exporter::new(Arc::clone(&stats))
        .with_access_log(access_log)
        .with_spans(span_counts)
        .with_pools(move || http.upstream_pools());
    if let Some(xds) = &xds {
        exporter = exporter.with_xds(xds.state());
    }
    let exporter = Arc::new(exporter);
    let _metrics = metrics_listener(args).await?.map(|listener| {
        AbortOnDrop(tokio::spawn(stats::serve::serve(
            listener,
            Arc::clone(&exporter),
        )))
    });
    let connections = Arc::clone(stats.upstream_connections());
    let _upkeep = AbortOnDrop(tokio::spawn(async move {
        let mut every = tokio::time::interval(METRICS_UPKEEP);
        loop {
            every.tick().await;
            stats.run_upkeep();
        }
    }));

    let plane = Arc::new(plane);
    let ready: health::Readiness = {
        // Weak: the drain below needs the only strong reference to the listeners.
        let plane = Arc::downgrade(&plane);
        let xds = xds.as_ref().map(XdsClient::state);
        Arc::new(move || {
            plane.upgrade().is_some_and(|p| p.is_ready())
                && xds.as_ref().is_none_or(|x| x.is_synced())
        })
    };
    let _health = match health_address(args)? {
        Some(address) => {
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("binding the health port {address}"))?;
            Some(AbortOnDrop(tokio::spawn(health::serve(
                listener,
                Arc::clone(&ready),
            ))))
        }
        None => None,
    };
    let (quit, mut quit_requested) = mpsc::channel(1);
    let _admin = match bootstrap.admin {
        Some(address) => {
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("binding the admin port {address}"))?;
            let mut state = AdminState::new(bootstrap.node.clone())
                .with_ready({
                    let ready = Arc::clone(&ready);
                    move || ready()
                })
                // Taken, not cloned: nothing else reads it, and it is the size of the config.
                .with_bootstrap(std::mem::take(&mut bootstrap.raw))
                .with_quit(quit)
                .with_metrics(Arc::clone(&exporter))
                .with_clusters(Arc::clone(&store), connections)
                .with_log_level(move |level| logging.set(level))
                .with_drain({
                    let plane = Arc::downgrade(&plane);
                    move || {
                        if let Some(plane) = plane.upgrade() {
                            plane.stop_listening();
                        }
                    }
                })
                .with_drain_inbound({
                    let plane = Arc::downgrade(&plane);
                    move || {
                        if let Some(plane) = plane.upgrade() {
                            plane.stop_listening_inbound();
                        }
                    }
                })
                .with_draining({
                    let plane = Arc::downgrade(&plane);
                    move || plane.upgrade().is_some_and(|p| p.is_draining())
                });
            if let Some(xds) = &xds {
                state = state.with_xds(xds.state());
            }
            Some(AbortOnDrop(tokio::spawn(async move {
                if let Err(error) = admin::serve(listener, state).await {
                    tracing::error!(%error, "admin server stopped");
                }
            })))
        }
        None => None,
    };
    // Everything it configures now lives in the store; its parsed form is the size of the config.
    drop(bootstrap);
    // Reading the bootstrap peaked well above what stays. On the one-thread runtime nothing
    // else (the admin's `/ready` included) runs until `serve` next waits, below; configuration
    // changes free their peaks once they settle.
    let _release = release.map(|release| {
        release.release();
        AbortOnDrop(tokio::spawn(release.after_changes(
            store.subscribe(),
            memory::SETTLE,
            memory::MAX_DEFER,
        )))
    });
    // DNS clusters follow their names' addresses, as Envoy's default 5 s refresh does.
    let _dns = AbortOnDrop(tokio::spawn(refresh_dns_forever(
        Arc::clone(&store),
        DNS_REFRESH,
    )));

    tokio::select! {
        () = shutdown_signal() => {}
        _ = quit_requested.recv() => tracing::info!("quit requested on the admin port"),
    }
    tracing::info!(grace = ?args.drain_time, "draining");
    drop(xds);
    match Arc::try_unwrap(plane) {
        Ok(plane) => plane.drain(args.drain_time).await,
        Err(_) => tracing::warn!("listeners still referenced; exiting without draining"),
    }
    // The spans of the drained requests, then whatever else is queued.
    span_exporter.shutdown(SPAN_FLUSH_ON_EXIT).await;
    tracing::info!("stopped");
    Ok(())
}

fn health_address(args: &RunArgs) -> anyhow::Result<Option<SocketAddr>> {
    listen_address(
        args,
        "--health-address",
        &args.health_address,
        "0.0.0.0:15021",
    )
}

/// The metrics port's socket. The default port being taken only costs the port (the admin
/// still serves the metrics); an address the operator asked for must bind.
async fn metrics_listener(args: &RunArgs) -> anyhow::Result<Option<TcpListener>> {
    let flag = "--metrics-address";
    let Some(address) = args.metrics_address.as_deref() else {
        let Some(address) =
            listen_address(args, flag, DEFAULT_METRICS_ADDRESS, DEFAULT_METRICS_ADDRESS)?
        else {
            return Ok(None);
        };
        return Ok(match TcpListener::bind(address).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%address, %error, "cannot bind the metrics port; set --metrics-address");
                None
            }
        });
    };
    let Some(address) = listen_address(args, flag, address, DEFAULT_METRICS_ADDRESS)? else {
        return Ok(None);
    };
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the metrics port {address}"))?;
    Ok(Some(listener))
}

/// Parses `value` of `flag` (`none`, or an address like `example`); an unspecified IP becomes
/// `--bind-ip` when that is set.
fn listen_address(
    args: &RunArgs,
    flag: &str,
    value: &str,
    example: &str,
) -> anyhow::Result<Option<SocketAddr>> {
    if value == "none" {
        return Ok(None);
    }
    let mut address: SocketAddr = value
        .parse()
        .with_context(|| format!("{flag} {value:?} is not an address like {example}"))?;
    if let Some(ip) = args.bind_ip.filter(|_| address.ip().is_unspecified()) {
        address.set_ip(ip);
    }
    Ok(Some(address))
}

/// Aborts a background task when the proxy stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Completes on SIGTERM (what Kubernetes sends) or Ctrl-C.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = term => {}
        result = tokio::signal::ctrl_c() => {
            if let Err(error) = result {
                tracing::warn!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    }
}
