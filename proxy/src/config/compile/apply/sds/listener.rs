//! Listeners whose filter chains' TLS references secrets, as clusters' does (see `sds.rs`).
//!
//! Each chain's `DownstreamTlsContext` has its references resolved when the listener is
//! applied: static secrets from the bootstrap, SDS secrets from the snapshot. With every SDS
//! secret there, the listener compiles and serves as any other. Otherwise it warms, as in
//! Envoy: checked at once (each waiting chain compiled without the missing secrets, the rest of
//! the listener as it is), not bound until the secrets arrive, its previous version serving
//! meanwhile when it is an update, and ACKed since it is valid.
//!
//! A changed secret rebuilds the TLS server configuration of the active chains that reference
//! it and only theirs: the listener keeps its socket and its other chains (their session ticket
//! keys too); new connections handshake with the new secret, established ones are kept.

use std::{collections::BTreeSet, sync::Arc};

use envoy_types::pb::{
    envoy::{
        config::{
            core::v3::transport_socket::ConfigType,
            listener::v3::{FilterChain as PbFilterChain, Listener},
        },
        extensions::transport_sockets::tls::v3::{CommonTlsContext, DownstreamTlsContext},
    },
    google::protobuf::Any,
};
use mesh_common::path::FieldPath;
use prost::{Message, Name};

use crate::{
    config::{
        FilterChain, ListenerConfig, NetworkFilter, RouteSource, SdsListener, Snapshot,
        WarmingListener,
        compile::listener::{
            compile_listener,
            tls::{check_waiting, transport_socket},
        },
    },
    config_error::{ConfigError, FieldError},
    tls::{DynamicSecrets, Resolution, StaticSecrets, referenced_secrets, resolve_common},
};

const LISTENER: &str = "Listener";

/// A listener of a response, compiled against the snapshot's secrets.
pub(in crate::config::compile::apply) enum PreparedListener {
    /// Serves now; `sds` when its chains reference secrets over SDS.
    Active {
        config: ListenerConfig,
        sds: Option<Arc<SdsListener>>,
    },
    /// Waiting for `missing`; `config` is compiled with the waiting chains in plaintext, for
    /// the checks that look at the whole listener and for its routes.
    Warming {
        config: ListenerConfig,
        sds: Arc<SdsListener>,
        missing: BTreeSet<String>,
    },
}

/// Where a chain is in a `Listener`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Chain(usize),
    Default,
}

/// A chain's `DownstreamTlsContext`, and the path of its `typed_config`.
struct ChainContext {
    slot: Slot,
    path: FieldPath,
    context: DownstreamTlsContext,
}

/// Resolves the secret references of `listener`'s chains and compiles it.
pub(in crate::config::compile::apply) fn prepare_listener(
    listener: &Listener,
    statics: &StaticSecrets,
    secrets: &DynamicSecrets,
) -> Result<PreparedListener, ConfigError> {
    let in_listener = |e: FieldError| e.in_resource(LISTENER, &listener.name);
    let mut resolved = listener.clone();
    let mut names = BTreeSet::new();
    let mut missing = BTreeSet::new();
    let mut waiting = Vec::new();
    let mut changed = false;
    for chain in contexts(listener) {
        let common = chain.context.common_tls_context.clone().unwrap_or_default();
        names.extend(referenced_secrets(&common));
        let path = chain.path.field("common_tls_context");
        match resolve_common(&common, Some(statics), secrets, &path).map_err(in_listener)? {
            Resolution::Resolved(context) => {
                if context != common {
                    changed = true;
                    set_context(&mut resolved, chain.slot, &chain.context, context);
                }
            }
            Resolution::Missing {
                names: absent,
                partial,
            } => {
                let certificate_pending = common
                    .tls_certificate_sds_secret_configs
                    .iter()
                    .any(|r| absent.contains(&r.name));
                let context = DownstreamTlsContext {
                    common_tls_context: Some(partial),
                    ..chain.context.clone()
                };
                check_waiting(&context, &chain.path, certificate_pending).map_err(in_listener)?;
                missing.extend(absent);
                waiting.push(chain.slot);
            }
        }
    }
    let sds = || {
        Arc::new(SdsListener {
            listener: listener.clone(),
            secrets: names.clone(),
        })
    };
    if missing.is_empty() {
        let config = compile_listener(if changed { &resolved } else { listener })?;
        return Ok(PreparedListener::Active {
            sds: (!names.is_empty()).then(sds),
            config,
        });
    }
    // The waiting chains were checked above; the rest is checked as it is.
    for slot in waiting {
        if let Some(chain) = chain_mut(&mut resolved, slot) {
            chain.transport_socket = None;
        }
    }
    Ok(PreparedListener::Warming {
        config: compile_listener(&resolved)?,
        sds: sds(),
        missing,
    })
}

