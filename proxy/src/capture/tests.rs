use super::*;

const DEFAULT_SCRIPT: &str = "\
*nat
:MESH_INBOUND - [0:0]
:MESH_IN_REDIRECT - [0:0]
:MESH_OUTPUT - [0:0]
:MESH_REDIRECT - [0:0]
-A MESH_INBOUND -p tcp --dport 15001 -j RETURN
-A MESH_INBOUND -p tcp --dport 15006 -j RETURN
-A MESH_INBOUND -p tcp --dport 15000 -j RETURN
-A MESH_INBOUND -p tcp --dport 15020 -j RETURN
-A MESH_INBOUND -p tcp --dport 15021 -j RETURN
-A MESH_INBOUND -p tcp --dport 15090 -j RETURN
-A MESH_INBOUND -p tcp -j MESH_IN_REDIRECT
-A MESH_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A MESH_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
-A MESH_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j MESH_IN_REDIRECT
-A MESH_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A MESH_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A MESH_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j MESH_IN_REDIRECT
-A MESH_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A MESH_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A MESH_OUTPUT -d 127.0.0.1/32 -j RETURN
-A MESH_OUTPUT -j MESH_REDIRECT
-A MESH_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A PREROUTING -p tcp -j MESH_INBOUND
-A OUTPUT -p tcp -j MESH_OUTPUT
COMMIT
";

#[test]
fn the_default_capture_is_istios() {
    assert_eq!(CaptureConfig::default().restore_script(), DEFAULT_SCRIPT);
}

#[test]
fn includes_and_excludes_become_their_own_rules() {
    let config = CaptureConfig {
        proxy_uid: 1500,
        proxy_gid: 1501,
        inbound_capture_port: 16006,
        include_outbound_cidrs: "198.19.0.0/16,198.18.0.7".parse().unwrap(),
        exclude_outbound_cidrs: "198.19.9.9/24".parse().unwrap(),
        include_inbound_ports: "9080, 15021".parse().unwrap(),
        exclude_inbound_ports: "22,15000".parse().unwrap(),
        exclude_outbound_ports: "5432".parse().unwrap(),
        ..CaptureConfig::default()
    };
    let rules: Vec<String> = config.rules().iter().map(Rule::to_string).collect();
    assert_eq!(
        rules,
        [
            "-A MESH_INBOUND -p tcp --dport 15001 -j RETURN",
            "-A MESH_INBOUND -p tcp --dport 15006 -j RETURN",
            "-A MESH_INBOUND -p tcp --dport 15000 -j RETURN",
            "-A MESH_INBOUND -p tcp --dport 15020 -j RETURN",
            "-A MESH_INBOUND -p tcp --dport 15021 -j RETURN",
            "-A MESH_INBOUND -p tcp --dport 15090 -j RETURN",
            "-A MESH_INBOUND -p tcp --dport 16006 -j RETURN",
            "-A MESH_INBOUND -p tcp --dport 22 -j RETURN",
            "-A MESH_INBOUND -p tcp --dport 9080 -j MESH_IN_REDIRECT",
            "-A MESH_INBOUND -p tcp --dport 15021 -j MESH_IN_REDIRECT",
            "-A MESH_IN_REDIRECT -p tcp -j REDIRECT --to-ports 16006",
            "-A MESH_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN",
            "-A MESH_OUTPUT -p tcp --dport 5432 -j RETURN",
            "-A MESH_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1500 -j MESH_IN_REDIRECT",
            "-A MESH_OUTPUT -o lo -m owner ! --uid-owner 1500 -j RETURN",
            "-A MESH_OUTPUT -m owner --uid-owner 1500 -j RETURN",
            "-A MESH_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1501 -j MESH_IN_REDIRECT",
            "-A MESH_OUTPUT -o lo -m owner ! --gid-owner 1501 -j RETURN",
            "-A MESH_OUTPUT -m owner --gid-owner 1501 -j RETURN",
            "-A MESH_OUTPUT -d 127.0.0.1/32 -j RETURN",
            "-A MESH_OUTPUT -d 198.19.9.0/24 -j RETURN",
            "-A MESH_OUTPUT -d 198.19.0.0/16 -j MESH_REDIRECT",
            "-A MESH_OUTPUT -d 198.18.0.7/32 -j MESH_REDIRECT",
            "-A MESH_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
            "-A PREROUTING -p tcp -j MESH_INBOUND",
            "-A OUTPUT -p tcp -j MESH_OUTPUT",
        ]
    );
}

