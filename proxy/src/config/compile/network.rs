//! A filter chain's network filters: any number of `sni_cluster` filters (no config: its
//! `typed_config` must decode as an empty `SniCluster`), then the terminal filter, `http_connection_manager` ([`hcm`], with its HTTP filters in
//! [`http_filters`]) or `tcp_proxy` ([`tcp_proxy`]). Each module lists what it refuses and what
//! it ignores. Filters are identified by `typed_config`'s `@type`, as Envoy does.

mod hcm;
mod http_filters;
mod tcp_proxy;

use std::sync::Arc;

use envoy_types::pb::{
    envoy::{
        config::listener::v3::{Filter, filter},
        extensions::filters::network::{
            http_connection_manager::v3::HttpConnectionManager as PbHcm,
            sni_cluster::v3::SniCluster as PbSniCluster, tcp_proxy::v3::TcpProxy as PbTcpProxy,
        },
    },
    google::protobuf::Any,
};
use mesh_common::path::FieldPath;
use prost::Name;

use self::{hcm::http_connection_manager, tcp_proxy::tcp_proxy};
use super::common::unpack;
use crate::{config::NetworkFilter, config_error::FieldError};

/// The network filters mesh-proxy knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Hcm,
    TcpProxy,
    SniCluster,
}

/// Compiles a chain's `filters`, found at `path`, into what serves its connections. As in
/// Envoy, the last filter must be a terminal one and no other may be: `sni_cluster` filters
/// before the terminal one are accepted, and change where a `tcp_proxy` connects (before a
/// connection manager they have no effect).
pub(super) fn network_filters(
    filters: &[Filter],
    path: &FieldPath,
) -> Result<NetworkFilter, FieldError> {
    let Some((terminal, others)) = filters.split_last() else {
        return Err(FieldError::new(path.clone(), "must not be empty"));
    };
    let mut sni = false;
    for (i, f) in others.iter().enumerate() {
        let path = path.index(i);
        let (kind, any) = kind(f, &path)?;
        match kind {
            Kind::SniCluster => {
                // Nothing to configure: decoding is the whole check.
                unpack::<PbSniCluster>(any, &path.field("typed_config"))?;
                sni = true;
            }
            Kind::Hcm | Kind::TcpProxy => {
                return Err(FieldError::new(
                    path,
                    format!(
                        "{} is a terminal filter: it must be the last filter of the chain",
                        kind.name()
                    ),
                ));
            }
        }
    }
    let path = path.index(others.len());
    let (kind, any) = kind(terminal, &path)?;
    let config_path = path.field("typed_config");
    match kind {
        Kind::Hcm => {
            let hcm = unpack::<PbHcm>(any, &config_path)?;
            Ok(NetworkFilter::Http(Arc::new(http_connection_manager(
                &hcm,
                &config_path,
            )?)))
        }
        Kind::TcpProxy => {
            let proxy = unpack::<PbTcpProxy>(any, &config_path)?;
            let mut compiled = tcp_proxy(&proxy, &config_path)?;
            compiled.sni_cluster = sni;
            Ok(NetworkFilter::Tcp(Arc::new(compiled)))
        }
        Kind::SniCluster => Err(FieldError::new(
            path,
            "sni_cluster is not a terminal filter: the chain must end with \
             http_connection_manager or tcp_proxy",
        )),
    }
}

/// Which filter `f` (at `path`) is, and its config.
fn kind<'f>(f: &'f Filter, path: &FieldPath) -> Result<(Kind, &'f Any), FieldError> {
    let any = match &f.config_type {
        Some(filter::ConfigType::TypedConfig(any)) => any,
        Some(filter::ConfigType::ConfigDiscovery(_)) => {
            return Err(FieldError::unsupported(path.field("config_discovery")));
        }
        None => return Err(FieldError::new(path.field("typed_config"), "is required")),
    };
    let kind = if any.type_url == PbHcm::type_url() {
        Kind::Hcm
    } else if any.type_url == PbTcpProxy::type_url() {
        Kind::TcpProxy
    } else if any.type_url == PbSniCluster::type_url() {
        Kind::SniCluster
    } else {
        return Err(FieldError::new(
            path.field("typed_config"),
            format!(
                "network filter {:?} is not supported by mesh-proxy",
                any.type_url
            ),
        ));
    };
    Ok((kind, any))
}

// === impl Kind ===

impl Kind {
    /// The filter's short name, as errors say it.
    fn name(self) -> &'static str {
        match self {
            Self::Hcm => "http_connection_manager",
            Self::TcpProxy => "tcp_proxy",
            Self::SniCluster => "sni_cluster",
        }
    }
}

#[cfg(test)]
mod tests;
