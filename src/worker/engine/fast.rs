//! The fast path for known unicast of the common case, from the
//! received outer frame to the re-encapsulated one queued for TX
//! (`Worker::fast_unicast`), in three parts that the staged burst loop
//! also takes one stage at a time, with its prefetches between them
//! (`fast_classify`, `fast_questions`, `fast_send`).
//!
//! The full rules (`rx_one`, `check`, `deliver`, `switch`, `act`,
//! `output`) handle every case, and each step returns what it decided
//! for the next one: an `Option` or `Result` per step, the `Pending` and
//! `Act` between them, a decision per branch of the rules. At 1k MACs
//! and 8 sessions that generality was most of las's ~950 instructions a
//! packet (`perf/instructions.sh`), spread thin over every step
//! (`perf/README.md`, "The direct loop for tables in cache").
//!
//! The fast path first *asks*, reading only: is this an untagged IPv4
//! packet for us with L2TPv3 data of a session whose checks pass without
//! a sequence number, an untagged inner frame with a unicast destination
//! that the switch's policy passes and MSS clamping leaves alone, a
//! source already learned here on this member (learning would answer
//! `Unchanged` or `Refresh`), a destination learned on another member
//! that the split-horizon rule lets it reach, an unsequenced egress
//! template that needs no inner checksum, no outer fragmentation and no
//! more headroom than the packet has. Each question is answered by the
//! same function the full rules use (`classify_fast`,
//! `decide::check_session_fields`, `MssClamp::may_change`), by one a
//! unit test holds to the full rules' own (`decide::policy_quick`, to
//! `policy_verdict`; `MacTable::refresh_then_lookup`, which is
//! `learn_hashed` for a source learned here and then `lookup_hashed`),
//! or by a field the full rules read. Its one write before every
//! answer is in is learning's: a source whose stamp is `mac_refresh`
//! seconds old gets the stamp `learn_hashed` would give it, and the
//! control core the event the full rules would send (the unit test
//! `refresh_then_lookup_is_learn_then_lookup` holds it to
//! `learn_hashed`); a packet given back after that finds its source
//! fresh in the full rules. (In the benchmark's million-MAC points every
//! MAC comes round a few times a second: one packet in three or four
//! refreshes its source.) Any other answer gives the mbuf back untouched,
//! and the full rules take it from the start: they count its drop or
//! carry out the rarer case. Only when every answer is yes does it *act*:
//! the same counts as the full rules (session receive and send counts,
//! the switch's run, the IP identification), decapsulation and
//! encapsulation as one move of the data start (`Mbuf::reencap`), the
//! template, and the TX buffer. The port's `rx_bytes` stay with the
//! burst loop.
//!
//! No capture may be armed (the burst loop checks that once per burst),
//! since the capture points are in the full rules. `pcap_e2e.rs` runs
//! with the fast path (auto: the direct loop; `LAS_BURST_LOOP=staged`)
//! and without (`full`, `staged-full`; `scripts/test.sh`) and expects
//! the same frames out, byte for byte,
//! and the same counters; `learn_then_forward_unicast` checks that the
//! fast path forwarded (the workers' `fast_path` counter).

use super::{Worker, ETHERTYPE_IPV4, ETHERTYPE_IPV6, PUBLISH_BYTES};
use crate::dpdk::Mbuf;
use crate::switch::mactable::Hashed;
use crate::switch::{MemberId, SwitchId};
use crate::worker::classify::classify_fast;
use crate::worker::decide::{self, DataPacket, PolicyView};
use crate::worker::Event;

/// What the fast path did with a packet.
pub(super) enum Fast {
    /// Forwarded.
    Sent,
    /// Untouched: the full rules take it from the start.
    Full(Mbuf),
    /// Untouched, but classified as L2TPv3 data of `member`'s session
    /// (as `rx_one` and the session index would have): the full rules
    /// take it from the session checks, without classifying it again.
    /// Floods leave here.
    Found {
        m: Mbuf,
        member: MemberId,
        pkt: DataPacket,
    },
}

/// What the fast path's questions up to the MAC table found
/// (`Worker::fast_questions`), for its learn, lookup and send
/// (`Worker::fast_send`).
#[derive(Clone, Copy)]
pub(super) struct FastKeys {
    sw: SwitchId,
    /// The source and destination MAC keys, hashed in the switch.
    src: Hashed,
    dst: Hashed,
    src_mac: u64,
    inner_off: usize,
    from_mesh: bool,
}

impl FastKeys {
    /// The keys, for the burst loop's prefetch of their buckets.
    #[inline(always)]
    pub(super) fn hashed(&self) -> (SwitchId, Hashed, Hashed) {
        (self.sw, self.src, self.dst)
    }
}

