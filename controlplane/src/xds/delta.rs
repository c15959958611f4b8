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
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
};
use mesh_xds::ResourceType;

use super::{
    connection::{ConnectionState, TypeState},
    encoded::Encoded,
    generator::Subscription,
    hash,
    names::intern,
    protocol::{Action, IgnoreReason, Progress, ProtocolError},
    wire::Outgoing,
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
    /// Interned: a proxy holds a pointer per name, not a copy.
    names: BTreeSet<Arc<str>>,
    /// Names subscribed since the last response: each gets an answer, if only "removed".
    new_names: BTreeSet<Arc<str>>,
    /// What the proxy has (or was last sent), in name order: handles to the shared encodings,
    /// so that a proxy costs a pointer per resource, not a copy of its name and version.
    sent: Vec<Arc<Encoded>>,
    /// What a reconnecting proxy said it has and was not sent since: name → version.
    reported: BTreeMap<String, String>,
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
            state.reported = request
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
            } else if !state.names.contains(name.as_str()) {
                let name = intern(name);
                state.names.insert(Arc::clone(&name));
                state.new_names.insert(name);
                more = true;
            }
        }
        for name in &request.resource_names_unsubscribe {
            if name == "*" {
                state.wildcard = false;
            } else {
                state.names.remove(name.as_str());
                state.new_names.remove(name.as_str());
            }
        }
        if !state.wildcard {
            // The proxy forgets what it unsubscribed from; so do we.
            let names = &state.names;
            state
                .sent
                .retain(|resource| names.contains(resource.name()));
            state
                .reported
                .retain(|name, _| names.contains(name.as_str()));
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
    ) -> Option<Outgoing<DeltaDiscoveryResponse>> {
        let state = self.state.types().get_mut(&kind)?;
        let mut current: Vec<Arc<Encoded>> = resources
            .into_iter()
            .filter(|resource| state.wildcard || state.names.contains(resource.name()))
            .collect();
        if !current.is_sorted_by(|a, b| a.name() <= b.name()) {
            current.sort_by(|a, b| a.name().cmp(b.name()));
        }
        let exists = |name: &str| {
            current
                .binary_search_by(|resource| resource.name().cmp(name))
                .is_ok()
        };
        let mut removed: BTreeSet<String> = state
            .sent
            .iter()
            .map(|resource| resource.name())
            .chain(state.reported.keys().map(String::as_str))
            .filter(|name| !exists(name))
            .map(str::to_owned)
            .collect();
        // A name subscribed to that does not exist is answered as removed, so the proxy does
        // not wait for it.
        removed.extend(
            std::mem::take(&mut state.new_names)
                .into_iter()
                .filter(|name| !exists(name))
                .map(|name| name.to_string()),
        );
        let system_version =
            hash::response_version(current.iter().map(|r| (r.name(), r.version())));
        let changed: Vec<&Arc<Encoded>> = current
            .iter()
            .filter(|r| state.known_version(r.name()) != Some(r.version()))
            .collect();
        if changed.is_empty() && removed.is_empty() && !forced {
            return None;
        }
        let resources: Vec<Arc<Encoded>> = changed.into_iter().cloned().collect();
        // The proxy now has exactly the current resources: those it had unchanged, and those
        // just sent.
        state.reported.clear();
        state.sent = current;
        let nonce = self.state.sent(kind, system_version.clone());
        Some(Outgoing {
            message: DeltaDiscoveryResponse {
                system_version_info: system_version,
                type_url: kind.type_url().to_string(),
                removed_resources: removed.into_iter().collect(),
                nonce,
                ..DeltaDiscoveryResponse::default()
            },
            resources,
        })
    }
}

// === impl DeltaType ===

impl DeltaType {
    /// The version the proxy has of `name`, if it has it.
    fn known_version(&self, name: &str) -> Option<&str> {
        match self
            .sent
            .binary_search_by(|resource| resource.name().cmp(name))
        {
            Ok(at) => Some(self.sent[at].version()),
            Err(_) => self.reported.get(name).map(String::as_str),
        }
    }
}

impl TypeState for DeltaType {
    fn subscription(&self) -> Subscription {
        if self.wildcard {
            Subscription::Wildcard
        } else {
            Subscription::Names(self.names.iter().map(|n| n.to_string()).collect())
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
