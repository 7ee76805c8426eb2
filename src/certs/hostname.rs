//! RFC 6125 name matching for the commonName fallback.
//!
//! webpki checks subjectAltName only (as browsers do). Older clients (and many embedded TLS
//! stacks) fall back to the subject's commonName when a certificate has no subjectAltName at
//! all; this module implements that fallback with the same rules webpki applies to SANs.

use std::net::IpAddr;

/// True when `name` is an IPv4 or IPv6 literal (optionally in `[...]`): such names match IP SANs
/// only, never a DNS pattern or a commonName.
pub fn is_ip_literal(name: &str) -> bool {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    bare.parse::<IpAddr>().is_ok()
}

/// Does the certificate name `pattern` (e.g. `api.example.com` or `*.example.com`) match the host
/// name `host`?
///
/// RFC 6125 §6.4: ASCII case-insensitive, one trailing dot ignored on either side; a wildcard is
/// allowed only as the entire left-most label, matches exactly one non-empty label, and needs at
/// least two labels after it (`*.com` matches nothing). IP literals never match.
pub fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
    let host = host.strip_suffix('.').unwrap_or(host);
    if pattern.is_empty() || host.is_empty() || is_ip_literal(host) {
        return false;
    }
    let mut pattern_labels = pattern.split('.');
    let mut host_labels = host.split('.');
    let (Some(first_pattern), Some(first_host)) = (pattern_labels.next(), host_labels.next())
    else {
        return false;
    };
    let rest_pattern: Vec<&str> = pattern_labels.collect();
    let rest_host: Vec<&str> = host_labels.collect();
    if rest_pattern.len() != rest_host.len()
        || rest_pattern
            .iter()
            .chain(rest_host.iter())
            .any(|l| l.is_empty() || l.contains('*'))
    {
        return false;
    }
    let rest_equal = rest_pattern
        .iter()
        .zip(rest_host.iter())
        .all(|(p, h)| p.eq_ignore_ascii_case(h));
    if !rest_equal || first_host.is_empty() || first_host.contains('*') {
        return false;
    }
    if first_pattern == "*" {
        rest_pattern.len() >= 2
    } else {
        !first_pattern.contains('*') && first_pattern.eq_ignore_ascii_case(first_host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_ignore_case_and_trailing_dot() {
        assert!(dns_name_matches("API.Example.test", "api.example.TEST"));
        assert!(dns_name_matches("api.example.test.", "api.example.test"));
        assert!(dns_name_matches("api.example.test", "api.example.test."));
        assert!(!dns_name_matches("api.example.test", "www.example.test"));
        assert!(!dns_name_matches("example.test", "api.example.test"));
    }

    #[test]
    fn wildcard_covers_exactly_one_left_most_label() {
        assert!(dns_name_matches("*.example.test", "api.example.test"));
        assert!(!dns_name_matches("*.example.test", "a.b.example.test"));
        assert!(!dns_name_matches("*.example.test", "example.test"));
        assert!(!dns_name_matches("*.example.test", ".example.test"));
        assert!(!dns_name_matches("api.*.test", "api.example.test"));
        assert!(!dns_name_matches("a*.example.test", "api.example.test"));
        assert!(!dns_name_matches("*.test", "example.test"));
        assert!(!dns_name_matches("*", "localhost"));
    }

    #[test]
    fn ip_literals_never_match_dns_patterns() {
        assert!(is_ip_literal("127.0.0.1"));
        assert!(is_ip_literal("::1"));
        assert!(is_ip_literal("[2001:db8::1]"));
        assert!(!is_ip_literal("example.test"));
        assert!(!dns_name_matches("127.0.0.1", "127.0.0.1"));
        assert!(!dns_name_matches("*.0.0.1", "127.0.0.1"));
    }

    #[test]
    fn empty_inputs_do_not_match() {
        assert!(!dns_name_matches("", ""));
        assert!(!dns_name_matches("*.example.test", ""));
        assert!(!dns_name_matches("", "example.test"));
        assert!(!dns_name_matches("a..test", "a..test"));
    }
}
