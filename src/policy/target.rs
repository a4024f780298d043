//! The request target as frontdoor understands it: the method and form checks, the one Host
//! both sides agree on, and the normalized path the decision is made on and that is forwarded.

use http::header::{self, HeaderMap};
use http::{Method, Uri, Version};

use super::normalize::{MAX_TARGET_BYTES, PathError, normalize_path};

/// A target that can be decided on and forwarded as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Canonical path: the decision is made on it and it is what the upstream receives.
    pub path: String,
    /// The raw query, never part of the decision.
    pub query: Option<String>,
    /// Lower-case `host[:port]` that the request named, checked against `server.hosts`.
    pub host: String,
}

impl Target {
    /// Path and query to forward.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// CONNECT would turn the front door into a tunnel to anywhere.
    #[error("CONNECT is not proxied")]
    Connect,
    /// `*` (OPTIONS *) and authority-form name no resource behind the door.
    #[error("the target is not a path")]
    NotOriginForm,
    /// Longer than any real application path; nginx answers such with 414.
    #[error("the target is longer than {MAX_TARGET_BYTES} bytes")]
    TooLong,
    /// The path cannot be normalized without guessing what the upstream would see.
    #[error("ambiguous path: {0}")]
    Path(#[from] PathError),
    /// HTTP/1.1 requires exactly one Host; two would let two parties read different names.
    #[error("missing or repeated Host header")]
    HostCount,
    /// The Host value is not a host name (or carries userinfo).
    #[error("malformed Host header")]
    HostMalformed,
    /// An absolute-form target or `:authority` that names another host than Host.
    #[error("the target's authority disagrees with Host")]
    HostMismatch,
    /// Only http and https absolute-form targets make sense at an HTTPS front door.
    #[error("absolute-form target with an unsupported scheme")]
    Scheme,
    /// A host name this front door does not serve (answered 421).
    #[error("host `{0}` is not served here")]
    UnknownHost(String),
}

impl From<TargetError> for crate::responses::Refusal {
    /// 421 for a host not served here, 400 for everything else.
    fn from(e: TargetError) -> Self {
        use crate::responses::Refusal;
        match e {
            TargetError::UnknownHost(_) => Refusal::UnknownHost,
            TargetError::Path(_) => Refusal::AmbiguousPath,
            _ => Refusal::MalformedTarget,
        }
    }
}

/// Checks the method, form and Host of a request, and normalizes its path.
pub fn parse_target(
    method: &Method,
    uri: &Uri,
    version: Version,
    headers: &HeaderMap,
    hosts: &[String],
) -> Result<Target, TargetError> {
    if method == Method::CONNECT {
        return Err(TargetError::Connect);
    }
    let raw_len = uri
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len())
        .saturating_add(uri.authority().map_or(0, |a| a.as_str().len()));
    if raw_len > MAX_TARGET_BYTES {
        return Err(TargetError::TooLong);
    }
    let raw_path = uri.path();
    if !raw_path.starts_with('/') {
        return Err(TargetError::NotOriginForm);
    }

    let host = effective_host(uri, version, headers)?;
    if !hosts.is_empty() {
        let name = host_name(&host);
        if !hosts.iter().any(|h| h == name) {
            return Err(TargetError::UnknownHost(name.to_string()));
        }
    }

    let path = normalize_path(raw_path)?;
    Ok(Target {
        path,
        query: uri.query().map(str::to_string),
        host,
    })
}

/// The host name without its port (IPv6 literals keep their brackets).
pub fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// The one host the request names: the Host header, which must agree with an absolute-form
/// target (HTTP/1.1) or `:authority` (HTTP/2) when both are present.
fn effective_host(uri: &Uri, version: Version, headers: &HeaderMap) -> Result<String, TargetError> {
    let mut host_headers = headers.get_all(header::HOST).iter();
    let host_header = match (host_headers.next(), host_headers.next()) {
        (_, Some(_)) => return Err(TargetError::HostCount),
        (Some(v), None) => Some(validate_host(v.as_bytes())?),
        (None, None) => None,
    };
    if uri
        .scheme_str()
        .is_some_and(|scheme| !matches!(scheme, "http" | "https"))
    {
        return Err(TargetError::Scheme);
    }
    let authority = match uri.authority() {
        Some(a) => Some(validate_host(a.as_str().as_bytes())?),
        None => None,
    };
    match (host_header, authority) {
        (Some(h), Some(a)) if h != a => Err(TargetError::HostMismatch),
        (Some(h), _) => Ok(h),
        (None, Some(a)) if version == Version::HTTP_2 => Ok(a),
        // HTTP/1.1 (and 1.0 here) without Host is refused: the upstream must never pick
        // a default site on its own.
        _ => Err(TargetError::HostCount),
    }
}

