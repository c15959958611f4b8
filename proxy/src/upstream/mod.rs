//! Reaching a cluster's endpoints: which endpoint takes a request or connection, and the
//! connections made to it. Shared by the HTTP router and the TCP proxy so that both fail the
//! same way with the same flags, and are counted alike.

mod breaker;
mod connections;
mod keepalive;
mod pool;
mod retire;
mod select;
mod stream;

pub use self::breaker::{
    Admission, CircuitBreaker, ConnectionPermit, Overflow, RetryPermit, Thresholds,
};
pub use self::connections::{
    ClusterConnections, ConnectionStats, OpenUpstream, Overflows, UpstreamConnections,
};
pub use self::keepalive::set_keepalive;
pub use self::pool::{
    BoxError, CountedStream, FixedConnector, PoolProtocol, Pools, UpstreamBody, UpstreamClient,
    UpstreamResponseBody,
};
pub use self::select::{Selected, UpstreamError, select_endpoint, select_hashed_endpoint};
pub use self::stream::{UpstreamStream, connect};
