use clap::CommandFactory;

use super::*;

#[test]
fn the_command_line_is_well_formed() {
    Args::command().debug_assert();
}

fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
    let args = Args::try_parse_from(["mesh-controlplane", "run"].iter().chain(args))?;
    let Command::Run(run) = args.command;
    Ok(run)
}

#[test]
fn run_has_local_defaults() {
    let run = parse(&["--config-dir", "a", "--config-dir", "b"]).unwrap();
    assert_eq!(run.config_dirs, [PathBuf::from("a"), PathBuf::from("b")]);
    assert_eq!(run.xds_address, "127.0.0.1:15010".parse().unwrap());
    assert_eq!(run.monitoring_address, "127.0.0.1:15014".parse().unwrap());
    assert_eq!(run.debounce, Duration::from_millis(100));
    assert_eq!(run.mesh_config, None);
    assert_eq!(run.log_format, LogFormat::Text);
    let config = run.config().unwrap();
    assert_eq!(config.mesh, MeshConfig::default());
    assert_eq!(
        config.source,
        Source::ConfigDirs(vec![PathBuf::from("a"), PathBuf::from("b")])
    );
    assert_eq!(config.debounce, Duration::from_millis(100));
}

#[test]
fn run_takes_every_flag() {
    let run = parse(&[
        "--config-dir=conf",
        "--xds-address=0.0.0.0:0",
        "--monitoring-address=[::1]:9000",
        "--debounce=1s",
        "--log-level=debug",
        "--log-format=json",
    ])
    .unwrap();
    assert_eq!(run.xds_address, "0.0.0.0:0".parse().unwrap());
    assert_eq!(run.monitoring_address, "[::1]:9000".parse().unwrap());
    assert_eq!(run.debounce, Duration::from_secs(1));
    assert_eq!(run.log_level, "debug");
    assert_eq!(run.log_format, LogFormat::Json);
}

#[test]
fn without_a_config_dir_it_watches_kubernetes() {
    let run = parse(&[]).unwrap();
    assert_eq!(
        run.config().unwrap().source,
        Source::Kubernetes(KubeSource::default())
    );
    let run = parse(&["--kubeconfig", "kc.yaml", "--context=kind-mesh"]).unwrap();
    assert_eq!(
        run.config().unwrap().source,
        Source::Kubernetes(KubeSource {
            kubeconfig: Some(PathBuf::from("kc.yaml")),
            context: Some("kind-mesh".to_string()),
        })
    );
}

#[test]
fn a_kubeconfig_and_a_config_dir_exclude_each_other() {
    for flag in ["--kubeconfig=kc.yaml", "--context=kind-mesh"] {
        let error = parse(&["--config-dir=conf", flag]).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::ArgumentConflict,
            "{flag}"
        );
    }
}

#[test]
fn durations() {
    assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
    for bad in ["", "100", "ms", "1.2.3s", "5 s", "3d"] {
        assert_eq!(
            parse_duration(bad),
            Err(format!("{bad:?} is not a duration such as 100ms, 2s or 1m")),
            "{bad}"
        );
    }
}