fn validate_host(raw: &[u8]) -> Result<String, TargetError> {
    let text = std::str::from_utf8(raw).map_err(|_| TargetError::HostMalformed)?;
    if text.is_empty() || text.contains('@') {
        return Err(TargetError::HostMalformed);
    }
    let authority: http::uri::Authority = text.parse().map_err(|_| TargetError::HostMalformed)?;
    let host = authority.host();
    let name_ok = if host.starts_with('[') {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::Ipv6Addr>()
            .is_ok()
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    };
    if !name_ok {
        return Err(TargetError::HostMalformed);
    }
    Ok(authority.as_str().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(hosts: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in hosts {
            h.append(
                header::HOST,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("x")),
            );
        }
        h
    }

    fn parse(
        method: Method,
        target: &str,
        version: Version,
        host: &[&str],
        served: &[&str],
    ) -> Result<Target, TargetError> {
        let uri: Uri = target.parse().unwrap_or_else(|e| panic!("{target}: {e}"));
        let served: Vec<String> = served.iter().map(|s| s.to_string()).collect();
        parse_target(&method, &uri, version, &headers(host), &served)
    }

    /// The common case: origin-form, one Host, query kept apart.
    #[test]
    fn origin_form() {
        let t = parse(
            Method::GET,
            "/api/%6aobs?x=1&y",
            Version::HTTP_11,
            &["Agent.Example.com:8443"],
            &[],
        );
        assert_eq!(
            t,
            Ok(Target {
                path: "/api/jobs".into(),
                query: Some("x=1&y".into()),
                host: "agent.example.com:8443".into()
            })
        );
    }

    /// CONNECT, `*`, and authority-form are refused.
    #[test]
    fn refused_forms() {
        assert_eq!(
            parse(
                Method::CONNECT,
                "example.com:443",
                Version::HTTP_11,
                &["a"],
                &[]
            ),
            Err(TargetError::Connect)
        );
        assert_eq!(
            parse(Method::OPTIONS, "*", Version::HTTP_11, &["a"], &[]),
            Err(TargetError::NotOriginForm)
        );
    }

    /// Host rules: missing, doubled, malformed, mismatching absolute-form, unknown name.
    #[test]
    fn host_rules() {
        assert_eq!(
            parse(Method::GET, "/", Version::HTTP_11, &[], &[]),
            Err(TargetError::HostCount)
        );
        assert_eq!(
            parse(Method::GET, "/", Version::HTTP_11, &["a", "b"], &[]),
            Err(TargetError::HostCount)
        );
        assert_eq!(
            parse(Method::GET, "/", Version::HTTP_11, &["a@b"], &[]),
            Err(TargetError::HostMalformed)
        );
        assert_eq!(
            parse(Method::GET, "/", Version::HTTP_11, &["a b"], &[]),
            Err(TargetError::HostMalformed)
        );
        assert_eq!(
            parse(
                Method::GET,
                "https://evil.com/",
                Version::HTTP_11,
                &["agent"],
                &[]
            ),
            Err(TargetError::HostMismatch)
        );
        assert!(
            parse(
                Method::GET,
                "https://agent/x",
                Version::HTTP_11,
                &["agent"],
                &[]
            )
            .is_ok()
        );
        assert_eq!(
            parse(
                Method::GET,
                "ftp://agent/x",
                Version::HTTP_11,
                &["agent"],
                &[]
            ),
            Err(TargetError::Scheme)
        );
        assert_eq!(
            parse(
                Method::GET,
                "/",
                Version::HTTP_11,
                &["other.com"],
                &["agent.example.com"]
            ),
            Err(TargetError::UnknownHost("other.com".into()))
        );
        assert!(
            parse(
                Method::GET,
                "/",
                Version::HTTP_11,
                &["Agent.Example.com:443"],
                &["agent.example.com"]
            )
            .is_ok()
        );
        assert!(
            parse(Method::GET, "https://agent/", Version::HTTP_2, &[], &[]).is_ok(),
            "h2 :authority alone"
        );
        assert!(
            parse(
                Method::GET,
                "/",
                Version::HTTP_11,
                &["[::1]:8443"],
                &["[::1]"]
            )
            .is_ok()
        );
    }

    /// host_name strips ports but keeps IPv6 brackets.
    #[test]
    fn host_names() {
        assert_eq!(host_name("a.b:80"), "a.b");
        assert_eq!(host_name("a.b"), "a.b");
        assert_eq!(host_name("[::1]:80"), "[::1]");
    }
}