/// Puts a prepared warming listener aside.
pub(in crate::config::compile::apply) fn warm_listener(
    snapshot: &mut Snapshot,
    config: &ListenerConfig,
    sds: Arc<SdsListener>,
    missing: BTreeSet<String>,
) {
    tracing::debug!(listener = %config.name, ?missing, "listener warming on secrets");
    let warming = WarmingListener {
        sds,
        missing,
        routes: route_names(config),
    };
    snapshot
        .warming_listeners
        .insert(config.name.clone(), Arc::new(warming));
}

/// What changed secrets do to the listeners, computed before anything changes.
pub(super) struct ListenerUpdate {
    /// Active listeners with the TLS of some chains rebuilt.
    rebuilt: Vec<ListenerConfig>,
    /// Warming listeners that have every secret now.
    completed: Vec<(ListenerConfig, Option<Arc<SdsListener>>)>,
    /// Warming listeners still missing secrets, and which.
    still: Vec<(String, BTreeSet<String>)>,
}

/// What the secrets `changed` (in `secrets`, the snapshot's secrets after the update) do to
/// the snapshot's listeners; a listener that no longer compiles refuses the secret.
pub(super) fn follow_secrets(
    snapshot: &Snapshot,
    secrets: &DynamicSecrets,
    changed: &BTreeSet<String>,
) -> Result<ListenerUpdate, ConfigError> {
    let statics = &snapshot.static_secrets;
    let mut update = ListenerUpdate {
        rebuilt: Vec::new(),
        completed: Vec::new(),
        still: Vec::new(),
    };
    for (name, sds) in &snapshot.sds_listeners {
        let (Some(secret), Some(active)) = (
            super::touching(&sds.secrets, changed),
            snapshot.listeners.get(name),
        ) else {
            continue;
        };
        let config = rebuild_tls(active, sds, statics, secrets, changed)
            .map_err(|e| super::blame(secrets, &secret, &e))?;
        update.rebuilt.push(config);
    }
    for warming in snapshot.warming_listeners.values() {
        let Some(secret) = super::touching(&warming.sds.secrets, changed) else {
            continue;
        };
        match prepare_listener(&warming.sds.listener, statics, secrets)
            .map_err(|e| super::blame(secrets, &secret, &e))?
        {
            PreparedListener::Active { config, sds } => update.completed.push((config, sds)),
            PreparedListener::Warming {
                config, missing, ..
            } => update.still.push((config.name, missing)),
        }
    }
    Ok(update)
}

// === impl ListenerUpdate ===

impl ListenerUpdate {
    /// Publishes the rebuilt and completed listeners into `snapshot`.
    pub(super) fn commit(self, snapshot: &mut Snapshot) {
        for config in self.rebuilt {
            tracing::debug!(listener = %config.name, "listener TLS rebuilt: a secret changed");
            snapshot
                .listeners
                .insert(config.name.clone(), Arc::new(config));
        }
        for (name, missing) in self.still {
            if let Some(warming) = snapshot.warming_listeners.get_mut(&name) {
                *warming = Arc::new(WarmingListener {
                    missing,
                    ..WarmingListener::clone(warming)
                });
            }
        }
        for (config, sds) in self.completed {
            let name = config.name.clone();
            tracing::debug!(listener = %name, "listener warmed: its secrets arrived");
            snapshot.warming_listeners.remove(&name);
            match sds {
                Some(sds) => snapshot.sds_listeners.insert(name.clone(), sds),
                None => snapshot.sds_listeners.remove(&name),
            };
            snapshot.listeners.insert(name, Arc::new(config));
        }
    }
}

