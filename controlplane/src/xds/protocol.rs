//! What the two ADS variants share: the outcome of a request, and the ACK/NACK bookkeeping of
//! one resource type.

use envoy_types::pb::google::rpc;

/// What the server should do about a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Generate the type's resources and respond, even if nothing changed: a first request, or
    /// one that subscribed to more. Any ACK it carried is recorded.
    Respond,
    /// The proxy ACKed the last response.
    Ack,
    /// The proxy rejected the last response; it keeps the previous version.
    Nack(String),
    /// Nothing to do.
    Ignore(IgnoreReason),
}

/// Why a request needs nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// It answers a response older than the last one sent, which supersedes it.
    StaleNonce,
    /// A type mesh.rs does not serve.
    UnsupportedType,
    /// It only unsubscribed, or repeated what we know.
    NothingNew,
}

/// A request the server cannot work with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// The first request of a stream must say which proxy is asking.
    #[error("the first request on a stream carries no node")]
    MissingNode,
}

/// The progress of one resource type on one connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The nonce of the last response; only a request carrying it ACKs or NACKs.
    pub nonce: Option<String>,
    /// The version of the last response.
    pub version_sent: Option<String>,
    /// The last version the proxy accepted.
    pub version_acked: Option<String>,
    /// The error of the last NACK, cleared by the next ACK.
    pub last_nack: Option<String>,
}

// === impl Progress ===

impl Progress {
    /// Records the ACK or NACK of the last response.
    pub(crate) fn answer(&mut self, error: Option<&rpc::Status>) -> Action {
        match error {
            None => {
                self.version_acked.clone_from(&self.version_sent);
                self.last_nack = None;
                Action::Ack
            }
            Some(status) => {
                // The proxy keeps its previous version; the rejected one stays "sent", so the
                // same content is not pushed again.
                self.last_nack = Some(status.message.clone());
                Action::Nack(status.message.clone())
            }
        }
    }

    /// Records a response about to be sent.
    pub(crate) fn sent(&mut self, nonce: String, version: String) {
        self.nonce = Some(nonce);
        self.version_sent = Some(version);
    }
}
