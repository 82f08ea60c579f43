//! Bound CIDR checks: whether a request's client address is inside one of
//! the CIDR blocks a role or config binds its logins and tokens to.

use std::net::IpAddr;

use crate::logical::Request;

/// Whether a login may go on: no CIDRs bound, or the client's address is in
/// one of them. A request without connection details is refused when CIDRs
/// are bound, as Vault does.
pub fn request_allowed(req: &Request, cidrs: &[String]) -> bool {
    cidrs.is_empty()
        || req
            .connection
            .as_ref()
            .is_some_and(|c| remote_addr_allowed(&c.remote_addr, cidrs))
}

/// Whether the client's address is inside one of the CIDR blocks (or equal
/// to one of the addresses).
pub fn remote_addr_allowed(remote: &str, cidrs: &[String]) -> bool {
    let Ok(addr) = remote.parse::<IpAddr>() else {
        return false;
    };
    cidrs.iter().any(|cidr| {
        let (net, bits) = match cidr.split_once('/') {
            Some((net, bits)) => (net, bits.parse::<u8>().ok()),
            None => (cidr.as_str(), None),
        };
        let Ok(net) = net.parse::<IpAddr>() else {
            return false;
        };
        match (addr, net) {
            (IpAddr::V4(a), IpAddr::V4(n)) => {
                prefix_match(&a.octets(), &n.octets(), bits.unwrap_or(32))
            }
            (IpAddr::V6(a), IpAddr::V6(n)) => {
                prefix_match(&a.octets(), &n.octets(), bits.unwrap_or(128))
            }
            _ => false,
        }
    })
}

fn prefix_match(a: &[u8], n: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits).min(a.len() * 8);
    let (whole, rest) = (bits / 8, bits % 8);
    if a[..whole] != n[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ n[whole]) >> (8 - rest) == 0
}

#[cfg(test)]
mod tests {
    use super::remote_addr_allowed;

    #[test]
    fn cidr_matching() {
        let cidrs = vec![
            "10.0.0.0/8".to_string(),
            "192.168.1.7".to_string(),
            "fd00::/8".to_string(),
        ];
        assert!(remote_addr_allowed("10.1.2.3", &cidrs));
        assert!(remote_addr_allowed("192.168.1.7", &cidrs));
        assert!(!remote_addr_allowed("192.168.1.8", &cidrs));
        assert!(!remote_addr_allowed("11.0.0.1", &cidrs));
        assert!(remote_addr_allowed("fd12::1", &cidrs));
        assert!(!remote_addr_allowed("not an ip", &cidrs));
        assert!(remote_addr_allowed("1.2.3.4", &["0.0.0.0/0".to_string()]));
        assert!(remote_addr_allowed(
            "127.0.0.1",
            &["127.0.0.0/31".to_string()]
        ));
        assert!(!remote_addr_allowed(
            "127.0.0.2",
            &["127.0.0.0/31".to_string()]
        ));
    }
}
