//! `X-Forwarded-For` behind trusted reverse proxies: which address a request came from.
//!
//! Each proxy appends the address it saw to the header, either in the same line or in a
//! line of its own, so all lines are read, joined in order, and walked from the right:
//! the first hop that is not a trusted proxy is the client. Everything left of it is
//! whatever the client chose to send and is never believed.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client's address: `peer` itself unless it is a trusted proxy; then the right-most
/// `X-Forwarded-For` hop that is not a trusted proxy. A hop that is not an address
/// (garbage, an obfuscated `unknown`) ends the walk and `peer` stands: nothing beyond
/// it can be told apart from what a client made up.
pub(crate) fn client_ip(trusted_proxies: &[IpNet], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    hops_from_the_right(headers)
        .map_while(|hop| hop)
        .find(|ip| !trusted(ip))
        .unwrap_or(peer)
}

/// Deserializes `http.trusted_proxies`: CIDRs, or bare addresses meaning that one host.
pub fn deserialize_trusted_proxies<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<IpNet>, D::Error> {
    let entries = <Vec<String> as serde::Deserialize>::deserialize(deserializer)?;
    entries
        .iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!("`{entry}` is neither an address nor a CIDR"))
                })
        })
        .collect()
}

/// Every hop of every `X-Forwarded-For` line, right-most first; `None` for a hop that
/// is not an address (a line that is not text counts as one such hop).
fn hops_from_the_right(headers: &HeaderMap) -> impl Iterator<Item = Option<IpAddr>> + '_ {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .flat_map(|line| match line.to_str() {
            Ok(text) => text.rsplit(',').map(parse_hop).collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]` or
/// `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse::<std::net::Ipv6Addr>().ok())
                .map(IpAddr::V6)
        })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn nets(trusted: &[&str]) -> Vec<IpNet> {
        trusted.iter().map(|n| n.parse().expect("net")).collect()
    }

    fn lines(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                "x-forwarded-for",
                HeaderValue::from_str(line).expect("header"),
            );
        }
        headers
    }

    #[test]
    fn trusted_proxies_are_cidrs_or_single_addresses() {
        let parse =
            |json: &str| deserialize_trusted_proxies(&mut serde_json::Deserializer::from_str(json));
        assert_eq!(
            parse(r#"["10.0.0.0/8", "127.0.0.1", "::1"]"#).expect("valid"),
            nets(&["10.0.0.0/8", "127.0.0.1/32", "::1/128"])
        );
        let error = parse(r#"["10.0.0.0/33"]"#).expect_err("invalid");
        assert!(error.to_string().contains("10.0.0.0/33"), "{error}");
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxy = ip("10.0.0.1");
        let proxied = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(&[], proxy, &lines(&["203.0.113.7"])),
            proxy,
            "not trusted: ignored"
        );
        assert_eq!(
            client_ip(&proxied, proxy, &lines(&["203.0.113.7"])),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(&proxied, ip("192.0.2.1"), &lines(&["203.0.113.7"])),
            ip("192.0.2.1"),
            "a direct client cannot forge it"
        );
        assert_eq!(client_ip(&proxied, proxy, &HeaderMap::new()), proxy);
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let proxied = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(
                &proxied,
                ip("10.0.0.1"),
                &lines(&["1.2.3.4, 203.0.113.7, 10.0.0.2"])
            ),
            ip("203.0.113.7"),
            "not what the client wrote first"
        );
    }

    #[test]
    fn every_header_line_is_read_in_order() {
        let proxied = nets(&["10.0.0.0/8"]);
        // The client forged the first line; the outer proxy 10.0.0.2 added its own line
        // with the address it saw, and the inner proxy 10.0.0.1 connected to us.
        let headers = lines(&["1.2.3.4", "203.0.113.7, 10.0.0.2"]);
        assert_eq!(
            client_ip(&proxied, ip("10.0.0.1"), &headers),
            ip("203.0.113.7")
        );
        let headers = lines(&["1.2.3.4, 203.0.113.7", "10.0.0.2"]);
        assert_eq!(
            client_ip(&proxied, ip("10.0.0.1"), &headers),
            ip("203.0.113.7"),
            "the walk goes on into the earlier line"
        );
    }

    #[test]
    fn hops_with_ports_name_their_address() {
        let proxied = nets(&["10.0.0.0/8", "fd00::/8"]);
        let proxy = ip("10.0.0.1");
        assert_eq!(
            client_ip(&proxied, proxy, &lines(&["203.0.113.7:4711, 10.0.0.2:80"])),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(
                &proxied,
                proxy,
                &lines(&["[2001:db8::7]:4711", "[fd00::2]:443"])
            ),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_ip(&proxied, proxy, &lines(&["[2001:db8::7]"])),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_ip(&proxied, proxy, &lines(&["2001:db8::7"])),
            ip("2001:db8::7")
        );
    }

    #[test]
    fn a_hop_that_is_no_address_ends_the_walk() {
        let proxied = nets(&["10.0.0.0/8"]);
        let proxy = ip("10.0.0.1");
        assert_eq!(client_ip(&proxied, proxy, &lines(&["garbage"])), proxy);
        assert_eq!(
            client_ip(&proxied, proxy, &lines(&["203.0.113.7, unknown, 10.0.0.2"])),
            proxy,
            "what lies beyond an unreadable hop is not believed"
        );
        let mut headers = lines(&["203.0.113.7"]);
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff").expect("opaque header"),
        );
        assert_eq!(client_ip(&proxied, proxy, &headers), proxy, "not text");
    }
}
