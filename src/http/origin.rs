//! Origins and host names: which pages may call the API from a browser, and which names a
//! loopback listener answers to. `--cors-origin` values are read here too.

/// Reads a `--cors-origin`: `scheme://host[:port]`, nothing more (no path, no wildcard).
pub fn parse_cors_origin(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let Some((scheme, authority)) = text.split_once("://") else {
        return Err(format!(
            "{text:?} is not an origin such as https://dash.example.com (a wildcard is not accepted)"
        ));
    };
    let fine = matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !fine {
        return Err(format!(
            "{text:?} is not an origin such as https://dash.example.com (a wildcard is not accepted)"
        ));
    }
    Ok(text)
}

/// `host[:port]` without a port that is the scheme's default.
fn authority_of(scheme: &str, authority: &str) -> String {
    let authority = authority.to_ascii_lowercase();
    let default = match scheme {
        "https" | "wss" => ":443",
        _ => ":80",
    };
    authority
        .strip_suffix(default)
        .map_or(authority.clone(), str::to_string)
}

/// Whether a page of `origin` may send a POST or open a socket: it is the server's own (the
/// same host and port as the request's `Host`), or one of `configured`.
pub fn allowed(origin: &str, host: Option<&str>, configured: &[String]) -> bool {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    if configured.contains(&origin) {
        return true;
    }
    let (Some((scheme, authority)), Some(host)) = (origin.split_once("://"), host) else {
        return false;
    };
    authority_of(scheme, authority) == authority_of(scheme, host)
}

/// Whether `host` (a `Host` header: name or address, maybe with a port) names this machine's
/// loopback interface.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host.as_str(),
        }
    };
    let name = name.trim_end_matches('.');
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_hosts() {
        assert!(allowed(
            "http://127.0.0.1:8000",
            Some("127.0.0.1:8000"),
            &[]
        ));
        assert!(allowed("https://ue.example", Some("ue.example:443"), &[]));
        assert!(!allowed("http://evil.example", Some("127.0.0.1:8000"), &[]));
        assert!(!allowed("null", Some("127.0.0.1:8000"), &[]));
        assert!(allowed(
            "https://bi.example",
            None,
            &["https://bi.example".into()]
        ));
        assert!(is_loopback_host("localhost:8000"));
        assert!(is_loopback_host("[::1]:8000"));
        assert!(is_loopback_host("127.0.0.2"));
        assert!(!is_loopback_host("evil.example:8000"));
        assert!(!is_loopback_host("127.0.0.1.evil.example"));
        assert!(parse_cors_origin("*").is_err());
        assert!(parse_cors_origin("https://bi.example/path").is_err());
        assert_eq!(
            parse_cors_origin("HTTPS://BI.example/").as_deref(),
            Ok("https://bi.example")
        );
    }
}
