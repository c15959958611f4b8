//! The command line of `mesh-proxy`.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::{Parser, Subcommand, ValueEnum};
use mesh_common::well_known::{PROXY_UID, proxy_ports};

use crate::capture::{CaptureConfig, Ipv4Cidr, List, Port, Selection};

/// `mesh-proxy`'s arguments. Run without a command, it prints its help and exits with status 2.
#[derive(Debug, Parser)]
#[command(
    name = "mesh-proxy",
    version,
    about = "The mesh.rs data plane: the sidecar and gateway proxy, configured over Envoy's xDS v3.",
    arg_required_else_help = true
)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `mesh-proxy`'s commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the iptables rules that send the pod's TCP traffic through the proxy.
    ///
    /// Run it as root in the pod's network namespace, as the pod's init container does. Running
    /// it again replaces the rules; `--cleanup` removes them.
    Init(InitArgs),
    /// Run the proxy: serve the listeners of an Envoy v3 bootstrap and the configuration its
    /// ADS server sends, until SIGTERM, then drain.
    Run(RunArgs),
}

/// `mesh-proxy run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The Envoy v3 Bootstrap (YAML, or JSON when the name ends in `.json`): node, static
    /// resources, ADS and admin. A stock Envoy reads the same file the same way.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub bootstrap: PathBuf,
    /// Use incremental (delta) xDS; `--xds-delta=false` uses state of the world.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub xds_delta: bool,
    /// The log filter, e.g. `info` or `mesh_proxy=debug,info` (RUST_LOG syntax).
    #[arg(
        long,
        value_name = "FILTER",
        default_value = "info",
        env = "MESH_PROXY_LOG"
    )]
    pub log_level: String,
    /// How log lines are written.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Worker threads; defaults to the number of CPUs.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// How long in-flight requests and connections may take to finish after SIGTERM.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub drain_time: Duration,
    /// Bind listeners whose address is unspecified (0.0.0.0) to this address instead, so that
    /// several proxies can share a host (the local mesh's gateway, benchmarks).
    #[arg(long, value_name = "IP")]
    pub bind_ip: Option<IpAddr>,
    /// Where `/healthz/ready` is served; `none` turns it off.
    #[arg(long, value_name = "ADDR|none", default_value = "0.0.0.0:15021")]
    pub health_address: String,
    /// Where Prometheus scrapes `/stats/prometheus`; `none` turns it off. Unset, it is
    /// 0.0.0.0:15090 (Istio's port), and a port already taken there is only a warning, so that
    /// several proxies can share a host; an address given here must bind.
    #[arg(long, value_name = "ADDR|none")]
    pub metrics_address: Option<String>,
}

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Parses `250ms`, `5s`, `2m`, or a number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 250ms, 5s or 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(value)),
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        _ => Err(format!("`{text}` is not a duration like 250ms, 5s or 2m")),
    }
}

/// `mesh-proxy init`: the flags are named after Istio's `istio-iptables`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The user id the proxy runs as; its traffic is not captured.
    #[arg(long, value_name = "UID", default_value_t = PROXY_UID)]
    pub proxy_uid: u32,
    /// The group id the proxy runs as; its traffic is not captured. Defaults to the user id.
    #[arg(long, value_name = "GID")]
    pub proxy_gid: Option<u32>,
    /// The port inbound connections are redirected to.
    #[arg(long, value_name = "PORT", default_value_t = proxy_ports::INBOUND_CAPTURE)]
    pub inbound_capture_port: u16,
    /// The port outbound connections are redirected to.
    #[arg(long, value_name = "PORT", default_value_t = proxy_ports::OUTBOUND_CAPTURE)]
    pub outbound_capture_port: u16,
    /// Outbound destinations to capture: `*` for all, or comma-separated IPv4 CIDRs.
    #[arg(long, value_name = "CIDRS", default_value = "*")]
    pub include_outbound_cidrs: Selection<Ipv4Cidr>,
    /// Outbound destinations never captured: comma-separated IPv4 CIDRs.
    #[arg(long, value_name = "CIDRS", default_value = "")]
    pub exclude_outbound_cidrs: List<Ipv4Cidr>,
    /// Inbound ports to capture: `*` for all, or comma-separated ports.
    #[arg(long, value_name = "PORTS", default_value = "*")]
    pub include_inbound_ports: Selection<Port>,
    /// Inbound ports never captured, besides the proxy's own: comma-separated ports.
    #[arg(long, value_name = "PORTS", default_value = "")]
    pub exclude_inbound_ports: List<Port>,
    /// Outbound destination ports never captured: comma-separated ports.
    #[arg(long, value_name = "PORTS", default_value = "")]
    pub exclude_outbound_ports: List<Port>,
    /// Print the rules (or, with --cleanup, the removal commands) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Remove every rule and chain `init` added, instead of adding them.
    #[arg(long)]
    pub cleanup: bool,
}

// === impl InitArgs ===