/// `active` with the TLS of the chains that reference one of `changed` rebuilt from
/// `sds.listener` against `secrets`; every other part of it is kept as it is.
fn rebuild_tls(
    active: &ListenerConfig,
    sds: &SdsListener,
    statics: &StaticSecrets,
    secrets: &DynamicSecrets,
    changed: &BTreeSet<String>,
) -> Result<ListenerConfig, ConfigError> {
    let listener = &sds.listener;
    let in_listener = |e: FieldError| e.in_resource(LISTENER, &listener.name);
    let mut out = active.clone();
    for chain in contexts(listener) {
        let common = chain.context.common_tls_context.clone().unwrap_or_default();
        if referenced_secrets(&common).is_disjoint(changed) {
            continue;
        }
        let path = chain.path.field("common_tls_context");
        // A secret an active listener references never goes: it stays resolved.
        let Resolution::Resolved(context) =
            resolve_common(&common, Some(statics), secrets, &path).map_err(in_listener)?
        else {
            continue;
        };
        let mut copy = listener.clone();
        set_context(&mut copy, chain.slot, &chain.context, context);
        let (Some(source), Some(target)) =
            (chain_ref(&copy, chain.slot), slot_mut(&mut out, chain.slot))
        else {
            continue;
        };
        target.tls = transport_socket(source, &chain_path(chain.slot)).map_err(in_listener)?;
    }
    Ok(out)
}

/// The route configurations `config`'s chains fetch over RDS.
pub(in crate::config::compile::apply) fn route_names(config: &ListenerConfig) -> BTreeSet<String> {
    config
        .filter_chains
        .iter()
        .chain(&config.default_filter_chain)
        .filter_map(|chain| match &chain.filter {
            NetworkFilter::Http(hcm) => match &hcm.routes {
                RouteSource::Rds(name) => Some(name.clone()),
                RouteSource::Inline(_) => None,
            },
            NetworkFilter::Tcp(_) => None,
        })
        .collect()
}

/// The `DownstreamTlsContext`s of `listener`'s chains that have one that decodes (anything
/// else is left for compilation to judge).
fn contexts(listener: &Listener) -> Vec<ChainContext> {
    let slots = (0..listener.filter_chains.len()).map(Slot::Chain).chain(
        listener
            .default_filter_chain
            .as_ref()
            .map(|_| Slot::Default),
    );
    slots
        .filter_map(|slot| {
            let chain = chain_ref(listener, slot)?;
            let Some(ConfigType::TypedConfig(any)) =
                chain.transport_socket.as_ref()?.config_type.as_ref()
            else {
                return None;
            };
            if any.type_url != DownstreamTlsContext::type_url() {
                return None;
            }
            let context = DownstreamTlsContext::decode(any.value.as_slice()).ok()?;
            Some(ChainContext {
                slot,
                path: chain_path(slot)
                    .field("transport_socket")
                    .field("typed_config"),
                context,
            })
        })
        .collect()
}

fn chain_path(slot: Slot) -> FieldPath {
    let root = FieldPath::root();
    match slot {
        Slot::Chain(i) => root.field("filter_chains").index(i),
        Slot::Default => root.field("default_filter_chain"),
    }
}

fn chain_ref(listener: &Listener, slot: Slot) -> Option<&PbFilterChain> {
    match slot {
        Slot::Chain(i) => listener.filter_chains.get(i),
        Slot::Default => listener.default_filter_chain.as_ref(),
    }
}

fn chain_mut(listener: &mut Listener, slot: Slot) -> Option<&mut PbFilterChain> {
    match slot {
        Slot::Chain(i) => listener.filter_chains.get_mut(i),
        Slot::Default => listener.default_filter_chain.as_mut(),
    }
}

/// The compiled chain at `slot`.
fn slot_mut(config: &mut ListenerConfig, slot: Slot) -> Option<&mut FilterChain> {
    match slot {
        Slot::Chain(i) => config.filter_chains.get_mut(i),
        Slot::Default => config.default_filter_chain.as_mut(),
    }
}

/// Puts `original` with `common` as its common context into the chain at `slot`.
fn set_context(
    listener: &mut Listener,
    slot: Slot,
    original: &DownstreamTlsContext,
    common: CommonTlsContext,
) {
    let context = DownstreamTlsContext {
        common_tls_context: Some(common),
        ..original.clone()
    };
    if let Some(socket) = chain_mut(listener, slot).and_then(|c| c.transport_socket.as_mut()) {
        socket.config_type = Some(ConfigType::TypedConfig(Any {
            type_url: DownstreamTlsContext::type_url(),
            value: context.encode_to_vec(),
        }));
    }
}

#[cfg(test)]
mod tests;