#[test]
fn an_empty_include_list_captures_nothing_in_that_direction() {
    let config = CaptureConfig {
        include_outbound_cidrs: "".parse().unwrap(),
        include_inbound_ports: " ".parse().unwrap(),
        ..CaptureConfig::default()
    };
    let redirects: Vec<String> = config
        .rules()
        .iter()
        .filter(|rule| rule.args.last().is_some_and(|a| a.ends_with("REDIRECT")))
        .map(Rule::to_string)
        .collect();
    // Only the proxy calling its own pod is still sent inbound.
    assert_eq!(
        redirects,
        [
            "-A MESH_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j MESH_IN_REDIRECT",
            "-A MESH_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j MESH_IN_REDIRECT",
        ]
    );
}

#[test]
fn flag_values_parse_strictly() {
    assert_eq!(
        "0.0.0.0/0".parse::<Ipv4Cidr>().unwrap().to_string(),
        "0.0.0.0/0"
    );
    assert_eq!(
        "198.18.200.1/17".parse::<Ipv4Cidr>().unwrap().to_string(),
        "198.18.128.0/17"
    );
    for bad in [
        "198.18.0.0/",
        "198.18.0.0/+8",
        "198.18.0/16",
        "x",
        "198.18.0.0/16/1",
    ] {
        assert_eq!(
            bad.parse::<Ipv4Cidr>(),
            Err(InputError::Cidr(bad.to_owned())),
            "{bad}"
        );
    }
    assert_eq!(
        "::1".parse::<Ipv4Cidr>(),
        Err(InputError::Ipv6("::1".to_owned()))
    );
    for bad in ["0", "65536", "+80", "-1", "http"] {
        assert_eq!(bad.parse::<Port>(), Err(InputError::Port(bad.to_owned())));
    }
    assert_eq!("*".parse::<Selection<Port>>(), Ok(Selection::All));
    assert_eq!(
        "80,*".parse::<Selection<Port>>(),
        Err(InputError::MixedWildcard)
    );
    assert_eq!("".parse::<List<Port>>(), Ok(List(vec![])));
}

/// Answers like iptables does for a table holding `jumps` copies of each jump rule and, when
/// `chains`, our chains.
struct Fake {
    jumps: [usize; 2],
    chains: bool,
    log: Vec<String>,
}

impl Fake {
    fn new(jumps: usize, chains: bool) -> Self {
        Self {
            jumps: [jumps; 2],
            chains,
            log: Vec::new(),
        }
    }
}

