//! The xDS server: Envoy's aggregated discovery service (ADS), state of the world and delta,
//! over gRPC.
//!
//! - [`generator`]: the seam to translation: what a proxy gets, and when the config changed.
//! - [`scope`]: which proxies, and which of their resource types, a change reaches.
//! - [`sotw`] and [`delta`]: the per-connection protocol state, pure and testable without gRPC.
//! - [`protocol`] and [`connection`]: what both variants share: request outcomes, ACK/NACK
//!   bookkeeping, the per-stream state.
//! - [`encoded`]: resources encoded once, with their versions, for every response.
//! - [`debounce`]: coalesces bursts of config changes into one push.
//! - [`status`]: who is connected and what they ACKed, for `/debug/syncz`.
//! - [`server`]: the streams of a server, and [`serve`].
//! - [`wire`]: the gRPC service, framing responses around the shared encodings and reading
//!   requests without keeping a buffer between them.
//! - [`names`]: resource names interned, shared by encodings and subscriptions.
//! - [`list`]: the lists streams are served from, and what streams cut from them, worked out
//!   once per list.

pub mod connection;
pub mod debounce;
pub mod delta;
pub mod encoded;
pub mod generator;
mod hash;
pub mod list;
pub mod names;
pub mod protocol;
pub mod scope;
pub mod server;
pub mod sotw;
pub mod status;
pub(crate) mod stream;
pub mod wire;

pub use self::{
    debounce::DebounceOptions,
    encoded::Encoded,
    generator::{Changed, GenerateError, Generator, Subscription},
    list::ResourceList,
    protocol::{Action, IgnoreReason, Progress, ProtocolError},
    scope::{Affected, Proxies, ProxyClass, Reach, Scope, Target, Within},
    server::{Options, XdsServer, serve, serve_with_shutdown},
    status::{ProxyStatus, StatusRegistry, StatusSnapshot, TypeStatus},
    wire::{AdsService, Outgoing},
};