impl InitArgs {
    /// The capture the flags describe.
    pub fn capture_config(&self) -> CaptureConfig {
        CaptureConfig {
            proxy_uid: self.proxy_uid,
            proxy_gid: self.proxy_gid.unwrap_or(self.proxy_uid),
            inbound_capture_port: self.inbound_capture_port,
            outbound_capture_port: self.outbound_capture_port,
            include_outbound_cidrs: self.include_outbound_cidrs.clone(),
            exclude_outbound_cidrs: self.exclude_outbound_cidrs.clone(),
            include_inbound_ports: self.include_inbound_ports.clone(),
            exclude_inbound_ports: self.exclude_inbound_ports.clone(),
            exclude_outbound_ports: self.exclude_outbound_ports.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn init_defaults_to_istios_capture() {
        let args = Args::try_parse_from(["mesh-proxy", "init"]).unwrap();
        let Command::Init(init) = args.command else {
            panic!("not init")
        };
        assert_eq!(init.capture_config(), CaptureConfig::default());
        assert!(!init.dry_run && !init.cleanup);
    }

    #[test]
    fn init_flags_fill_the_capture_config() {
        let args = Args::try_parse_from([
            "mesh-proxy",
            "init",
            "--proxy-uid=1500",
            "--include-outbound-cidrs=198.19.0.0/16, 198.18.0.1",
            "--exclude-outbound-cidrs=198.19.3.7/24",
            "--include-inbound-ports=9080,9443",
            "--exclude-outbound-ports=",
        ])
        .unwrap();
        let Command::Init(init) = args.command else {
            panic!("not init")
        };
        let config = init.capture_config();
        assert_eq!((config.proxy_uid, config.proxy_gid), (1500, 1500));
        assert_eq!(
            config.include_outbound_cidrs,
            Selection::Only(vec![
                "198.19.0.0/16".parse().unwrap(),
                "198.18.0.1/32".parse().unwrap()
            ])
        );
        assert_eq!(
            config.exclude_outbound_cidrs.0[0].to_string(),
            "198.19.3.0/24"
        );
        assert_eq!(
            config.include_inbound_ports,
            Selection::Only(vec![Port(9080), Port(9443)])
        );
        assert_eq!(config.exclude_outbound_ports, List(vec![]));
    }

    #[test]
    fn run_defaults_suit_a_sidecar() {
        let args = Args::try_parse_from(["mesh-proxy", "run", "--bootstrap", "b.yaml"]).unwrap();
        let Command::Run(run) = args.command else {
            panic!("not run")
        };
        assert_eq!(run.bootstrap, PathBuf::from("b.yaml"));
        assert!(run.xds_delta);
        assert_eq!(run.drain_time, Duration::from_secs(5));
        assert_eq!(run.health_address, "0.0.0.0:15021");
        assert_eq!(run.metrics_address, None);
        assert_eq!((run.bind_ip, run.concurrency), (None, None));
    }

    #[test]
    fn run_flags_override_the_defaults() {
        let args = Args::try_parse_from([
            "mesh-proxy",
            "run",
            "-c",
            "b.json",
            "--xds-delta=false",
            "--drain-time=250ms",
            "--bind-ip=127.0.0.1",
            "--concurrency=1",
            "--metrics-address=127.0.0.1:15190",
        ])
        .unwrap();
        let Command::Run(run) = args.command else {
            panic!("not run")
        };
        assert!(!run.xds_delta);
        assert_eq!(run.drain_time, Duration::from_millis(250));
        assert_eq!(run.bind_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(run.concurrency, Some(1));
        assert_eq!(run.metrics_address.as_deref(), Some("127.0.0.1:15190"));
        let error = Args::try_parse_from(["mesh-proxy", "run", "-c", "b", "--drain-time=5h"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error.lines().next().unwrap(),
            "error: invalid value '5h' for '--drain-time <DURATION>': `5h` is not a duration like \
             250ms, 5s or 2m"
        );
    }

    #[test]
    fn bad_values_name_the_flag_and_the_value() {
        for (flag, message) in [
            (
                "--exclude-outbound-cidrs=198.18.0.0/33",
                "error: invalid value '198.18.0.0/33' for '--exclude-outbound-cidrs <CIDRS>': \
                 `198.18.0.0/33` is not an IPv4 address or CIDR, like 198.18.0.0/16\n",
            ),
            (
                "--include-outbound-cidrs=fd00::/8",
                "error: invalid value 'fd00::/8' for '--include-outbound-cidrs <CIDRS>': \
                 `fd00::/8` is IPv6, and only IPv4 traffic is captured so far\n",
            ),
            (
                "--exclude-inbound-ports=22,0",
                "error: invalid value '22,0' for '--exclude-inbound-ports <PORTS>': `0` is not a \
                 port number from 1 to 65535\n",
            ),
            (
                "--include-inbound-ports=*,80",
                "error: invalid value '*,80' for '--include-inbound-ports <PORTS>': `*` means \
                 every value and cannot be combined with others\n",
            ),
        ] {
            let error = Args::try_parse_from(["mesh-proxy", "init", flag]).unwrap_err();
            let rendered = error.to_string();
            assert_eq!(
                rendered.lines().next().unwrap(),
                message.trim_end(),
                "{flag}"
            );
        }
    }
}
