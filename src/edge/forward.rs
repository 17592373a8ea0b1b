//! The forwarding loop: TAP <-> raw IP / UDP socket (and, in dynamic
//! mode, the control connection on the same socket).
//!
//! One thread polls both file descriptors (epoll through `mio`, which can
//! watch the TAP's raw descriptor without `unsafe`). Frames read from the
//! TAP (up to `batch` at a time) are encapsulated and sent with one
//! `sendmmsg`; packets from the peer are received `batch` at a time with
//! `recvmmsg`, checked by the [`Codec`] and written to the TAP one by one
//! (a TAP takes one frame per write). Readiness is edge-triggered, so each
//! side is drained until it would block.
//!
//! # IPv4 or IPv6
//!
//! The socket's family is the configured addresses' (`AF_INET` or
//! `AF_INET6`, raw protocol 115 or UDP; one family per tunnel, checked by
//! the configuration). Addresses travel as [`SockaddrStorage`], so one
//! loop serves both. A raw IPv4 socket hands us the IP header and a raw
//! IPv6 one does not: [`raw_payload`] takes care of it. Over IPv6 the
//! kernel computes the UDP checksum (mandatory there, RFC 8200 §8.1); we
//! also accept a zero one (`UDP_NO_CHECK6_RX`, RFC 6935/6936), which a
//! Linux peer sends with `ip l2tp add tunnel ... udp6_csum_tx off`.
//! `--df` sets `IPV6_MTU_DISCOVER = IPV6_PMTUDISC_DO` instead of the IPv4
//! option: no fragment header is added, too-big packets fail to send.

use std::io::{self, ErrorKind, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;
use nix::sys::socket::{recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::codec::{control_message, raw_payload, Codec, DropReason};
use super::config::{EdgeConfig, Transport};
use super::counters::Counters;
use super::dynamic::{Control, Peer};
use crate::wire::ethernet;
use crate::wire::ipv4::protocol::L2TP;
use crate::wire::l2tp::Encap;

// IP_MTU_DISCOVER, IPV6_MTU_DISCOVER and UDP_NO_CHECK6_RX (Linux), which
// neither socket2 nor nix wraps; nix's macro writes the (safe) option
// type.
use nix::{setsockopt_impl, sockopt_impl};
sockopt_impl!(
    /// `IP_MTU_DISCOVER`: path MTU discovery mode of an IPv4 socket.
    IpMtuDiscover,
    SetOnly,
    libc::IPPROTO_IP,
    libc::IP_MTU_DISCOVER,
    libc::c_int
);
sockopt_impl!(
    /// `IPV6_MTU_DISCOVER`: path MTU discovery mode of an IPv6 socket.
    Ipv6MtuDiscover,
    SetOnly,
    libc::IPPROTO_IPV6,
    libc::IPV6_MTU_DISCOVER,
    libc::c_int
);
sockopt_impl!(
    /// `UDP_NO_CHECK6_RX`: accept UDP-over-IPv6 datagrams with a zero
    /// checksum.
    UdpNoCheck6Rx,
    SetOnly,
    libc::SOL_UDP,
    libc::UDP_NO_CHECK6_RX,
    libc::c_int
);

/// How long poll() sleeps before looking at the stop flag again.
const POLL_TIMEOUT: Duration = Duration::from_millis(200);
const TAP: Token = Token(0);
const SOCK: Token = Token(1);
/// Dynamic mode: the deadline for the StopCCN to be acknowledged. Within
/// it the StopCCN gets the normal retransmission schedule (t = 0, 1, 3,
/// 7 s: four tries), so under 30 % loss it is lost for good with a
/// chance of 0.3^4 < 1 % instead of 30 % (a single try within 1 s, as
/// before); a peer that never answers costs at most this long.
pub const SHUTDOWN_WAIT: Duration = Duration::from_millis(10_000);

/// What the loop forwards with: a codec while a session is up (always in
/// static mode), and the control connection in dynamic mode.
struct Link<'a> {
    codec: Option<Codec>,
    ctl: Option<&'a mut Control>,
}

/// The TAP device and the socket toward the peer.
pub struct Endpoint {
    tap: tun::Device,
    sock: Socket,
    transport: Transport,
    /// Our address: its family is the socket's.
    local: IpAddr,
    /// The peer (the primary with a backup).
    peer: IpAddr,
    /// Failover: the backup peer. The socket is then not connected, and
    /// each packet goes to the current peer.
    backup: Option<IpAddr>,
    batch: usize,
    /// Bytes per buffer.
    buf_len: usize,
}

fn tap_error(name: &str, e: tun::Error) -> String {
    let hint = match &e {
        tun::Error::Io(io) if io.kind() == ErrorKind::PermissionDenied => {
            " (permission denied: run as root or with CAP_NET_ADMIN)"
        }
        tun::Error::Io(io) if io.kind() == ErrorKind::NotFound => {
            " (/dev/net/tun missing: load the tun module)"
        }
        tun::Error::Io(io) if io.raw_os_error() == Some(libc::EBUSY) => {
            " (busy: another process holds this TAP, or it is not a TAP)"
        }
        _ => "",
    };
    format!("cannot create TAP device {name:?}: {e}{hint}")
}

fn sock_error(what: &str, e: io::Error) -> String {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (permission denied: run as root or with CAP_NET_RAW/CAP_NET_ADMIN)"
        }
        Some(libc::EADDRINUSE) => {
            " (address in use: another las-edge or an L2TP daemon owns this port)"
        }
        Some(libc::EADDRNOTAVAIL) => " (the address is not configured on any interface here)",
        _ => "",
    };
    format!("{what}: {e}{hint}")
}