impl Exec for Fake {
    fn run(
        &mut self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<Exit, CaptureError> {
        let line = format!("{program} {}", args.join(" "));
        self.log.push(match stdin {
            Some(input) => format!("{line} <<{} lines", input.lines().count()),
            None => line,
        });
        let jumps = match args.get(3).copied() {
            Some("PREROUTING") => &mut self.jumps[0],
            _ => &mut self.jumps[1],
        };
        let code = match args.get(2).copied() {
            Some("-C") if *jumps > 0 => 0,
            Some("-C") if self.chains => 1,
            Some("-C") => 2,
            Some("-D") => {
                *jumps -= 1;
                0
            }
            Some("-S") => i32::from(!self.chains),
            Some("-X") if args[3] == "MESH_REDIRECT" => {
                return Ok(Exit {
                    code: Some(4),
                    stderr: "iptables: Resource busy.".to_owned(),
                });
            }
            _ => 0,
        };
        Ok(Exit {
            code: Some(code),
            stderr: String::new(),
        })
    }
}

#[test]
fn apply_on_a_clean_table_only_restores() {
    let mut fake = Fake::new(0, false);
    apply(&CaptureConfig::default(), &mut fake).unwrap();
    assert_eq!(
        fake.log,
        [
            "iptables -t nat -C PREROUTING -p tcp -j MESH_INBOUND",
            "iptables -t nat -C OUTPUT -p tcp -j MESH_OUTPUT",
            "iptables -t nat -S MESH_INBOUND",
            "iptables -t nat -S MESH_IN_REDIRECT",
            "iptables -t nat -S MESH_OUTPUT",
            "iptables -t nat -S MESH_REDIRECT",
            "iptables-restore --noflush <<26 lines",
        ]
    );
}

#[test]
fn cleanup_removes_every_jump_then_the_chains_and_reports_failures() {
    let mut fake = Fake::new(2, true);
    let error = cleanup(&mut fake).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`iptables -t nat -X MESH_REDIRECT` failed with exit code 4: iptables: Resource busy."
    );
    assert_eq!(
        fake.log,
        [
            "iptables -t nat -C PREROUTING -p tcp -j MESH_INBOUND",
            "iptables -t nat -D PREROUTING -p tcp -j MESH_INBOUND",
            "iptables -t nat -C PREROUTING -p tcp -j MESH_INBOUND",
            "iptables -t nat -D PREROUTING -p tcp -j MESH_INBOUND",
            "iptables -t nat -C PREROUTING -p tcp -j MESH_INBOUND",
            "iptables -t nat -C OUTPUT -p tcp -j MESH_OUTPUT",
            "iptables -t nat -D OUTPUT -p tcp -j MESH_OUTPUT",
            "iptables -t nat -C OUTPUT -p tcp -j MESH_OUTPUT",
            "iptables -t nat -D OUTPUT -p tcp -j MESH_OUTPUT",
            "iptables -t nat -C OUTPUT -p tcp -j MESH_OUTPUT",
            "iptables -t nat -S MESH_INBOUND",
            "iptables -t nat -S MESH_IN_REDIRECT",
            "iptables -t nat -S MESH_OUTPUT",
            "iptables -t nat -S MESH_REDIRECT",
            "iptables -t nat -F MESH_INBOUND",
            "iptables -t nat -F MESH_IN_REDIRECT",
            "iptables -t nat -F MESH_OUTPUT",
            "iptables -t nat -F MESH_REDIRECT",
            "iptables -t nat -X MESH_INBOUND",
            "iptables -t nat -X MESH_IN_REDIRECT",
            "iptables -t nat -X MESH_OUTPUT",
            "iptables -t nat -X MESH_REDIRECT",
        ]
    );
}

#[test]
fn a_missing_binary_says_how_to_install_it() {
    let mut exec = SystemExec;
    let error = exec
        .run("mesh-test-no-such-iptables", &["-S"], None)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "`mesh-test-no-such-iptables` was not found on PATH; install iptables (Debian/Ubuntu: \
         `apt-get install iptables`)"
    );
}

#[test]
fn the_dry_run_of_cleanup_lists_every_removal() {
    assert_eq!(
        cleanup_commands(),
        [
            "iptables -t nat -D PREROUTING -p tcp -j MESH_INBOUND",
            "iptables -t nat -D OUTPUT -p tcp -j MESH_OUTPUT",
            "iptables -t nat -F MESH_INBOUND",
            "iptables -t nat -F MESH_IN_REDIRECT",
            "iptables -t nat -F MESH_OUTPUT",
            "iptables -t nat -F MESH_REDIRECT",
            "iptables -t nat -X MESH_INBOUND",
            "iptables -t nat -X MESH_IN_REDIRECT",
            "iptables -t nat -X MESH_OUTPUT",
            "iptables -t nat -X MESH_REDIRECT",
        ]
    );
}

#[tokio::test]
async fn a_fixed_original_destination_overrides_the_socket() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    let fixed = "198.19.0.10:9080".parse().unwrap();
    assert_eq!(OriginalDst::Fixed(fixed).lookup(&accepted).unwrap(), fixed);
    // Not redirected: the kernel has no original destination (ENOENT) or, with conntrack
    // loaded, reports the address connected to.
    match OriginalDst::Socket.lookup(&accepted) {
        Ok(addr) => assert_eq!(addr, listener.local_addr().unwrap()),
        Err(error) => assert_eq!(error.raw_os_error(), Some(2), "{error}"),
    }
    drop(client);
}
