//! The ARP cache: which next hops we need, what we know about them, and
//! when to ask again. Pure: time is passed in (milliseconds).
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// First retry after this long without an answer; doubles up to `MAX_RETRY_MS`.
pub const RETRY_MS: u64 = 1000;
pub const MAX_RETRY_MS: u64 = 8000;
/// A resolved entry is re-confirmed (broadcast request) this often.
pub const REFRESH_MS: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    pub mac: Option<[u8; 6]>,
    pub is_static: bool,
    /// Whether a session or the gateway needs this entry (we keep asking).
    pub wanted: bool,
    pub updated_ms: u64,
    next_probe_ms: u64,
    retry_ms: u64,
    pub probes: u64,
}

/// Neighbours per (port index, address).
#[derive(Debug, Default)]
pub struct Neighbours {
    map: HashMap<(usize, Ipv4Addr), Neighbour>,
}

impl Neighbours {
    pub fn new() -> Self {
        Self::default()
    }

    /// A static entry from the configuration: never probed, never replaced.
    pub fn add_static(&mut self, port: usize, ip: Ipv4Addr, mac: [u8; 6]) {
        self.map.insert(
            (port, ip),
            Neighbour {
                mac: Some(mac),
                is_static: true,
                wanted: true,
                updated_ms: 0,
                next_probe_ms: u64::MAX,
                retry_ms: RETRY_MS,
                probes: 0,
            },
        );
    }

    /// A static entry taken out of the configuration: it becomes a
    /// learned one that is probed now (the address may still be needed).
    pub fn remove_static(&mut self, port: usize, ip: Ipv4Addr, now_ms: u64) {
        if let Some(e) = self.map.get_mut(&(port, ip)).filter(|e| e.is_static) {
            e.is_static = false;
            e.mac = None;
            e.next_probe_ms = now_ms;
            e.updated_ms = now_ms;
        }
    }

    /// Registers that we need `ip` on `port`; it is probed at once if unknown.
    pub fn want(&mut self, port: usize, ip: Ipv4Addr, now_ms: u64) {
        let e = self.map.entry((port, ip)).or_insert(Neighbour {
            mac: None,
            is_static: false,
            wanted: true,
            updated_ms: now_ms,
            next_probe_ms: now_ms,
            retry_ms: RETRY_MS,
            probes: 0,
        });
        e.wanted = true;
    }

    pub fn get(&self, port: usize, ip: Ipv4Addr) -> Option<[u8; 6]> {
        self.map.get(&(port, ip)).and_then(|n| n.mac)
    }

    /// ARP information seen from `ip` (a reply, or a request aimed at us).
    /// Per RFC 826 we update an existing entry, and create one only when
    /// `create` (the packet was aimed at us). Returns true when the MAC
    /// changed, i.e. encapsulation templates must be rebuilt.
    pub fn learn(
        &mut self,
        port: usize,
        ip: Ipv4Addr,
        mac: [u8; 6],
        create: bool,
        now_ms: u64,
    ) -> bool {
        if mac[0] & 1 != 0 || mac == [0; 6] || ip.is_unspecified() || ip.is_broadcast() {
            return false;
        }
        match self.map.get_mut(&(port, ip)) {
            Some(e) if e.is_static => false,
            Some(e) => {
                let changed = e.mac != Some(mac);
                e.mac = Some(mac);
                e.updated_ms = now_ms;
                e.retry_ms = RETRY_MS;
                e.next_probe_ms = now_ms + REFRESH_MS;
                changed
            }
            None if create => {
                self.map.insert(
                    (port, ip),
                    Neighbour {
                        mac: Some(mac),
                        is_static: false,
                        wanted: false,
                        updated_ms: now_ms,
                        next_probe_ms: now_ms + REFRESH_MS,
                        retry_ms: RETRY_MS,
                        probes: 0,
                    },
                );
                true
            }
            None => false,
        }
    }

    /// Entries to send an ARP request for now; schedules their next probe.
    /// Unresolved entries are retried with back-off (1 s doubling to 8 s);
    /// resolved wanted ones are re-confirmed every minute, and keep their
    /// MAC meanwhile (traffic is not interrupted by a lost probe).
    pub fn due(&mut self, now_ms: u64, out: &mut Vec<(usize, Ipv4Addr)>) {
        for (&(port, ip), e) in self.map.iter_mut() {
            if e.is_static || !e.wanted || now_ms < e.next_probe_ms {
                continue;
            }
            out.push((port, ip));
            e.probes += 1;
            if e.mac.is_none() {
                e.next_probe_ms = now_ms + e.retry_ms;
                e.retry_ms = (e.retry_ms * 2).min(MAX_RETRY_MS);
            } else {
                e.next_probe_ms = now_ms + REFRESH_MS;
            }
        }
        out.sort();
    }

    pub fn iter(&self) -> impl Iterator<Item = (&(usize, Ipv4Addr), &Neighbour)> {
        self.map.iter()
    }
}

#[cfg(test)]
mod test {
    use super::*;
    const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 10];

    #[test]
    fn unresolved_is_probed_with_backoff() {
        let mut n = Neighbours::new();
        n.want(0, IP, 0);
        let mut out = vec![];
        let mut times = vec![];
        for t in (0..20_000).step_by(100) {
            out.clear();
            n.due(t, &mut out);
            if !out.is_empty() {
                times.push(t);
            }
        }
        assert_eq!(times, vec![0, 1000, 3000, 7000, 15000]);
        assert_eq!(n.get(0, IP), None);
    }

    #[test]
    fn learn_resolves_and_reports_change() {
        let mut n = Neighbours::new();
        n.want(0, IP, 0);
        assert!(n.learn(0, IP, MAC, false, 10));
        assert!(!n.learn(0, IP, MAC, false, 20));
        assert_eq!(n.get(0, IP), Some(MAC));
        let mut out = vec![];
        n.due(30, &mut out);
        assert!(out.is_empty());
        n.due(20 + REFRESH_MS, &mut out);
        assert_eq!(out, vec![(0, IP)]);
        // a lost refresh keeps the MAC
        assert_eq!(n.get(0, IP), Some(MAC));
    }

    #[test]
    fn rfc826_create_only_when_aimed_at_us() {
        let mut n = Neighbours::new();
        assert!(!n.learn(0, IP, MAC, false, 0));
        assert_eq!(n.get(0, IP), None);
        assert!(n.learn(0, IP, MAC, true, 0));
        assert_eq!(n.get(0, IP), Some(MAC));
    }

    #[test]
    fn static_wins_and_bad_macs_ignored() {
        let mut n = Neighbours::new();
        n.add_static(0, IP, MAC);
        assert!(!n.learn(0, IP, [2, 0, 0, 0, 0, 11], true, 0));
        assert_eq!(n.get(0, IP), Some(MAC));
        let other = Ipv4Addr::new(192, 0, 2, 11);
        assert!(!n.learn(0, other, [0xff; 6], true, 0));
        assert!(!n.learn(0, other, [1, 0, 0x5e, 0, 0, 1], true, 0));
        let mut out = vec![];
        n.due(1_000_000, &mut out);
        assert!(out.is_empty());
    }
}
