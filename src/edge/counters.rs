//! Forwarding counters.

use std::fmt;

use super::codec::DropReason;

/// Packet and byte counters of one las-edge instance.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Frames read from the TAP and sent into the pseudowire.
    pub tx_packets: u64,
    /// Ethernet bytes of those frames (without the encapsulation).
    pub tx_bytes: u64,
    /// Frames received from the pseudowire and written to the TAP.
    pub rx_packets: u64,
    /// Ethernet bytes of those frames.
    pub rx_bytes: u64,
    /// Drops, indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::COUNT],
    /// Dynamic mode: the control connection.
    pub control: Option<ControlStats>,
}

/// Control connection state and counters (dynamic mode).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ControlStats {
    /// connecting, opening-session, established, reconnecting, stopped.
    pub state: String,
    /// Control connections opened (SCCRQ sent).
    pub connects: u64,
    pub tunnels_up: u64,
    pub tunnels_down: u64,
    pub sessions_up: u64,
    pub sessions_down: u64,
    /// Sessions the peer refused (CDN) or we could not use.
    pub sessions_refused: u64,
    /// ICCNs sent: a session counts as up only once the peer acknowledged
    /// its ICCN (`sessions_up`); the difference is sessions the peer may
    /// not know yet.
    pub iccn_sent: u64,
    /// Messages from the peer las-edge refused or dropped (a CDN, StopCCN
    /// or silence; logged with the reason).
    pub refused: u64,
    /// Control messages received / sent (retransmissions included).
    pub control_rx: u64,
    pub control_tx: u64,
    /// Messages dropped for a bad digest (tunnels still known).
    pub auth_failures: u64,
    /// The last session's ids (ours, the peer's).
    pub session_id: u32,
    pub peer_session_id: u32,
    /// Why the connection last went down.
    pub last_down: Option<String>,
    /// With a backup peer: the current peer (`primary` or `backup`).
    pub peer: Option<String>,
    /// Moves to the other peer after a failure (`--backup-peer`).
    pub failovers: u64,
    /// Moves back to the primary after `--revert-delay`.
    pub reverts: u64,
    /// Control connections opened to probe the primary from the backup.
    pub probes: u64,
}

impl Counters {
    pub fn drop(&mut self, r: DropReason) {
        self.drops[r as usize] += 1;
    }

    pub fn drops_of(&self, r: DropReason) -> u64 {
        self.drops[r as usize]
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tx (tap -> pseudowire): {} packets, {} bytes",
            self.tx_packets, self.tx_bytes
        )?;
        writeln!(
            f,
            "rx (pseudowire -> tap): {} packets, {} bytes",
            self.rx_packets, self.rx_bytes
        )?;
        writeln!(f, "drops: {}", self.total_drops())?;
        for r in DropReason::ALL {
            let n = self.drops_of(r);
            if n > 0 {
                writeln!(f, "  {}: {n}", r.name())?;
            }
        }
        if let Some(c) = &self.control {
            writeln!(f, "control connection: {}", c.state)?;
            writeln!(
                f,
                "  connects: {}, tunnels up/down: {}/{}, sessions up/down/refused: {}/{}/{}",
                c.connects,
                c.tunnels_up,
                c.tunnels_down,
                c.sessions_up,
                c.sessions_down,
                c.sessions_refused
            )?;
            writeln!(
                f,
                "  control messages rx/tx: {}/{}, auth failures: {}",
                c.control_rx, c.control_tx, c.auth_failures
            )?;
            if c.sessions_up > 0 {
                writeln!(
                    f,
                    "  last session: {} -> peer session {}",
                    c.session_id, c.peer_session_id
                )?;
            }
            if let Some(p) = &c.peer {
                writeln!(
                    f,
                    "  peer: {p}, failovers: {}, reverts: {}, probes of the primary: {}",
                    c.failovers, c.reverts, c.probes
                )?;
            }
            if let Some(w) = &c.last_down {
                writeln!(f, "  last down: {w}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_display() {
        let mut c = Counters {
            tx_packets: 2,
            tx_bytes: 120,
            ..Counters::default()
        };
        c.drop(DropReason::CookieMismatch);
        c.drop(DropReason::CookieMismatch);
        let s = c.to_string();
        assert!(s.contains("tx (tap -> pseudowire): 2 packets, 120 bytes"));
        assert!(s.contains("drops: 2"));
        assert!(s.contains("  cookie-mismatch: 2"));
        assert!(!s.contains("session-mismatch"));
        assert!(!s.contains("control connection"));
        c.control = Some(ControlStats {
            state: "established".into(),
            connects: 2,
            sessions_up: 1,
            session_id: 7,
            peer_session_id: 9,
            last_down: Some("peer not answering".into()),
            ..ControlStats::default()
        });
        let s = c.to_string();
        assert!(s.contains("control connection: established"));
        assert!(s.contains("connects: 2,"));
        assert!(s.contains("last session: 7 -> peer session 9"));
        assert!(s.contains("last down: peer not answering"));
        assert!(!s.contains("failovers"));
        c.control.as_mut().unwrap().peer = Some("backup".into());
        c.control.as_mut().unwrap().failovers = 3;
        assert!(c
            .to_string()
            .contains("  peer: backup, failovers: 3, reverts: 0, probes of the primary: 0"));
    }
}