impl Worker {
    /// Forwards `m`, received on port `pidx`, if it is known unicast of
    /// the common case (see the module docs); gives it back untouched
    /// otherwise, for the full rules.
    #[inline(always)]
    pub(super) fn fast_unicast<const MARKS: bool>(&mut self, pidx: usize, m: Mbuf) -> Fast {
        let data = m.data();
        let Some((session_id, pkt)) = self.fast_classify::<MARKS>(pidx, &m) else {
            return Fast::Full(m);
        };
        let Some(member) = self.by_id.get(session_id) else {
            return Fast::Full(m);
        };
        let Some(k) = self.fast_questions(data, member, &pkt) else {
            return Fast::Found { m, member, pkt };
        };
        match self.fast_send(m, member, &pkt, k) {
            Ok(()) => Fast::Sent,
            Err(m) => Fast::Found { m, member, pkt },
        }
    }

    /// The fast path's classification: an untagged IPv4 or IPv6 packet
    /// for us carrying L2TPv3 data, in one segment without Ethernet
    /// padding (the full rules trim it): its session id and where its
    /// headers are. None: the full rules classify it (`receive`).
    /// `MARKS`: the port's device marks header checksums
    /// (`WorkerPort::checksum_marks`); one it marked good is not summed
    /// again (`Mbuf::rx_ip_checksum_good`).
    #[inline(always)]
    pub(super) fn fast_classify<const MARKS: bool>(
        &self,
        pidx: usize,
        m: &Mbuf,
    ) -> Option<(u32, DataPacket)> {
        let (data, pkt_len) = (m.data(), m.pkt_len());
        let port = self.ports.get(pidx)?;
        let c = if MARKS && m.rx_ip_checksum_good() {
            classify_fast::<true>(data, pkt_len, port.address, self.udp_port)
        } else {
            classify_fast::<false>(data, pkt_len, port.address, self.udp_port)
        };
        let (session_id, pkt) = c.and_then(|c| decide::data_packet(&c))?;
        if pkt.end != data.len() || pkt.end != pkt_len {
            return None;
        }
        Some((session_id, pkt))
    }

    /// The fast path's questions about a classified packet of `member`'s
    /// session, reading only, up to the MAC table: its session, switch,
    /// policy and MSS clamping ask nothing of the full rules. None: the
    /// full rules take it from the session checks (`check`).
    #[inline(always)]
    pub(super) fn fast_questions(
        &self,
        data: &[u8],
        member: MemberId,
        pkt: &DataPacket,
    ) -> Option<FastKeys> {
        let Some(Some(s)) = self.sessions.get(member.0 as usize) else {
            return None;
        };
        if s.blocked || s.vlan_pw {
            return None;
        }
        let Ok((inner_off, None)) = decide::check_session_fields(data, pkt, &s.rx) else {
            return None;
        };
        // Floods first out: they would pay for every question below and
        // then for the full rules.
        let frame = data.get(inner_off..)?;
        let (dst, src_mac, et) = decide::eth_header(frame)?;
        if crate::switch::mac_is_group(dst) {
            return None;
        }
        let (sw, from_mesh) = (s.switch, s.mesh);
        let Some(Some(swst)) = self.switches.get(sw.0 as usize) else {
            return None;
        };
        let view = PolicyView {
            vlan_mode: swst.spec.vlan_mode,
            filter: &swst.spec.filter,
        };
        // `policy_verdict` would pass it as it is: untagged, no VLAN.
        if !decide::policy_quick(view, dst, src_mac, et) {
            return None;
        }
        if (et == ETHERTYPE_IPV4 || et == ETHERTYPE_IPV6)
            && swst.spec.mss.may_change(frame, swst.max_frame)
        {
            return None;
        }
        Some(FastKeys {
            sw,
            src: self.macs.hash(sw, src_mac),
            dst: self.macs.hash(sw, dst),
            src_mac,
            inner_off,
            from_mesh,
        })
    }

    /// The rest of the fast path for a packet `fast_questions` passed:
    /// learning (a source learned here on `member` and fresh:
    /// `MacTable::fresh_then_lookup`; or due for a refresh, done as the
    /// full rules do it: `fast_refresh`), a destination live on another member that split
    /// horizon lets it reach, then `encap_send` and the receive side's
    /// counts. Ok: sent. Err gives the mbuf back untouched for the full
    /// rules, from the session checks on (their learning then answers
    /// `Unchanged`: a refresh done here is not done twice).
    #[inline(always)]
    pub(super) fn fast_send(
        &mut self,
        m: Mbuf,
        member: MemberId,
        pkt: &DataPacket,
        k: FastKeys,
    ) -> Result<(), Mbuf> {
        let fresh =
            self.macs
                .fresh_then_lookup(k.sw, k.src, k.dst, member, self.now, self.mac_refresh);
        let Some(out) = fresh.or_else(|| self.fast_refresh(member, &k)) else {
            return Err(m);
        };
        let sw = k.sw;
        let i = member.0 as usize;
        // Split horizon, as `act` asks it (`is_mesh_out`).
        let o = out.0 as usize;
        if out == member || !decide::may_send(k.from_mesh, self.is_mesh_out(out)) {
            return Err(m);
        }
        let inner = pkt.end - k.inner_off;
        self.encap_send(m, o, k.inner_off, inner)?;
        // Sent: the receive side's counts, as `deliver` and `switch`
        // keep them.
        let c = &self.shared.counters;
        if self.run.sw != sw {
            self.run.flush(c);
            self.run.sw = sw;
        }
        self.run.rx_packets += 1;
        self.run.rx_bytes += inner as u64;
        if self.out_run.sw != sw {
            self.out_run.flush(c);
            self.out_run.sw = sw;
        }
        self.out_run.unicast += 1;
        if let Some(Some(s)) = self.sessions.get_mut(i) {
            s.rx_packets = s.rx_packets.wrapping_add(1);
            s.rx_bytes = s.rx_bytes.saturating_add(inner as u32);
            if s.rx_bytes >= PUBLISH_BYTES {
                self.publish_full(i);
            }
        }
        Ok(())
    }

