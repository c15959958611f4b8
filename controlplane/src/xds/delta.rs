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
    list::ResourceList,
    names::{NameSet, intern, intern_set},
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
    /// Interned, and the set too: the streams that subscribed to the same names share one.
    names: NameSet,
    /// Names subscribed since the last response: each gets an answer, if only "removed".
    new_names: BTreeSet<Arc<str>>,
    /// What the proxy has (or was last sent): one handle to the list it was cut from, shared
    /// with the streams that were sent the same.
    sent: ResourceList,
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
        // Copied on write: the set may be shared with other streams.
        let mut names: Option<BTreeSet<Arc<str>>> = None;
        for name in &request.resource_names_subscribe {
            if name == "*" {
                more |= !state.wildcard;
                state.wildcard = true;
            } else if !names
                .as_ref()
                .unwrap_or(&state.names)
                .contains(name.as_str())
            {
                let name = intern(name);
                (names.get_or_insert_with(|| (*state.names).clone())).insert(Arc::clone(&name));
                state.new_names.insert(name);
                more = true;
            }
        }
        for name in &request.resource_names_unsubscribe {
            if name == "*" {
                state.wildcard = false;
            } else if names
                .as_ref()
                .unwrap_or(&state.names)
                .contains(name.as_str())
            {
                (names.get_or_insert_with(|| (*state.names).clone())).remove(name.as_str());
            }
            if name != "*" {
                state.new_names.remove(name.as_str());
            }
        }
        if let Some(names) = names {
            state.names = intern_set(names);
        }
        if !state.wildcard {
            // The proxy forgets what it unsubscribed from; so do we.
            let names = &state.names;
            if state.sent.iter().any(|r| !names.contains(r.name())) {
                let kept = state.sent.iter().filter(|r| names.contains(r.name()));
                state.sent = kept.cloned().collect();
            }
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
        resources: impl Into<ResourceList>,
        forced: bool,
    ) -> Option<Outgoing<DeltaDiscoveryResponse>> {
        let state = self.state.types().get_mut(&kind)?;
        let resources = resources.into();
        let current = match state.wildcard {
            true => resources,
            false => resources.select(&state.names),
        };
        let (resources, removed) = match state.reported.is_empty() && state.new_names.is_empty() {
            // A push to a proxy that has what it was sent: the difference between two lists,
            // worked out once for every stream that was sent the same.
            true => {
                let diff = current.changes_since(&state.sent);
                let removed = diff.removed.iter().map(|name| name.to_string());
                (diff.changed.clone(), removed.collect())
            }
            false => state.catch_up(&current),
        };
        if resources.is_empty() && removed.is_empty() && !forced {
            return None;
        }
        let system_version = current.version().to_string();
        // The proxy now has exactly the current resources: those it had unchanged, and those
        // just sent.
        state.reported.clear();
        state.sent = current;
        let nonce = self.state.sent(kind, system_version.clone());
        Some(Outgoing {
            message: DeltaDiscoveryResponse {
                system_version_info: system_version,
                type_url: kind.type_url().to_string(),
                removed_resources: removed,
                nonce,
                ..DeltaDiscoveryResponse::default()
            },
            resources,
        })
    }
}

// === impl DeltaType ===

impl DeltaType {
    /// What to send and what to name removed to bring the proxy to `current` when it reported
    /// what it has, or subscribed to new names (each gets an answer, if only "removed").
    fn catch_up(&mut self, current: &ResourceList) -> (Vec<Arc<Encoded>>, Vec<String>) {
        let exists = |name: &str| current.find(name).is_some();
        let mut removed: BTreeSet<String> = (self.sent.iter())
            .map(|resource| resource.name())
            .chain(self.reported.keys().map(String::as_str))
            .filter(|name| !exists(name))
            .map(str::to_owned)
            .collect();
        // A name subscribed to that does not exist is answered as removed, so the proxy does
        // not wait for it.
        removed.extend(
            std::mem::take(&mut self.new_names)
                .into_iter()
                .filter(|name| !exists(name))
                .map(|name| name.to_string()),
        );
        let changed = (current.iter())
            .filter(|r| self.known_version(r.name()) != Some(r.version()))
            .cloned()
            .collect();
        (changed, removed.into_iter().collect())
    }

    /// The version the proxy has of `name`, if it has it.
    fn known_version(&self, name: &str) -> Option<&str> {
        match self.sent.find(name) {
            Some(resource) => Some(resource.version()),
            None => self.reported.get(name).map(String::as_str),
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
