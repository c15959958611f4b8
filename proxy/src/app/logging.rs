//! Log setup: a filter that the admin's `/logging?level=` can change at run time.

use tracing_subscriber::{
    EnvFilter, Registry, layer::SubscriberExt, reload, util::SubscriberInitExt,
};

use crate::cli::LogFormat;

/// Changes the live log filter.
#[derive(Clone, Debug)]
pub struct Logging {
    filter: reload::Handle<EnvFilter, Registry>,
}

impl Logging {
    /// Installs the global subscriber with `filter` (RUST_LOG syntax).
    pub fn init(filter: &str, format: LogFormat) -> anyhow::Result<Self> {
        let parsed = EnvFilter::try_new(filter)
            .map_err(|e| anyhow::anyhow!("--log-level {filter:?}: {e}"))?;
        let (filter_layer, handle) = reload::Layer::new(parsed);
        let registry = tracing_subscriber::registry().with(filter_layer);
        // Logs go to stderr; stdout carries the access log, one JSON object per line.
        let result = match format {
            LogFormat::Text => registry
                .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
                .try_init(),
            LogFormat::Json => registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .with_writer(std::io::stderr),
                )
                .try_init(),
        };
        result.map_err(|e| anyhow::anyhow!("installing the logger: {e}"))?;
        Ok(Self { filter: handle })
    }

    /// Replaces the filter, e.g. with `debug` or `mesh_proxy::http=trace,info`.
    pub fn set(&self, filter: &str) -> Result<(), String> {
        let parsed = EnvFilter::try_new(filter).map_err(|e| format!("{filter:?}: {e}"))?;
        self.filter.reload(parsed).map_err(|e| e.to_string())
    }
}
