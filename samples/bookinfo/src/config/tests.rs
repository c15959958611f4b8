use super::*;

fn cli(service: ServiceKind) -> Cli {
    Cli {
        service,
        bind: IpAddr::from([0, 0, 0, 0]),
        port: DEFAULT_PORT,
        service_version: ReviewsVersion::V1,
        details_hostname: None,
        details_port: None,
        reviews_hostname: None,
        reviews_port: None,
        ratings_hostname: None,
        ratings_port: None,
        services_domain: None,
        http_proxy: None,
        podname: "reviews".to_string(),
    }
}

fn authority(s: &str) -> Authority {
    Authority(s.to_string())
}

#[test]
fn defaults_are_istios_short_names_on_9080() {
    let config = cli(ServiceKind::Productpage).into_config(None).unwrap();
    assert_eq!(
        config,
        Config {
            service: ServiceKind::Productpage,
            listen: "0.0.0.0:9080".parse().unwrap(),
            reviews_version: ReviewsVersion::V1,
            upstreams: Upstreams {
                details: authority("details:9080"),
                reviews: authority("reviews:9080"),
                ratings: authority("ratings:9080"),
            },
            http_proxy: None,
            podname: "reviews".to_string(),
            timeouts: Timeouts {
                details: Duration::from_secs(3),
                reviews: Duration::from_secs(3),
                ratings: Duration::from_secs(3),
            },
        }
    );
}

#[test]
fn services_domain_is_appended_to_default_names_only() {
    let mut cli = cli(ServiceKind::Productpage);
    cli.services_domain = Some("bookinfo.svc.cluster.local".to_string());
    cli.ratings_hostname = Some("ratings.elsewhere".to_string());
    let upstreams = cli.into_config(None).unwrap().upstreams;
    assert_eq!(
        upstreams,
        Upstreams {
            details: authority("details.bookinfo.svc.cluster.local:9080"),
            reviews: authority("reviews.bookinfo.svc.cluster.local:9080"),
            ratings: authority("ratings.elsewhere:9080"),
        }
    );
}

#[test]
fn hostnames_take_a_port_from_the_value_or_the_port_variable() {
    let mut cli = cli(ServiceKind::Productpage);
    cli.details_hostname = Some("127.0.0.1:7001".to_string());
    cli.reviews_hostname = Some("reviews-v2".to_string());
    cli.reviews_port = Some(7002);
    cli.ratings_port = Some(7003);
    let upstreams = cli.into_config(None).unwrap().upstreams;
    assert_eq!(
        upstreams,
        Upstreams {
            details: authority("127.0.0.1:7001"),
            reviews: authority("reviews-v2:7002"),
            ratings: authority("ratings:7003"),
        }
    );
}

#[test]
fn ipv6_literals_keep_their_colons() {
    assert_eq!(
        Authority::parse("X", "[::1]", 9080),
        Ok(authority("[::1]:9080"))
    );
    assert_eq!(
        Authority::parse("X", "[::1]:81", 9080),
        Ok(authority("[::1]:81"))
    );
}

#[test]
fn bad_upstream_values_are_refused() {
    assert_eq!(
        Authority::parse("DETAILS_HOSTNAME", " ", 9080),
        Err(ConfigError::Empty {
            what: "DETAILS_HOSTNAME"
        })
    );
    assert_eq!(
        Authority::parse("DETAILS_HOSTNAME", "details:http", 9080),
        Err(ConfigError::InvalidPort {
            what: "DETAILS_HOSTNAME",
            value: "details:http".to_string()
        })
    );
    assert_eq!(
        Authority::parse("DETAILS_HOSTNAME", "details:0", 9080)
            .unwrap_err()
            .to_string(),
        "DETAILS_HOSTNAME: invalid port in \"details:0\""
    );
}

#[test]
fn http_proxy_is_read_from_either_variable_lower_case_first() {
    let mut lower = cli(ServiceKind::Reviews);
    lower.http_proxy = Some("http://127.0.0.1:15001/".to_string());
    assert_eq!(
        lower
            .into_config(Some("other:1".to_string()))
            .unwrap()
            .http_proxy,
        Some(authority("127.0.0.1:15001"))
    );
    let upper = cli(ServiceKind::Reviews);
    assert_eq!(
        upper
            .into_config(Some("proxy".to_string()))
            .unwrap()
            .http_proxy,
        Some(authority("proxy:80"))
    );
    let mut empty = cli(ServiceKind::Reviews);
    empty.http_proxy = Some(String::new());
    assert_eq!(empty.into_config(None).unwrap().http_proxy, None);
}

#[test]
fn only_plain_http_proxies_are_accepted() {
    assert_eq!(
        Authority::proxy("https://proxy:443"),
        Err(ConfigError::UnsupportedProxy(
            "https://proxy:443".to_string()
        ))
    );
    assert_eq!(
        Authority::proxy("http://user:pw@proxy:3128"),
        Err(ConfigError::UnsupportedProxy(
            "http://user:pw@proxy:3128".to_string()
        ))
    );
}

#[test]
fn flags_parse_into_the_config() {
    let cli = Cli::try_parse_from([
        "bookinfo",
        "reviews",
        "--bind",
        "127.0.0.1",
        "--port",
        "9081",
        "--service-version",
        "v3",
        "--ratings-hostname",
        "localhost:9082",
        "--podname",
        "reviews-v3-abc",
    ])
    .unwrap();
    let config = cli.into_config(None).unwrap();
    assert_eq!(config.service, ServiceKind::Reviews);
    assert_eq!(config.listen, "127.0.0.1:9081".parse().unwrap());
    assert_eq!(config.reviews_version, ReviewsVersion::V3);
    assert_eq!(config.upstreams.ratings, authority("localhost:9082"));
    assert_eq!(config.podname, "reviews-v3-abc");
}

#[test]
fn the_command_line_is_well_formed() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}

#[test]
fn versions_wait_for_ratings_as_istios_sample_does() {
    assert_eq!(ReviewsVersion::V1.ratings_timeout(), None);
    assert_eq!(
        ReviewsVersion::V2.ratings_timeout(),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        ReviewsVersion::V3.ratings_timeout(),
        Some(Duration::from_millis(2500))
    );
    assert_eq!(ReviewsVersion::V2.star_color(), Some("black"));
    assert_eq!(ReviewsVersion::V3.star_color(), Some("red"));
}
