//! Reaching a cluster's endpoints: which endpoint takes a request or connection. Shared by the
//! HTTP router and the TCP proxy so that both fail the same way with the same flags.

mod breaker;
mod pool;
mod select;

pub use self::breaker::{Admission, CircuitBreaker, Overflow, RetryPermit, Thresholds};
pub use self::pool::{BoxError, FixedConnector, PoolProtocol, Pools, UpstreamBody, UpstreamClient};
pub use self::select::{Selected, UpstreamError, select_endpoint};
