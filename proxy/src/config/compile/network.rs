//! The terminal network filter of a chain: `http_connection_manager` ([`hcm`], with its HTTP
//! filters in [`http_filters`]) or `tcp_proxy` ([`tcp_proxy`]). Each module lists what it
//! refuses and what it ignores.

mod hcm;
mod http_filters;
mod tcp_proxy;

use std::sync::Arc;

use envoy_types::pb::envoy::{
    config::listener::v3::{Filter, filter},
    extensions::filters::network::{
        http_connection_manager::v3::HttpConnectionManager as PbHcm,
        tcp_proxy::v3::TcpProxy as PbTcpProxy,
    },
};
use mesh_common::path::FieldPath;
use prost::Name;

use self::{hcm::http_connection_manager, tcp_proxy::tcp_proxy};
use super::common::unpack;
use crate::{config::NetworkFilter, config_error::FieldError};

/// Compiles a chain's terminal filter found at `path`.
pub(super) fn network_filter(f: &Filter, path: &FieldPath) -> Result<NetworkFilter, FieldError> {
    let any = match &f.config_type {
        Some(filter::ConfigType::TypedConfig(any)) => any,
        Some(filter::ConfigType::ConfigDiscovery(_)) => {
            return Err(FieldError::unsupported(path.field("config_discovery")));
        }
        None => return Err(FieldError::new(path.field("typed_config"), "is required")),
    };
    let config_path = path.field("typed_config");
    if any.type_url == PbHcm::type_url() {
        let hcm = unpack::<PbHcm>(any, &config_path)?;
        Ok(NetworkFilter::Http(Arc::new(http_connection_manager(
            &hcm,
            &config_path,
        )?)))
    } else if any.type_url == PbTcpProxy::type_url() {
        let proxy = unpack::<PbTcpProxy>(any, &config_path)?;
        Ok(NetworkFilter::Tcp(Arc::new(tcp_proxy(
            &proxy,
            &config_path,
        )?)))
    } else {
        Err(FieldError::new(
            config_path,
            format!(
                "network filter {:?} is not supported by mesh-proxy",
                any.type_url
            ),
        ))
    }
}
