//! What to capture: the typed form of `mesh-proxy init`'s flags.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use mesh_common::well_known::{PROXY_UID, proxy_ports};

/// Which traffic a pod's iptables rules send through the proxy. Only IPv4 is captured so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureConfig {
    /// The user id the proxy runs as; its own connections are never captured.
    pub proxy_uid: u32,
    /// The group id the proxy runs as; likewise never captured.
    pub proxy_gid: u32,
    /// Where inbound connections are redirected.
    pub inbound_capture_port: u16,
    /// Where outbound connections are redirected.
    pub outbound_capture_port: u16,
    /// Outbound destinations captured.
    pub include_outbound_cidrs: Selection<Ipv4Cidr>,
    /// Outbound destinations left alone, even when included.
    pub exclude_outbound_cidrs: List<Ipv4Cidr>,
    /// Inbound destination ports captured.
    pub include_inbound_ports: Selection<Port>,
    /// Inbound destination ports left alone; the proxy's own ports always are.
    pub exclude_inbound_ports: List<Port>,
    /// Outbound destination ports left alone.
    pub exclude_outbound_ports: List<Port>,
}

/// `*` (everything) or a comma-separated list, possibly empty (nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection<T> {
    All,
    Only(Vec<T>),
}

/// A comma-separated list, possibly empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

/// An IPv4 network; a bare address is a /32. Host bits are cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix: u8,
}

/// A TCP port, never 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port(pub u16);

/// A flag value that does not parse. Clap names the flag and the value around the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("`{0}` is not an IPv4 address or CIDR, like 198.18.0.0/16")]
    Cidr(String),
    #[error("`{0}` is IPv6, and only IPv4 traffic is captured so far")]
    Ipv6(String),
    #[error("`{0}` is not a port number from 1 to 65535")]
    Port(String),
    #[error("`*` means every value and cannot be combined with others")]
    MixedWildcard,
}

// === impl CaptureConfig ===

impl Default for CaptureConfig {
    /// Istio's defaults: everything in and out is captured, except the proxy's own traffic.
    fn default() -> Self {
        Self {
            proxy_uid: PROXY_UID,
            proxy_gid: PROXY_UID,
            inbound_capture_port: proxy_ports::INBOUND_CAPTURE,
            outbound_capture_port: proxy_ports::OUTBOUND_CAPTURE,
            include_outbound_cidrs: Selection::All,
            exclude_outbound_cidrs: List::default(),
            include_inbound_ports: Selection::All,
            exclude_inbound_ports: List::default(),
            exclude_outbound_ports: List::default(),
        }
    }
}

impl CaptureConfig {
    /// Inbound ports never captured: the proxy's own (so probes and scrapes reach it, and a
    /// redirect can never loop), then the configured exclusions, without repeats.
    pub fn inbound_ports_excluded(&self) -> Vec<Port> {
        let mut ports: Vec<Port> = proxy_ports::ALL.iter().map(|&p| Port(p)).collect();
        for port in [self.inbound_capture_port, self.outbound_capture_port]
            .map(Port)
            .iter()
            .chain(&self.exclude_inbound_ports.0)
        {
            if !ports.contains(port) {
                ports.push(*port);
            }
        }
        ports
    }
}

// === impl Selection ===

impl<T: FromStr<Err = InputError>> FromStr for Selection<T> {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, InputError> {
        if s.trim() == "*" {
            return Ok(Self::All);
        }
        let List(items) = s.parse()?;
        Ok(Self::Only(items))
    }
}

// === impl List ===

impl<T> Default for List<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: FromStr<Err = InputError>> FromStr for List<T> {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, InputError> {
        s.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                if item == "*" {
                    Err(InputError::MixedWildcard)
                } else {
                    item.parse()
                }
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

// === impl Ipv4Cidr ===

impl Ipv4Cidr {
    /// The network; `prefix` above 32 is clamped to 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        let prefix = prefix.min(32);
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        Self {
            addr: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        }
    }
}

impl FromStr for Ipv4Cidr {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, InputError> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr = match addr.parse::<IpAddr>() {
            Ok(IpAddr::V4(addr)) => addr,
            Ok(IpAddr::V6(_)) => return Err(InputError::Ipv6(s.to_owned())),
            Err(_) => return Err(InputError::Cidr(s.to_owned())),
        };
        let prefix = match prefix {
            None => 32,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= 32 && !prefix.starts_with('+'))
                .ok_or_else(|| InputError::Cidr(s.to_owned()))?,
        };
        Ok(Self::new(addr, prefix))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

// === impl Port ===

impl FromStr for Port {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, InputError> {
        match s.parse::<u16>() {
            Ok(port) if port != 0 && !s.starts_with('+') => Ok(Self(port)),
            _ => Err(InputError::Port(s.to_owned())),
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