impl Endpoint {
    /// The address of `peer` (port 0 for a raw socket).
    fn addr(&self, peer: Peer) -> SocketAddr {
        let ip = match peer {
            Peer::Primary => self.peer,
            Peer::Backup => self.backup.unwrap_or(self.peer),
        };
        match self.transport {
            Transport::Ip => SocketAddr::new(ip, 0),
            Transport::Udp { dport, .. } => SocketAddr::new(ip, dport),
        }
    }

    /// The unspecified address of our family: the source of a datagram
    /// that came without one (it then matches no peer).
    fn unspecified(&self) -> IpAddr {
        match self.local {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }

    /// Which peer a packet from `src` (and, over UDP, source port `port`)
    /// is from, if any.
    fn peer_of(&self, src: IpAddr, port: u16) -> Option<Peer> {
        if let Transport::Udp { dport, .. } = self.transport {
            // A connected socket filters on the port too.
            if self.backup.is_some() && port != dport {
                return None;
            }
        }
        if src == self.peer {
            Some(Peer::Primary)
        } else if Some(src) == self.backup {
            Some(Peer::Backup)
        } else {
            None
        }
    }

    /// Where data goes: `None` on a connected socket.
    fn data_dest(&self, ctl: Option<&Control>) -> Option<SockaddrStorage> {
        match (self.backup, ctl) {
            (Some(_), Some(ctl)) => Some(SockaddrStorage::from(self.addr(ctl.peer()))),
            _ => None,
        }
    }

    fn encap(&self) -> Encap {
        match self.transport {
            Transport::Ip => Encap::Ip,
            Transport::Udp { .. } => Encap::Udp,
        }
    }

    /// Creates (or attaches to) the TAP, brings it up with the configured
    /// MTU, and opens the socket toward the peer.
    pub fn open(cfg: &EdgeConfig) -> Result<Endpoint, String> {
        let mut tc = tun::Configuration::default();
        tc.tun_name(&cfg.tap)
            .layer(tun::Layer::L2)
            .mtu(cfg.tap_mtu)
            .up();
        let tap = tun::create(&tc).map_err(|e| tap_error(&cfg.tap, e))?;
        tap.set_nonblock()
            .map_err(|e| format!("TAP {}: cannot set non-blocking: {e}", cfg.tap))?;

        let v6 = cfg.local.is_ipv6();
        let family = if v6 { "IPv6" } else { "IPv4" };
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let (sock, local, peer) = match cfg.transport {
            Transport::Ip => {
                let s = Socket::new(domain, Type::RAW, Some(Protocol::from(i32::from(L2TP))))
                    .map_err(|e| {
                        sock_error(
                            &format!("cannot open a raw {family} socket (protocol 115)"),
                            e,
                        )
                    })?;
                (
                    s,
                    SocketAddr::new(cfg.local, 0),
                    SocketAddr::new(cfg.peer, 0),
                )
            }
            Transport::Udp { sport, dport } => {
                let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
                    .map_err(|e| sock_error(&format!("cannot open a {family} UDP socket"), e))?;
                (
                    s,
                    SocketAddr::new(cfg.local, sport),
                    SocketAddr::new(cfg.peer, dport),
                )
            }
        };
        if v6 && matches!(cfg.transport, Transport::Udp { .. }) {
            // Our own family only (no IPv4-mapped traffic on this socket;
            // a raw IPv6 socket never sees IPv4 and refuses the option).
            sock.set_only_v6(true)
                .map_err(|e| format!("cannot set IPV6_V6ONLY: {e}"))?;
            nix::sys::socket::setsockopt(&sock, UdpNoCheck6Rx, &1)
                .map_err(|e| format!("cannot set UDP_NO_CHECK6_RX: {e}"))?;
        }
        let shown = match cfg.transport {
            Transport::Ip => local.ip().to_string(),
            Transport::Udp { .. } => local.to_string(),
        };
        sock.bind(&SockAddr::from(local))
            .map_err(|e| sock_error(&format!("cannot bind to {shown}"), e))?;
        // Connecting makes the kernel filter on the peer's address (we
        // check it again) and lets sendmmsg go without addresses. With a
        // backup peer both peers must get through: no connect, and every
        // send names its peer.
        let backup = cfg.dynamic.as_ref().and_then(|d| d.backup).map(|b| b.peer);
        if backup.is_none() {
            sock.connect(&SockAddr::from(peer))
                .map_err(|e| sock_error(&format!("cannot connect to {peer}"), e))?;
        }
        if cfg.df {
            // DF on every packet; the kernel refuses (EMSGSIZE) to send one
            // bigger than the route's MTU rather than fragmenting it. IPv6
            // has no DF bit: the same mode keeps the kernel from adding a
            // fragment header.
            if v6 {
                nix::sys::socket::setsockopt(&sock, Ipv6MtuDiscover, &libc::IPV6_PMTUDISC_DO)
                    .map_err(|e| format!("cannot set IPV6_MTU_DISCOVER (--df): {e}"))?;
            } else {
                nix::sys::socket::setsockopt(&sock, IpMtuDiscover, &libc::IP_PMTUDISC_DO)
                    .map_err(|e| format!("cannot set IP_MTU_DISCOVER (--df): {e}"))?;
            }
        }
        // Bigger socket buffers absorb bursts while we write to the TAP.
        let _ = sock.set_recv_buffer_size(4 << 20);
        let _ = sock.set_send_buffer_size(4 << 20);
        let buf_len = (usize::from(cfg.tap_mtu) + 256).max(2048);
        Ok(Endpoint {
            tap,
            sock,
            transport: cfg.transport,
            local: cfg.local,
            peer: cfg.peer,
            backup,
            batch: cfg.batch,
            buf_len,
        })
    }

    /// Forwards with a fixed session (static mode) until `stop` is set;
    /// returns the counters.
    pub fn forward(&self, codec: Codec, stop: &AtomicBool) -> Result<Counters, String> {
        self.run_loop(
            &mut Link {
                codec: Some(codec),
                ctl: None,
            },
            stop,
        )
    }

    /// Dynamic mode: runs the control connection `ctl` on the same socket
    /// and forwards whenever it has a session up, until `stop` is set;
    /// then closes the control connection (StopCCN) and waits up to
    /// [`SHUTDOWN_WAIT`] for it to be acknowledged.
    pub fn forward_dynamic(
        &self,
        ctl: &mut Control,
        stop: &AtomicBool,
    ) -> Result<Counters, String> {
        let mut link = Link {
            codec: None,
            ctl: Some(ctl),
        };
        self.run_loop(&mut link, stop)
    }

    fn run_loop(&self, link: &mut Link<'_>, stop: &AtomicBool) -> Result<Counters, String> {
        let mut c = Counters::default();
        let mut tx_bufs = vec![vec![0u8; self.buf_len]; self.batch];
        let mut tx_lens = vec![0usize; self.batch];
        let mut rx_bufs = vec![vec![0u8; self.buf_len]; self.batch];
        let mut tx_hdrs = MultiHeaders::<SockaddrStorage>::preallocate(self.batch, None);
        let mut rx_hdrs = MultiHeaders::<SockaddrStorage>::preallocate(self.batch, None);

        let mut poll = Poll::new().map_err(|e| format!("epoll: {e}"))?;
        let tap_fd = self.tap.as_raw_fd();
        let sock_fd = self.sock.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&tap_fd), TAP, Interest::READABLE)
            .map_err(|e| format!("epoll: {e}"))?;
        poll.registry()
            .register(&mut SourceFd(&sock_fd), SOCK, Interest::READABLE)
            .map_err(|e| format!("epoll: {e}"))?;
        let mut events = Events::with_capacity(4);
        // Sides with data left to read (edge-triggered: read until EAGAIN).
        let (mut tap_pending, mut sock_pending) = (true, true);
        if let Some(ctl) = link.ctl.as_deref_mut() {
            ctl.poll(ctl.now_ms());
            self.ctl_flush(ctl, &mut link.codec, &mut c);
        }
        let mut stopping: Option<u64> = None;
        loop {
            if stopping.is_none() && stop.load(Ordering::Relaxed) {
                let Some(ctl) = link.ctl.as_deref_mut() else {
                    break;
                };
                let now = ctl.now_ms();
                ctl.shutdown(now);
                self.ctl_flush(ctl, &mut link.codec, &mut c);
                stopping = Some(now + SHUTDOWN_WAIT.as_millis() as u64);
            }
            if let (Some(until), Some(ctl)) = (stopping, link.ctl.as_deref()) {
                if ctl.flushed() || ctl.now_ms() >= until {
                    break;
                }
            }
            let timeout = if tap_pending || sock_pending {
                Duration::ZERO
            } else {
                match link.ctl.as_deref() {
                    Some(ctl) => match ctl.next_timeout() {
                        Some(t) => {
                            Duration::from_millis(t.saturating_sub(ctl.now_ms())).min(POLL_TIMEOUT)
                        }
                        None => POLL_TIMEOUT,
                    },
                    None => POLL_TIMEOUT,
                }
            };
            match poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("epoll: {e}")),
            }
            for ev in events.iter() {
                match ev.token() {
                    TAP => tap_pending = true,
                    _ => sock_pending = true,
                }
            }
            if tap_pending {
                let dest = self.data_dest(link.ctl.as_deref());
                tap_pending = self.tap_to_peer(
                    dest,
                    link.codec.as_mut(),
                    &mut c,
                    &mut tx_bufs,
                    &mut tx_lens,
                    &mut tx_hdrs,
                )?;
            }
            if sock_pending {
                sock_pending = self.peer_to_tap(link, &mut c, &mut rx_bufs, &mut rx_hdrs)?;
            }
            if let Some(ctl) = link.ctl.as_deref_mut() {
                let now = ctl.now_ms();
                if ctl.next_timeout().is_some_and(|t| t <= now) {
                    ctl.poll(now);
                    self.ctl_flush(ctl, &mut link.codec, &mut c);
                }
            }
        }
        c.control = link.ctl.as_deref().map(Control::stats);
        Ok(c)
    }

    /// Sends what the control connection queued and applies a session
    /// change (a new codec, or none while no session is up).
    fn ctl_flush(&self, ctl: &mut Control, codec: &mut Option<Codec>, c: &mut Counters) {
        for (peer, m) in ctl.take_sends() {
            let v;
            let bytes = match self.transport {
                Transport::Udp { .. } => &m,
                Transport::Ip => {
                    v = [&[0u8; 4][..], &m].concat();
                    &v
                }
            };
            let r = match self.backup {
                None => self.sock.send(bytes),
                Some(_) => self.sock.send_to(bytes, &SockAddr::from(self.addr(peer))),
            };
            if let Err(e) = r {
                // Lost like any datagram: reliable delivery retransmits.
                log::debug!("las-edge: sending a control message: {e}");
                c.drop(DropReason::SendError);
            }
        }
        if let Some(change) = ctl.take_change() {
            if let (Some(_), Some(p)) = (self.backup, &change) {
                log::info!(
                    "las-edge: forwarding to {} (the {} peer), session {} -> peer session {}",
                    self.addr(ctl.peer()).ip(),
                    ctl.peer().name(),
                    p.session_id,
                    p.peer_session_id
                );
            }
            *codec = change.map(Codec::new);
        }
    }

    /// Reads up to `batch` frames from the TAP and sends them. Returns
    /// whether the TAP may have more (it did not report EAGAIN).
    fn tap_to_peer(
        &self,
        dest: Option<SockaddrStorage>,
        codec: Option<&mut Codec>,
        c: &mut Counters,
        bufs: &mut [Vec<u8>],
        lens: &mut [usize],
        hdrs: &mut MultiHeaders<SockaddrStorage>,
    ) -> Result<bool, String> {
        let Some(codec) = codec else {
            return self.tap_discard(c, &mut bufs[0]);
        };
        let hdr = codec.tx_header_len();
        let mut n = 0;
        let mut more = true;
        while n < bufs.len() {
            let buf = &mut bufs[n];
            match self.tap.recv(&mut buf[hdr..]) {
                Ok(len) => {
                    if len < ethernet::HEADER_LEN {
                        c.drop(DropReason::InnerMalformed);
                        continue;
                    }
                    if codec.encap(&mut buf[..hdr + len]).is_err() {
                        c.drop(DropReason::Oversize);
                        continue;
                    }
                    lens[n] = hdr + len;
                    n += 1;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    more = false;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("reading the TAP: {e}")),
            }
        }
        let mut done = 0;
        while done < n {
            let iovs: Vec<[IoSlice<'_>; 1]> = bufs[done..n]
                .iter()
                .zip(&lens[done..n])
                .map(|(b, &l)| [IoSlice::new(&b[..l])])
                .collect();
            let addrs = vec![dest; iovs.len()];
            match sendmmsg(
                self.sock.as_raw_fd(),
                hdrs,
                &iovs,
                addrs,
                [],
                MsgFlags::empty(),
            ) {
                Ok(r) => {
                    let sent = r.count().max(1).min(n - done);
                    for &l in &lens[done..done + sent] {
                        c.tx_packets += 1;
                        c.tx_bytes += (l - hdr) as u64;
                    }
                    done += sent;
                }
                Err(Errno::EINTR) => {}
                Err(_) => {
                    // The first message failed (no route, no ARP answer,
                    // too big, ...): drop it and go on with the rest.
                    c.drop(DropReason::SendError);
                    done += 1;
                }
            }
        }
        Ok(more)
    }

    /// No session up: reads (up to a batch of) frames from the TAP and
    /// drops them. Returns whether the TAP may have more.
    fn tap_discard(&self, c: &mut Counters, buf: &mut [u8]) -> Result<bool, String> {
        for _ in 0..self.batch {
            match self.tap.recv(buf) {
                Ok(_) => c.drop(DropReason::NoSession),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading the TAP: {e}")),
            }
        }
        Ok(true)
    }

    /// Receives up to `batch` packets and writes their frames to the TAP.
    /// Returns whether the socket may have more (a full batch came).
    fn peer_to_tap(
        &self,
        link: &mut Link<'_>,
        c: &mut Counters,
        bufs: &mut [Vec<u8>],
        hdrs: &mut MultiHeaders<SockaddrStorage>,
    ) -> Result<bool, String> {
        let mut got = [(0usize, self.unspecified(), 0u16, false); 1024];
        let mut retry = false;
        let n = {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs
                .iter_mut()
                .map(|b| [IoSliceMut::new(&mut b[..])])
                .collect();
            match recvmmsg(
                self.sock.as_raw_fd(),
                hdrs,
                iovs.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            ) {
                Ok(r) => {
                    let mut n = 0;
                    for m in r {
                        let (src, port) = m
                            .address
                            .and_then(|a| ip_port(&a))
                            .unwrap_or((self.unspecified(), 0));
                        got[n] = (m.bytes, src, port, m.flags.contains(MsgFlags::MSG_TRUNC));
                        n += 1;
                    }
                    n
                }
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => 0,
                // ICMP errors reported on the connected socket (port
                // unreachable; over raw IP, a peer without an L2TP stack
                // answers protocol unreachable (ENOPROTOOPT) or, over
                // IPv6, parameter problem "unrecognized next header"
                // (EPROTO); administratively prohibited (EACCES) ...):
                // nothing to read this time.
                Err(Errno::ECONNREFUSED)
                | Err(Errno::EHOSTUNREACH)
                | Err(Errno::ENETUNREACH)
                | Err(Errno::ENOPROTOOPT)
                | Err(Errno::EPROTO)
                | Err(Errno::EACCES) => {
                    retry = true;
                    0
                }
                Err(e) => return Err(format!("receiving from the peer: {e}")),
            }
        };
        for (buf, &(len, src, port, trunc)) in bufs.iter().zip(&got[..n]) {
            if trunc || len > buf.len() {
                c.drop(DropReason::Oversize);
                continue;
            }
            let pkt = &buf[..len];
            let (src, payload) = match self.transport {
                Transport::Ip => match raw_payload(src, pkt) {
                    Ok(x) => x,
                    Err(r) => {
                        c.drop(r);
                        continue;
                    }
                },
                Transport::Udp { .. } => (src, pkt),
            };
            let Some(from) = self.peer_of(src, port) else {
                c.drop(DropReason::WrongSource);
                continue;
            };
            if let Some(ctl) = link.ctl.as_deref_mut() {
                if let Some(msg) = control_message(self.encap(), payload) {
                    ctl.handle(ctl.now_ms(), from, msg);
                    self.ctl_flush(ctl, &mut link.codec, c);
                    continue;
                }
                if from != ctl.peer() {
                    c.drop(DropReason::NotCurrentPeer);
                    continue;
                }
            }
            let Some(codec) = link.codec.as_mut() else {
                c.drop(DropReason::NoSession);
                continue;
            };
            match codec.decap(payload) {
                Ok(frame) => match self.tap.send(frame) {
                    Ok(_) => {
                        c.rx_packets += 1;
                        c.rx_bytes += frame.len() as u64;
                    }
                    Err(_) => c.drop(DropReason::TapWriteError),
                },
                Err(r) => c.drop(r),
            }
        }
        Ok(retry || n == bufs.len())
    }
}

