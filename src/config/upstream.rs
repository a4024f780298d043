//! `[upstream]` and `[upstreams.NAME]`: the applications behind the front door.

use std::collections::BTreeMap;

use super::raw::RawUpstream;
use super::values::positive_secs;
use super::{ConfigError, HostHeader, UpstreamSettings};

/// Validates the upstreams: `[upstream]` first (as `default`), then each named one.
pub(super) fn upstreams(
    default: Option<RawUpstream>,
    named: BTreeMap<String, RawUpstream>,
    file: &str,
) -> Result<Vec<UpstreamSettings>, ConfigError> {
    let invalid = |key: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        problem,
    };
    let mut upstreams = Vec::new();
    if let Some(raw_upstream) = default {
        upstreams.push(upstream_settings(
            "default",
            "upstream",
            raw_upstream,
            file,
        )?);
    }
    for (name, raw_upstream) in named {
        if name == "default" || name.is_empty() {
            return Err(invalid(
                &format!("upstreams.{name}"),
                "this name is reserved for [upstream]".to_string(),
            ));
        }
        let key = format!("upstreams.{name}");
        upstreams.push(upstream_settings(&name, &key, raw_upstream, file)?);
    }
    if upstreams.is_empty() {
        return Err(invalid(
            "upstream.url",
            "is required: the address of the application to protect".to_string(),
        ));
    }

    Ok(upstreams)
}

/// Validates one `[upstream]` or `[upstreams.NAME]` block; `key` prefixes messages.
fn upstream_settings(
    name: &str,
    key: &str,
    raw: RawUpstream,
    file: &str,
) -> Result<UpstreamSettings, ConfigError> {
    let invalid = |k: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: format!("{key}.{k}"),
        problem,
    };
    let uri: http::Uri = raw
        .url
        .parse()
        .map_err(|e| invalid("url", format!("`{}`: {e}", raw.url)))?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid(
            "url",
            "must be an http:// URL (frontdoor talks plain HTTP/1.1 to a local upstream)"
                .to_string(),
        ));
    }
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| invalid("url", "has no host".to_string()))?;
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(invalid(
            "url",
            "must not have a path or query: requests keep their own path".to_string(),
        ));
    }
    Ok(UpstreamSettings {
        name: name.to_string(),
        url: raw.url.clone(),
        authority,
        connect_timeout: positive_secs(raw.connect_timeout_secs, 5)
            .map_err(|p| invalid("connect_timeout_secs", p))?,
        response_timeout: positive_secs(raw.response_timeout_secs, 60)
            .map_err(|p| invalid("response_timeout_secs", p))?,
        host_header: match raw.host_header.as_deref() {
            None | Some("client") => HostHeader::Client,
            Some("client_name") => HostHeader::ClientName,
            Some("upstream") => HostHeader::Upstream,
            Some(other) => {
                return Err(invalid(
                    "host_header",
                    format!(
                        "`{other}` is not one of \"client\" (the Host the client sent, nginx's \
                         $http_host), \"client_name\" (without its port, nginx's $host) or \
                         \"upstream\" (the url's host:port, nginx's $proxy_host)"
                    ),
                ));
            }
        },
    })
}
