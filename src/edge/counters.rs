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
    }
}
