//! The command line and environment, parsed once into a typed [`Config`].
//!
//! Upstream addresses follow Istio's sample, so the same manifests work for both: the short
//! names `details`, `reviews` and `ratings` on port 9080, a `*_HOSTNAME` variable to point
//! elsewhere, `*_SERVICE_PORT` for the port (Kubernetes sets it for every Service in the
//! namespace, as a plain number; `*_PORT` is also set there, but as `tcp://ip:port`, so it is not
//! read), and `SERVICES_DOMAIN` appended to the short names.

use std::{fmt, net::IpAddr, net::SocketAddr, time::Duration};

use clap::{Parser, ValueEnum};
use thiserror::Error;

/// The port every service listens on, and the port of every upstream, unless told otherwise.
pub const DEFAULT_PORT: u16 = 9080;

/// How long productpage waits for details, reviews or ratings, per attempt.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// `bookinfo`'s command line; every flag also reads an environment variable.
#[derive(Debug, Parser)]
#[command(
    name = "bookinfo",
    version,
    about = "The bookinfo sample application of mesh.rs, written in Rust.",
    arg_required_else_help = true
)]
pub struct Cli {
    /// Which service to run.
    #[arg(value_enum)]
    pub service: ServiceKind,

    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// The port to listen on.
    #[arg(long, env = "PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// The reviews version: v1 shows no stars, v2 black stars, v3 red stars.
    #[arg(long, env = "SERVICE_VERSION", value_enum, default_value = "v1")]
    pub service_version: ReviewsVersion,

    /// The details service's host name or `host:port`.
    #[arg(long, env = "DETAILS_HOSTNAME")]
    pub details_hostname: Option<String>,

    /// The details service's port, when the host name has none.
    #[arg(long, env = "DETAILS_SERVICE_PORT")]
    pub details_port: Option<u16>,

    /// The reviews service's host name or `host:port`.
    #[arg(long, env = "REVIEWS_HOSTNAME")]
    pub reviews_hostname: Option<String>,

    /// The reviews service's port, when the host name has none.
    #[arg(long, env = "REVIEWS_SERVICE_PORT")]
    pub reviews_port: Option<u16>,

    /// The ratings service's host name or `host:port`.
    #[arg(long, env = "RATINGS_HOSTNAME")]
    pub ratings_hostname: Option<String>,

    /// The ratings service's port, when the host name has none.
    #[arg(long, env = "RATINGS_SERVICE_PORT")]
    pub ratings_port: Option<u16>,

    /// A domain appended to the default upstream names (`details.<domain>`).
    #[arg(long, env = "SERVICES_DOMAIN")]
    pub services_domain: Option<String>,

    /// An HTTP proxy to send every upstream request to, in absolute form (also `HTTP_PROXY`).
    #[arg(long, env = "http_proxy")]
    pub http_proxy: Option<String>,

    /// The name reviews reports as `podname`.
    #[arg(long, env = "HOSTNAME", default_value = "reviews")]
    pub podname: String,
}

/// The four services of the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServiceKind {
    /// The web page and its JSON API; calls details and reviews.
    Productpage,
    /// The book's details.
    Details,
    /// The book's reviews; v2 and v3 call ratings.
    Reviews,
    /// The book's ratings.
    Ratings,
}

/// The three versions of reviews.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ReviewsVersion {
    /// Reviews without ratings.
    #[default]
    V1,
    /// Ratings as black stars.
    V2,
    /// Ratings as red stars.
    V3,
}

/// An upstream's `host:port`, used both to connect and as the `Host` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authority(String);

/// Where the upstream services are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstreams {
    /// The details service.
    pub details: Authority,
    /// The reviews service.
    pub reviews: Authority,
    /// The ratings service.
    pub ratings: Authority,
}

/// How long productpage waits for each upstream, per attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// details, one attempt.
    pub details: Duration,
    /// reviews, each of two attempts.
    pub reviews: Duration,
    /// ratings, for `/api/v1/products/<id>/ratings`.
    pub ratings: Duration,
}

/// Everything a service needs, resolved from the command line and environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Which service to run.
    pub service: ServiceKind,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The reviews version (ignored by the other services).
    pub reviews_version: ReviewsVersion,
    /// Where the upstreams are.
    pub upstreams: Upstreams,
    /// The explicit HTTP proxy (`host:port`) upstream requests go through, if any.
    pub http_proxy: Option<Authority>,
    /// The name reviews reports as `podname`.
    pub podname: String,
    /// productpage's upstream timeouts.
    pub timeouts: Timeouts,
}

