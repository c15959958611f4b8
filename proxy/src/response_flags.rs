//! Envoy's `response_flags`: why a request or connection did not get a normal upstream
//! response. Access logs and the `response_flags` metric label carry their short codes.

use std::fmt;

/// One response flag (Envoy's short code in the doc of each variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResponseFlag {
    /// `UH`: no healthy upstream host in the cluster.
    NoHealthyUpstream,
    /// `UF`: connecting to the upstream failed.
    UpstreamConnectionFailure,
    /// `UC`: the upstream connection closed or reset before a response.
    UpstreamConnectionTermination,
    /// `UT`: the upstream did not answer within the route timeout.
    UpstreamRequestTimeout,
    /// `URX`: the retry limit was reached and the last attempt failed.
    UpstreamRetryLimitExceeded,
    /// `NR`: no route (or no filter chain) for the request or connection.
    NoRouteFound,
    /// `NC`: the route names a cluster the proxy does not know.
    NoClusterFound,
    /// `DC`: the downstream closed the connection before the response completed.
    DownstreamConnectionTermination,
    /// `DI`: the request was delayed by fault injection.
    DelayInjected,
    /// `FI`: the request was aborted by fault injection.
    FaultInjected,
    /// `SI`: the stream idle timeout fired.
    StreamIdleTimeout,
    /// `DPE`: the downstream request did not parse.
    DownstreamProtocolError,
    /// `UPE`: the upstream response did not parse.
    UpstreamProtocolError,
    /// `UO`: a circuit breaker (connection or request limit) refused the request.
    UpstreamOverflow,
    /// `DT`: the connection reached its maximum duration (`max_downstream_connection_duration`).
    DurationTimeout,
}

impl ResponseFlag {
    /// Envoy's short code, e.g. `UH`.
    pub fn code(self) -> &'static str {
        match self {
            Self::NoHealthyUpstream => "UH",
            Self::UpstreamConnectionFailure => "UF",
            Self::UpstreamConnectionTermination => "UC",
            Self::UpstreamRequestTimeout => "UT",
            Self::UpstreamRetryLimitExceeded => "URX",
            Self::NoRouteFound => "NR",
            Self::NoClusterFound => "NC",
            Self::DownstreamConnectionTermination => "DC",
            Self::DelayInjected => "DI",
            Self::FaultInjected => "FI",
            Self::StreamIdleTimeout => "SI",
            Self::DownstreamProtocolError => "DPE",
            Self::UpstreamProtocolError => "UPE",
            Self::UpstreamOverflow => "UO",
            Self::DurationTimeout => "DT",
        }
    }
}

impl fmt::Display for ResponseFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The flags of one request or connection, printed as Envoy does: codes joined by `,`, or `-`
/// when there are none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseFlags(Vec<ResponseFlag>);

impl ResponseFlags {
    /// Adds `flag` once.
    pub fn insert(&mut self, flag: ResponseFlag) {
        if !self.0.contains(&flag) {
            self.0.push(flag);
        }
    }

    /// Whether no flag is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ResponseFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        for (i, flag) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(flag.code())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_print_as_envoy_does() {
        let mut flags = ResponseFlags::default();
        assert_eq!(flags.to_string(), "-");
        flags.insert(ResponseFlag::UpstreamConnectionFailure);
        flags.insert(ResponseFlag::UpstreamRetryLimitExceeded);
        flags.insert(ResponseFlag::UpstreamConnectionFailure);
        assert_eq!(flags.to_string(), "UF,URX");
    }
}
