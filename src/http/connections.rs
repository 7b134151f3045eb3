//! Open connections per client address: one client (a slowloris dribbling headers on a
//! thousand sockets, say) may hold a share of `server.max_connections`, not all of it.
//! Trusted proxies are exempt: every client behind them arrives from their address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::cidr::{self, Cidr};

/// Counts open connections by peer address.
#[derive(Clone)]
pub struct PerAddress {
    limit: u32,
    exempt: Arc<[Cidr]>,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// One counted connection; the count drops with it.
pub struct Slot {
    owner: Option<(PerAddress, IpAddr)>,
}

impl PerAddress {
    pub fn new(limit: u32, exempt: &[Cidr]) -> PerAddress {
        PerAddress {
            limit: limit.max(1),
            exempt: exempt.into(),
            open: Arc::default(),
        }
    }

    /// A slot for a new connection from `peer`, or None when that address holds its share.
    pub fn admit(&self, peer: IpAddr) -> Option<Slot> {
        let peer = peer.to_canonical();
        if cidr::any_contains(&self.exempt, peer) {
            return Some(Slot { owner: None });
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(peer).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Slot {
            owner: Some((self.clone(), peer)),
        })
    }

    /// Connections `peer` holds now.
    pub fn held_by(&self, peer: IpAddr) -> u32 {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&peer.to_canonical()).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((counter, peer)) = self.owner.take() {
            let mut open = counter.open.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(count) = open.get_mut(&peer) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&peer);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_share_and_proxies_are_exempt() {
        let proxies = [Cidr::parse("10.0.0.0/8").unwrap()];
        let limit = PerAddress::new(2, &proxies);
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let first = limit.admit(a).unwrap();
        let _second = limit.admit(a).unwrap();
        assert!(
            limit.admit(a).is_none(),
            "a third from the same address waits"
        );
        assert!(
            limit.admit("203.0.113.2".parse().unwrap()).is_some(),
            "others do not"
        );
        drop(first);
        assert!(limit.admit(a).is_some(), "a closed one frees a slot");
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let held: Vec<Slot> = (0..10).map(|_| limit.admit(proxy).unwrap()).collect();
        assert_eq!(held.len(), 10);
        assert_eq!(limit.held_by(proxy), 0, "not counted");
    }
}
