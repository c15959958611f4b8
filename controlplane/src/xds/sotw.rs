//! The state of one state-of-the-world ADS connection.
//!
//! Pure: requests in, actions and responses out. The server generates resources when told to
//! and hands them to [`SotwConnection::respond`], which decides whether they are news.

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::{
    config::core::v3::Node,
    service::discovery::v3::{DiscoveryRequest, DiscoveryResponse},
};
use mesh_xds::{Resource, ResourceType};

use super::{
    generator::Subscription,
    hash,
    protocol::{Action, IgnoreReason, Progress, ProtocolError},
};

/// One state-of-the-world ADS stream.
#[derive(Debug, Default)]
pub struct SotwConnection {
    node: Option<Node>,
    types: BTreeMap<ResourceType, SotwType>,
    responses: u64,
}

#[derive(Debug)]
struct SotwType {
    subscription: Subscription,
    progress: Progress,
}

// === impl SotwConnection ===

impl SotwConnection {
    /// A connection that has received nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The proxy, once its first request arrived.
    pub fn node(&self) -> Option<&Node> {
        self.node.as_ref()
    }

    /// Takes in a request and says what to do about it.
    pub fn on_request(&mut self, request: &DiscoveryRequest) -> Result<Action, ProtocolError> {
        if self.node.is_none() {
            self.node = Some(request.node.clone().ok_or(ProtocolError::MissingNode)?);
        }
        let Some(kind) = ResourceType::from_type_url(&request.type_url) else {
            return Ok(Action::Ignore(IgnoreReason::UnsupportedType));
        };
        let subscription = subscription(kind, &request.resource_names);
        let Some(state) = self.types.get_mut(&kind) else {
            // A first request, perhaps carrying a version and nonce from an earlier stream.
            self.types.insert(
                kind,
                SotwType {
                    subscription,
                    progress: Progress::default(),
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

    /// What the proxy subscribed to for `kind`, if it asked for it.
    pub fn subscription(&self, kind: ResourceType) -> Option<&Subscription> {
        self.types.get(&kind).map(|state| &state.subscription)
    }

    /// The types the proxy asked for, in the order to push them (CDS, EDS, LDS, RDS, SDS).
    pub fn subscribed(&self) -> Vec<ResourceType> {
        ResourceType::ALL
            .into_iter()
            .filter(|kind| self.types.contains_key(kind))
            .collect()
    }

    /// The ACK/NACK progress of `kind`.
    pub fn progress(&self, kind: ResourceType) -> Option<&Progress> {
        self.types.get(&kind).map(|state| &state.progress)
    }

    /// The response carrying `resources` of `kind`, or `None` if the proxy did not ask for the
    /// type, or if they are what was last sent and the response is not `forced` (a request
    /// awaits it). Content last sent includes content the proxy NACKed: it is not resent.
    pub fn respond(
        &mut self,
        kind: ResourceType,
        resources: Vec<Resource>,
        forced: bool,
    ) -> Option<DiscoveryResponse> {
        let state = self.types.get_mut(&kind)?;
        let resources: Vec<_> = resources
            .into_iter()
            .filter(|resource| state.subscription.contains(resource.name()))
            .map(Resource::into_any)
            .collect();
        let version = hash::response_version(&resources);
        if !forced && state.progress.version_sent.as_ref() == Some(&version) {
            return None;
        }
        self.responses += 1;
        let nonce = self.responses.to_string();
        state.progress.sent(nonce.clone(), version.clone());
        Some(DiscoveryResponse {
            version_info: version,
            resources,
            type_url: kind.type_url().to_string(),
            nonce,
            ..DiscoveryResponse::default()
        })
    }
}

/// The subscription a state-of-the-world request names. Names arrive in no stable order, so
/// they are a set. Envoy asks for listeners and clusters with no names: a wildcard.
fn subscription(kind: ResourceType, names: &[String]) -> Subscription {
    let wildcard_by_default = matches!(kind, ResourceType::Listener | ResourceType::Cluster);
    if (names.is_empty() && wildcard_by_default) || names.iter().any(|name| name == "*") {
        Subscription::Wildcard
    } else {
        Subscription::Names(names.iter().cloned().collect::<BTreeSet<_>>())
    }
}

#[cfg(test)]
mod tests;
