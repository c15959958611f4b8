//! The state of one delta (incremental) ADS connection.
//!
//! The server tracks, per type, which resources the proxy has and at which version (a content
//! hash), so a response carries only what changed and names what was removed. Subscription
//! changes apply whatever nonce a request carries: in delta xDS they are increments, and
//! dropping one would lose it; only the ACK/NACK reading depends on the nonce.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use envoy_types::pb::envoy::service::discovery::v3::{
    self as discovery, DeltaDiscoveryRequest, DeltaDiscoveryResponse,
};
use mesh_xds::ResourceType;

use super::{
    connection::{ConnectionState, TypeState},
    encoded::Encoded,
    generator::Subscription,
    hash,
    protocol::{Action, IgnoreReason, Progress, ProtocolError},
};

/// One delta ADS stream.
#[derive(Debug, Default)]
pub struct DeltaConnection {
    state: ConnectionState<DeltaType>,
}

/// What a delta stream keeps of one type: the subscription built up by increments, and what
/// the proxy has.
#[derive(Debug, Default)]
pub struct DeltaType {
    wildcard: bool,
    names: BTreeSet<String>,
    /// Names subscribed since the last response: each gets an answer, if only "removed".
    new_names: BTreeSet<String>,
    /// What the proxy has (or was last sent): name → version.
    known: BTreeMap<String, String>,
    progress: Progress,
}

// === impl DeltaConnection ===

impl DeltaConnection {
    /// A connection that has received nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The proxy, what it asked for, and how far it got.
    pub fn state(&self) -> &ConnectionState<DeltaType> {
        &self.state
    }

    /// Takes in a request and says what to do about it.
    pub fn on_request(&mut self, request: &DeltaDiscoveryRequest) -> Result<Action, ProtocolError> {
        let Some(kind) = self.state.begin(request.node.as_ref(), &request.type_url)? else {
            return Ok(Action::Ignore(IgnoreReason::UnsupportedType));
        };
        let types = self.state.types();
        let first = !types.contains_key(&kind);
        let state = types.entry(kind).or_default();
        if first {
            // No names on the first request is the legacy wildcard. A reconnecting proxy says
            // what it has, so that it is not sent again.
            state.wildcard = request.resource_names_subscribe.is_empty();
            state.known = request
                .initial_resource_versions
                .iter()
                .map(|(name, version)| (name.clone(), version.clone()))
                .collect();
        }
        let mut more = first;
        for name in &request.resource_names_subscribe {
            if name == "*" {
                more |= !state.wildcard;
                state.wildcard = true;
            } else if state.names.insert(name.clone()) {
                state.new_names.insert(name.clone());
                more = true;
            }
        }
        for name in &request.resource_names_unsubscribe {
            if name == "*" {
                state.wildcard = false;
            } else {
                state.names.remove(name);
                state.new_names.remove(name);
            }
        }
        if !state.wildcard {
            // The proxy forgets what it unsubscribed from; so do we.
            let names = &state.names;
            state.known.retain(|name, _| names.contains(name));
        }
        let answer = match &state.progress.nonce {
            _ if request.response_nonce.is_empty() => None,
            Some(nonce) if *nonce == request.response_nonce => {
                Some(state.progress.answer(request.error_detail.as_ref()))
            }
            _ => Some(Action::Ignore(IgnoreReason::StaleNonce)),
        };
        Ok(match answer {
            _ if more => Action::Respond,
            Some(answer) => answer,
            None => Action::Ignore(IgnoreReason::NothingNew),
        })
    }

    /// The response bringing the proxy from what it has to `resources` of `kind`: changed
    /// resources, and the names of removed ones. `None` if the proxy did not ask for the type,
    /// or if nothing changed and the response is not `forced` (a request awaits it).
    pub fn respond(
        &mut self,
        kind: ResourceType,
        resources: Vec<Arc<Encoded>>,
        forced: bool,
    ) -> Option<DeltaDiscoveryResponse> {
        let state = self.state.types().get_mut(&kind)?;
        let subscription = state.subscription();
        let current: BTreeMap<&str, &Arc<Encoded>> = resources
            .iter()
            .filter(|resource| subscription.contains(resource.name()))
            .map(|resource| (resource.name(), resource))
            .collect();
        let mut removed: BTreeSet<String> = state
            .known
            .keys()
            .filter(|name| !current.contains_key(name.as_str()))
            .cloned()
            .collect();
        // A name subscribed to that does not exist is answered as removed, so the proxy does
        // not wait for it.
        removed.extend(
            std::mem::take(&mut state.new_names)
                .into_iter()
                .filter(|name| !current.contains_key(name.as_str())),
        );
        let system_version =
            hash::response_version(current.values().map(|r| (r.name(), r.version())));
        let changed: Vec<&Arc<Encoded>> = current
            .into_values()
            .filter(|r| state.known.get(r.name()).map(String::as_str) != Some(r.version()))
            .collect();
        if changed.is_empty() && removed.is_empty() && !forced {
            return None;
        }
        for name in &removed {
            state.known.remove(name);
        }
        let resources = changed
            .into_iter()
            .map(|r| {
                state
                    .known
                    .insert(r.name().to_owned(), r.version().to_owned());
                discovery::Resource {
                    name: r.name().to_owned(),
                    version: r.version().to_owned(),
                    resource: Some(r.any().clone()),
                    ..discovery::Resource::default()
                }
            })
            .collect();
        let nonce = self.state.sent(kind, system_version.clone());
        Some(DeltaDiscoveryResponse {
            system_version_info: system_version,
            resources,
            type_url: kind.type_url().to_string(),
            removed_resources: removed.into_iter().collect(),
            nonce,
            ..DeltaDiscoveryResponse::default()
        })
    }
}

// === impl DeltaType ===

impl TypeState for DeltaType {
    fn subscription(&self) -> Subscription {
        if self.wildcard {
            Subscription::Wildcard
        } else {
            Subscription::Names(self.names.clone())
        }
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn progress_mut(&mut self) -> &mut Progress {
        &mut self.progress
    }
}

#[cfg(test)]
mod tests;
