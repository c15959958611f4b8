//! The state of one state-of-the-world ADS connection.
//!
//! Pure: requests in, actions and responses out. The server generates resources when told to
//! and hands them to [`SotwConnection::respond`], which decides whether they are news.
//!
//! Only listener and cluster responses must hold the whole state of the world (one left out is
//! deleted). Load assignments, routes and secrets are asked for by name and each stands alone,
//! so a push carries only those that changed since the last response: an endpoint change sends
//! one load assignment, not all of them.

use std::sync::Arc;

use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use mesh_xds::ResourceType;

use super::{
    connection::{ConnectionState, TypeState},
    encoded::Encoded,
    generator::Subscription,
    list::ResourceList,
    names::Interest,
    protocol::{Action, IgnoreReason, Progress, ProtocolError},
    wire::Outgoing,
};

/// One state-of-the-world ADS stream.
#[derive(Debug, Default)]
pub struct SotwConnection {
    state: ConnectionState<SotwType>,
}

/// What a state-of-the-world stream keeps of one type: the names of the last request.
#[derive(Debug)]
pub struct SotwType {
    /// Interned: a proxy holds a pointer per name, not a copy.
    subscription: Interest,
    progress: Progress,
    /// Of a type asked for by name: what the proxy was sent, so that a push carries only what
    /// changed. One handle to the list it was cut from (shared with the group's streams).
    sent: ResourceList,
}

// === impl SotwConnection ===

impl SotwConnection {
    /// A connection that has received nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The proxy, what it asked for, and how far it got.
    pub fn state(&self) -> &ConnectionState<SotwType> {
        &self.state
    }

    /// Takes in a request and says what to do about it.
    pub fn on_request(&mut self, request: &DiscoveryRequest) -> Result<Action, ProtocolError> {
        let Some(kind) = self.state.begin(request.node.as_ref(), &request.type_url)? else {
            return Ok(Action::Ignore(IgnoreReason::UnsupportedType));
        };
        let subscription = subscription(kind, &request.resource_names);
        let types = self.state.types();
        let Some(state) = types.get_mut(&kind) else {
            // A first request, perhaps carrying a version and nonce from an earlier stream.
            types.insert(
                kind,
                SotwType {
                    subscription,
                    progress: Progress::default(),
                    sent: ResourceList::default(),
                },
            );
            return Ok(Action::Respond);
        };
        let Some(nonce) = &state.progress.nonce else {
            // Asked again before we answered: the latest names are what counts.
            state.subscription = subscription;
            return Ok(Action::Respond);
        };
        if *nonce != request.response_nonce {
            return Ok(Action::Ignore(IgnoreReason::StaleNonce));
        }
        let answer = state.progress.answer(request.error_detail.as_ref());
        if answer == Action::Ack && subscription != state.subscription {
            // Envoy ACKs and changes its names in one request, e.g. EDS after new clusters.
            state.subscription = subscription;
            return Ok(Action::Respond);
        }
        Ok(answer)
    }

    /// The response carrying `resources` of `kind`, or `None` if the proxy did not ask for the
    /// type, or if they are what was last sent and the response is not `forced` (a request
    /// awaits it). Content last sent includes content the proxy NACKed: it is not resent.
    ///
    /// A forced response, and every listener or cluster response, holds every resource
    /// subscribed; a push of a type asked for by name holds those that changed or are new (none
    /// when resources only went away: the response then says the version moved on).
    pub fn respond(
        &mut self,
        kind: ResourceType,
        resources: impl Into<ResourceList>,
        forced: bool,
    ) -> Option<Outgoing<DiscoveryResponse>> {
        let state = self.state.types().get_mut(&kind)?;
        // The list and its version are shared by every stream with the same subscription:
        // neither is worked out per stream.
        let resources = state.subscription.select(&resources.into());
        let version = resources.version().to_string();
        if !forced && state.progress.version_sent.as_ref() == Some(&version) {
            return None;
        }
        let whole = matches!(kind, ResourceType::Listener | ResourceType::Cluster);
        let send: Vec<Arc<Encoded>> = match forced || whole {
            true => resources.to_vec(),
            false => resources.changes_since(&state.sent).changed.clone(),
        };
        if !whole {
            state.sent = resources;
        }
        let nonce = self.state.sent(kind, version.clone());
        Some(Outgoing {
            message: DiscoveryResponse {
                version_info: version,
                type_url: kind.type_url().to_string(),
                nonce,
                ..DiscoveryResponse::default()
            },
            resources: send,
        })
    }
}

// === impl SotwType ===

impl TypeState for SotwType {
    fn subscription(&self) -> Subscription {
        self.subscription.to_subscription()
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn progress_mut(&mut self) -> &mut Progress {
        &mut self.progress
    }
}

/// The subscription a state-of-the-world request names. Names arrive in no stable order, so
/// they are a set. Envoy asks for listeners and clusters with no names: a wildcard.
fn subscription(kind: ResourceType, names: &[String]) -> Interest {
    let wildcard_by_default = matches!(kind, ResourceType::Listener | ResourceType::Cluster);
    if (names.is_empty() && wildcard_by_default) || names.iter().any(|name| name == "*") {
        Interest {
            wildcard: true,
            ..Interest::default()
        }
    } else {
        Interest {
            wildcard: false,
            names: Interest::names(names.iter().map(String::as_str)),
        }
    }
}

#[cfg(test)]
use super::hash;

#[cfg(test)]
mod tests;