/// The address and port of a datagram's source, IPv4 or IPv6.
fn ip_port(a: &SockaddrStorage) -> Option<(IpAddr, u16)> {
    if let Some(v4) = a.as_sockaddr_in() {
        Some((IpAddr::V4(v4.ip()), v4.port()))
    } else {
        a.as_sockaddr_in6()
            .map(|v6| (IpAddr::V6(v6.ip()), v6.port()))
    }
}

/// Opens the endpoint for `cfg` and forwards until `stop` is set.
pub fn run(cfg: &EdgeConfig, stop: &AtomicBool) -> Result<Counters, String> {
    let ep = Endpoint::open(cfg)?;
    if let Some(d) = &cfg.dynamic {
        log::info!(
            "las-edge: {} <-> {} ({:?}) dynamic, VC ID {:?}{}",
            cfg.tap,
            cfg.peer,
            cfg.transport,
            d.vc_id,
            if d.secret.is_some() {
                ", authenticated"
            } else {
                ""
            }
        );
        if let Some(b) = d.backup {
            log::info!(
                "las-edge: backup peer {} (failover: dead peer noticed within {} ms of its last message, then one setup on the other peer; revert: {})",
                b.peer,
                d.dead_peer_bound_ms(),
                match b.revert {
                    super::config::Revert::Never => "never".to_string(),
                    super::config::Revert::After(s) => format!("after the primary answers for {s} s"),
                }
            );
        }
        let mut ctl = Control::new(d, cfg.session);
        return ep.forward_dynamic(&mut ctl, stop);
    }
    log::info!(
        "las-edge: {} <-> {} ({:?}) session {} -> peer session {}",
        cfg.tap,
        cfg.peer,
        cfg.transport,
        cfg.session.session_id,
        cfg.session.peer_session_id
    );
    ep.forward(Codec::new(cfg.session), stop)
}