    /// `fast_send`'s learning when the source is not fresh (or the
    /// destination not known): `MacTable::refresh_then_lookup`, which
    /// refreshes a source learned here whose stamp is due, as
    /// `learn_hashed` would, and then looks the destination up; the
    /// refresh is reported as the full rules report it. Out of line: the
    /// common case, a fresh source, is `fresh_then_lookup`'s alone.
    #[inline(never)]
    fn fast_refresh(&mut self, member: MemberId, k: &FastKeys) -> Option<MemberId> {
        let (refreshed, out) = self.macs.refresh_then_lookup(
            k.sw,
            k.src,
            k.dst,
            member,
            self.now,
            self.mac_refresh,
        )?;
        if refreshed {
            let ev = Event::Learned {
                switch: k.sw,
                mac: k.src_mac,
                member,
            };
            super::report_learned(&mut self.events_full, &self.shared, ev);
        }
        out
    }

    /// The egress half of the fast path, also taken by flood copies
    /// (`output_fast`): replaces the first `strip` bytes of `m` (the
    /// outer headers of a received packet; 0 for a decapsulated copy),
    /// which leaves an inner frame of `inner` bytes, by member slot
    /// `o`'s header and queues it for TX, with the counts and IP
    /// identification `output` keeps. Gives `m` back untouched when
    /// `output` is needed: a slot without a live session or template, a
    /// VLAN pseudowire, a sequenced session, a computed inner checksum
    /// (UDP over IPv6), a frame over the port MTU (all of these answered
    /// by the slot's `fast_lim`), a capture, too little headroom or a
    /// chain.
    #[inline(always)]
    pub(super) fn encap_send(
        &mut self,
        mut m: Mbuf,
        o: usize,
        strip: usize,
        inner: usize,
    ) -> Result<(), Mbuf> {
        let Some(e) = self.egress.get(o) else {
            return Err(m);
        };
        // `fast_lim` answers every question about the slot at once.
        if inner >= usize::from(e.fast_lim) || self.capturing {
            return Err(m);
        }
        let Some(t) = e.template.as_ref() else {
            return Err(m);
        };
        let opidx = e.port as usize;
        let hl = t.len();
        // Implied by `fast_lim`; asked again so that the index below
        // cannot panic.
        if opidx >= self.tx.len() {
            return Err(m);
        }
        // `reencap` checks the headroom and that `m` is one segment, and
        // changes nothing when it says no.
        let Some(buf) = m.reencap(strip, hl) else {
            return Err(m);
        };
        self.ip_ident = self.ip_ident.wrapping_add(1);
        t.write(buf, inner, self.ip_ident, 0, 0);
        if let Some(e) = self.egress.get_mut(o) {
            e.tx_packets = e.tx_packets.wrapping_add(1);
            e.tx_bytes = e.tx_bytes.saturating_add(inner as u32);
            if e.tx_bytes >= PUBLISH_BYTES {
                self.publish_full(o);
            }
        }
        if let Err(m) = self.tx[opidx].push(m) {
            self.flush(opidx);
            if self.tx[opidx].push(m).is_err() {
                self.shared
                    .counters
                    .drop(crate::telemetry::DropReason::TxFull);
            }
        }
        Ok(())
    }

    /// `output` for a flood copy: `encap_send` when it can, else the
    /// full `output`. Out of line: one body for the flood's call sites
    /// (17 instructions fewer per flooded frame than inlined, and less
    /// code in the poll loop; `flood_bulk` inlines `encap_send` in its
    /// loop and calls this for the frame itself only).
    #[inline(never)]
    pub(super) fn output_fast(&mut self, m: Mbuf, out: MemberId) {
        let inner = m.pkt_len();
        if let Err(m) = self.encap_send(m, out.0 as usize, 0, inner) {
            self.output(m, out);
        }
    }

    /// `output`, out of line: for the rare copy `encap_send` gives back
    /// in `flood_bulk`'s loop, which keeps `output`'s body out of it.
    #[inline(never)]
    pub(super) fn output_slow(&mut self, m: Mbuf, out: MemberId) {
        self.output(m, out);
    }
}
