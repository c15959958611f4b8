//! What the TLS of clusters (DestinationRule `tls`) and of gateway servers (Gateway `tls`)
//! build alike: the transport socket's name, file and SDS data sources, and SAN matchers.

use envoy_types::pb::envoy::{
    config::core::v3::{
        AggregatedConfigSource, ApiVersion, ConfigSource, DataSource,
        config_source::ConfigSourceSpecifier, data_source::Specifier,
    },
    extensions::transport_sockets::tls::v3::{
        SdsSecretConfig, SubjectAltNameMatcher, subject_alt_name_matcher::SanType,
    },
    r#type::matcher::v3::{StringMatcher, string_matcher::MatchPattern},
};

/// The transport socket of TLS, both ways.
pub(super) const TLS_TRANSPORT_SOCKET: &str = "envoy.transport_sockets.tls";

/// The SAN types Envoy matches an untyped name against (its expansion of the deprecated
/// `match_subject_alt_names`, which Istio sets): a `subjectAltNames` entry matches a DNS, URI,
/// email or IP SAN equal to it.
pub(super) const SAN_TYPES: [SanType; 4] = [
    SanType::Dns,
    SanType::Uri,
    SanType::Email,
    SanType::IpAddress,
];

/// A secret served over the ADS stream, as Istio's `SDSAdsConfig` names it.
pub(super) fn sds(name: String) -> SdsSecretConfig {
    SdsSecretConfig {
        name,
        sds_config: Some(ConfigSource {
            config_source_specifier: Some(ConfigSourceSpecifier::Ads(
                AggregatedConfigSource::default(),
            )),
            resource_api_version: ApiVersion::V3 as i32,
            ..ConfigSource::default()
        }),
    }
}

/// A file the proxy reads.
pub(super) fn file(path: &str) -> DataSource {
    DataSource {
        specifier: Some(Specifier::Filename(path.to_string())),
        ..DataSource::default()
    }
}

/// Each of `names` as an exact match of a SAN of any type.
pub(super) fn subject_alt_names(names: &[String]) -> Vec<SubjectAltNameMatcher> {
    names
        .iter()
        .flat_map(|name| {
            SAN_TYPES.map(|san_type| SubjectAltNameMatcher {
                san_type: san_type as i32,
                matcher: Some(StringMatcher {
                    match_pattern: Some(MatchPattern::Exact(name.clone())),
                    ..StringMatcher::default()
                }),
                ..SubjectAltNameMatcher::default()
            })
        })
        .collect()
}