/// A value that cannot be an upstream address.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// An empty host name or proxy.
    #[error("{what}: must not be empty")]
    Empty {
        /// The flag or variable.
        what: &'static str,
    },
    /// A `host:port` whose port is not a number from 1 to 65535.
    #[error("{what}: invalid port in {value:?}")]
    InvalidPort {
        /// The flag or variable.
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// A proxy URL that is not plain `http://host:port`.
    #[error("http_proxy: only http:// proxies are supported, got {0:?}")]
    UnsupportedProxy(String),
}

// === impl Cli ===

impl Cli {
    /// Resolves the command line into a [`Config`]; `http_proxy_upper` is `HTTP_PROXY`, read only
    /// when `http_proxy` is unset (clap reads one variable per flag).
    pub fn into_config(self, http_proxy_upper: Option<String>) -> Result<Config, ConfigError> {
        let domain = self.services_domain.filter(|d| !d.is_empty());
        let upstream = |what: &'static str, name: &str, host: Option<String>, port: Option<u16>| {
            let port = port.unwrap_or(DEFAULT_PORT);
            match (host, &domain) {
                (Some(host), _) => Authority::parse(what, &host, port),
                (None, Some(domain)) => Authority::parse(what, &format!("{name}.{domain}"), port),
                (None, None) => Authority::parse(what, name, port),
            }
        };
        let upstreams = Upstreams {
            details: upstream(
                "DETAILS_HOSTNAME",
                "details",
                self.details_hostname,
                self.details_port,
            )?,
            reviews: upstream(
                "REVIEWS_HOSTNAME",
                "reviews",
                self.reviews_hostname,
                self.reviews_port,
            )?,
            ratings: upstream(
                "RATINGS_HOSTNAME",
                "ratings",
                self.ratings_hostname,
                self.ratings_port,
            )?,
        };
        let http_proxy = match self.http_proxy.or(http_proxy_upper) {
            Some(proxy) if !proxy.is_empty() => Some(Authority::proxy(&proxy)?),
            _ => None,
        };
        Ok(Config {
            service: self.service,
            listen: SocketAddr::new(self.bind, self.port),
            reviews_version: self.service_version,
            upstreams,
            http_proxy,
            podname: self.podname,
            timeouts: Timeouts::default(),
        })
    }
}

// === impl ReviewsVersion ===

impl ReviewsVersion {
    /// How long reviews waits for ratings: v2 is patient, v3 is not (Istio's sample shows the
    /// difference in its timeout task). v1 never calls ratings.
    pub fn ratings_timeout(self) -> Option<Duration> {
        match self {
            Self::V1 => None,
            Self::V2 => Some(Duration::from_secs(10)),
            Self::V3 => Some(Duration::from_millis(2500)),
        }
    }

    /// The star colour this version renders, if it shows ratings.
    pub fn star_color(self) -> Option<&'static str> {
        match self {
            Self::V1 => None,
            Self::V2 => Some("black"),
            Self::V3 => Some("red"),
        }
    }
}

// === impl Authority ===

impl Authority {
    /// A `host:port`, or a `host` that gets `default_port`.
    pub fn parse(what: &'static str, value: &str, default_port: u16) -> Result<Self, ConfigError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ConfigError::Empty { what });
        }
        // A bracketed IPv6 literal carries colons of its own; only a colon after it is a port.
        let port_sep = match value.rfind(']') {
            Some(end) => value[end..].find(':').map(|i| end + i),
            None if value.matches(':').count() == 1 => value.find(':'),
            None => None,
        };
        match port_sep {
            Some(i) => {
                let port = value[i + 1..].parse::<u16>().ok().filter(|p| *p != 0);
                if port.is_none() || i == 0 {
                    return Err(ConfigError::InvalidPort {
                        what,
                        value: value.to_string(),
                    });
                }
                Ok(Self(value.to_string()))
            }
            None => Ok(Self(format!("{value}:{default_port}"))),
        }
    }

    /// An `http_proxy` value: `http://host:port[/]` or `host:port`.
    pub fn proxy(value: &str) -> Result<Self, ConfigError> {
        let rest = match value.split_once("://") {
            Some(("http", rest)) => rest,
            Some(_) => return Err(ConfigError::UnsupportedProxy(value.to_string())),
            None => value,
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains(['/', '@']) {
            return Err(ConfigError::UnsupportedProxy(value.to_string()));
        }
        Self::parse("http_proxy", rest, 80)
    }

    /// The `host:port` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// === impl Timeouts ===

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            details: DEFAULT_UPSTREAM_TIMEOUT,
            reviews: DEFAULT_UPSTREAM_TIMEOUT,
            ratings: DEFAULT_UPSTREAM_TIMEOUT,
        }
    }
}

#[cfg(test)]
mod tests;
