//! Ethernet ports: lookup, configuration, bursts and statistics.
use super::error::{check, DpdkError, Result};
use super::mbuf::{Burst, TxBuffer, MAX_BURST};
use super::mempool::Mempool;
use super::sys;
use std::cell::Cell;
use std::ffi::CString;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(pub u16);

impl fmt::Debug for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port{}", self.0)
    }
}

/// What a device can do.
#[derive(Debug, Clone)]
pub struct PortInfo {
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub max_mtu: u16,
    /// Largest frame the device says it receives.
    pub max_rx_pktlen: u32,
    pub rss_offloads: u64,
    pub tx_offloads: u64,
    pub rx_offloads: u64,
    /// The device transmits multi-segment mbufs.
    pub tx_multi_seg: bool,
    pub socket: i32,
}

/// How to set a port up.
#[derive(Debug, Clone)]
pub struct PortConf {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub mtu: u16,
    /// Receive frames larger than one mbuf as chains (jumbo frames).
    pub scatter: bool,
}

/// Device counters (from `rte_eth_stats_get`).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct EthStats {
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    pub rx_nombuf: u64,
}

/// A configured, started port: its device-wide operations (MAC, stats,
/// link, stop). Its queues are separate handles, [`RxQueue`] and
/// [`TxQueue`], each made once by [`Port::setup`], owned by the one
/// thread that polls it (`Send`, neither `Sync` nor `Clone`, bursts take
/// `&mut self`), as DPDK requires of a queue. The port stops only when no
/// queue handle is left ([`Port::shutdown`]).
///
/// ```
/// // What is allowed: a queue handle moves to its thread and is used
/// // there; the port stops once the handles are gone.
/// fn movable<T: Send>() {}
/// movable::<las::dpdk::RxQueue>();
/// movable::<las::dpdk::TxQueue>();
/// fn poll(q: &mut las::dpdk::RxQueue, b: &mut las::dpdk::Burst) -> usize {
///     q.rx_burst(b, 32)
/// }
/// fn stop(p: las::dpdk::Port) {
///     let _ = p.shutdown();
/// }
/// ```
///
/// ```compile_fail
/// // One queue, one thread: a queue handle cannot be shared ...
/// fn shared<T: Sync>() {}
/// shared::<las::dpdk::RxQueue>();
/// ```
///
/// ```compile_fail
/// // ... nor duplicated,
/// fn dup(q: &las::dpdk::TxQueue) -> las::dpdk::TxQueue {
///     q.clone()
/// }
/// ```
///
/// ```compile_fail
/// // ... and a port cannot be copied to stop it behind a poller's back.
/// fn stop_twice(p: las::dpdk::Port) {
///     let q = p;
///     let _ = p.shutdown();
///     let _ = q.shutdown();
/// }
/// ```
#[derive(Debug)]
pub struct Port {
    pub id: PortId,
    /// The device checks received IPv4 header checksums
    /// (`RTE_ETH_RX_OFFLOAD_IPV4_CKSUM`, enabled whenever the device
    /// offers it) and marks each packet good or bad (`Mbuf::rx_ip_checksum_good`).
    pub rx_ip_checksum: bool,
    /// One count per live queue handle, plus the port's own.
    live: Arc<()>,
}

/// One RX queue of a started port, for the one thread that polls it.
pub struct RxQueue {
    port: u16,
    queue: u16,
    _live: Arc<()>,
    _one_thread: PhantomData<Cell<()>>,
}

/// One TX queue of a started port, for the one thread that sends on it.
pub struct TxQueue {
    port: u16,
    queue: u16,
    _live: Arc<()>,
    _one_thread: PhantomData<Cell<()>>,
}

// SAFETY: a queue handle may move to the lcore that polls it; being
// neither Sync nor Clone, one thread at a time uses that queue, as DPDK's
// rx/tx burst functions require (they are not thread-safe per queue).
unsafe impl Send for RxQueue {}
// SAFETY: as above.
unsafe impl Send for TxQueue {}

impl Port {
    /// Finds a probed device by its name (a vdev name like `net_pcap0`, or a
    /// PCI address like `0000:03:00.0`).
    pub fn by_name(name: &str) -> Result<PortId> {
        let c = CString::new(name).map_err(|_| DpdkError::msg("device name has NUL"))?;
        let mut id: u16 = 0;
        // SAFETY: valid C string and out-pointer.
        let ret = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        check(
            || format!("no DPDK port named {name:?} (was it probed?)"),
            ret,
        )?;
        Ok(PortId(id))
    }

    pub fn info(id: PortId) -> Result<PortInfo> {
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: valid out-pointer to a zeroed struct.
        let ret = unsafe { sys::rte_eth_dev_info_get(id.0, &mut info) };
        check(|| format!("rte_eth_dev_info_get({id:?})"), ret)?;
        let driver = if info.driver_name.is_null() {
            String::from("?")
        } else {
            // SAFETY: driver_name is a static NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        // SAFETY: plain getter.
        let socket = unsafe { sys::rte_eth_dev_socket_id(id.0) };
        Ok(PortInfo {
            driver,
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            max_mtu: info.max_mtu,
            max_rx_pktlen: info.max_rx_pktlen,
            rss_offloads: info.flow_type_rss_offloads,
            tx_offloads: info.tx_offload_capa,
            rx_offloads: info.rx_offload_capa,
            // SAFETY: returns a constant.
            tx_multi_seg: info.tx_offload_capa & unsafe { sys::las_eth_tx_offload_multi_segs() }
                != 0,
            socket,
        })
    }

    /// Configures queues (RSS on IP addresses when more than one RX queue),
    /// sets the MTU and starts the port in promiscuous mode (we answer for
    /// our MAC and for multicast; vdevs often have random MACs).
    pub fn setup(
        id: PortId,
        conf: &PortConf,
        pool: &Mempool,
    ) -> Result<(Port, Vec<RxQueue>, Vec<TxQueue>)> {
        let info = Self::info(id)?;
        let mut ec = sys::rte_eth_conf::default();
        if conf.rx_queues > 1 && info.rss_offloads != 0 {
            ec.rxmode.mq_mode = sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            // SAFETY: returns a constant.
            ec.rx_adv_conf.rss_conf.rss_hf = unsafe { sys::las_eth_rss_ip() } & info.rss_offloads;
        }
        ec.rxmode.mtu = conf.mtu as u32;
        // net_af_packet reports a 1518-byte maximum frame whatever its ring
        // holds: the frames it carries are bounded by its `framesz` devarg
        // (and the mbuf size), not by the MTU DPDK knows. net_memif does
        // the same (ETH_FRAME_LEN) and carries any frame as a chain of
        // ring buffers. Configure them at the largest MTU they claim; las
        // checks its own MTU on egress.
        let claimed = info.max_rx_pktlen.saturating_sub(18);
        let unbounded = matches!(info.driver.as_str(), "net_af_packet" | "net_memif");
        if unbounded && ec.rxmode.mtu > claimed {
            log::info!(
                "{id:?} ({}): MTU {} above the {claimed} the driver reports; \
                 configuring {claimed} (the driver's buffers bound the frames)",
                info.driver,
                conf.mtu
            );
            ec.rxmode.mtu = claimed;
        }
        // SAFETY: returns a constant.
        let scatter = unsafe { sys::las_eth_rx_offload_scatter() };
        if conf.scatter && info.rx_offloads & scatter != 0 {
            ec.rxmode.offloads |= scatter;
        }
        // The IPv4 header checksum of what arrives, checked by the device:
        // the worker's fast path then skips its own check of a packet the
        // device marked good (and checks every other packet itself).
        // SAFETY: returns a constant.
        let ip_cksum = unsafe { sys::las_eth_rx_offload_ipv4_cksum() };
        let rx_ip_checksum = info.rx_offloads & ip_cksum != 0;
        if rx_ip_checksum {
            ec.rxmode.offloads |= ip_cksum;
        }
        // SAFETY: returns a constant.
        let multi_segs = unsafe { sys::las_eth_tx_offload_multi_segs() };
        if info.tx_offloads & multi_segs != 0 {
            ec.txmode.offloads |= multi_segs;
        }
        // SAFETY: valid conf struct; DPDK copies it.
        let ret = unsafe { sys::rte_eth_dev_configure(id.0, conf.rx_queues, conf.tx_queues, &ec) };
        check(
            || {
                format!(
                    "rte_eth_dev_configure({id:?}, {} rx, {} tx queues)",
                    conf.rx_queues, conf.tx_queues
                )
            },
            ret,
        )?;
        let (mut nrx, mut ntx) = (conf.rx_desc, conf.tx_desc);
        // SAFETY: valid in/out pointers.
        let ret = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(id.0, &mut nrx, &mut ntx) };
        check(|| format!("rte_eth_dev_adjust_nb_rx_tx_desc({id:?})"), ret)?;
        let socket = if info.socket < 0 {
            0
        } else {
            info.socket as u32
        };
        for q in 0..conf.rx_queues {
            // SAFETY: pool valid for the life of the port; null rxconf = defaults.
            let ret = unsafe {
                sys::rte_eth_rx_queue_setup(id.0, q, nrx, socket, std::ptr::null(), pool.as_ptr())
            };
            check(|| format!("rte_eth_rx_queue_setup({id:?}, q{q})"), ret)?;
        }
        for q in 0..conf.tx_queues {
            // SAFETY: null txconf = defaults.
            let ret =
                unsafe { sys::rte_eth_tx_queue_setup(id.0, q, ntx, socket, std::ptr::null()) };
            check(|| format!("rte_eth_tx_queue_setup({id:?}, q{q})"), ret)?;
        }
        // SAFETY: port configured.
        let ret = unsafe { sys::rte_eth_dev_start(id.0) };
        check(|| format!("rte_eth_dev_start({id:?})"), ret)?;
        // Promiscuous mode is best effort: some vdevs do not support it.
        // SAFETY: port started.
        unsafe {
            sys::rte_eth_promiscuous_enable(id.0);
        }
        let live = Arc::new(());
        let rx = (0..conf.rx_queues)
            .map(|queue| RxQueue {
                port: id.0,
                queue,
                _live: live.clone(),
                _one_thread: PhantomData,
            })
            .collect();
        let tx = (0..conf.tx_queues)
            .map(|queue| TxQueue {
                port: id.0,
                queue,
                _live: live.clone(),
                _one_thread: PhantomData,
            })
            .collect();
        Ok((
            Port {
                id,
                rx_ip_checksum,
                live,
            },
            rx,
            tx,
        ))
    }

    pub fn mac(&self) -> Result<[u8; 6]> {
        let mut a = sys::rte_ether_addr::default();
        // SAFETY: valid out-pointer.
        let ret = unsafe { sys::rte_eth_macaddr_get(self.id.0, &mut a) };
        check(|| format!("rte_eth_macaddr_get({:?})", self.id), ret)?;
        Ok(a.addr_bytes)
    }

    /// Sets the device's MAC address (best effort; vdevs in promiscuous
    /// mode work without it).
    pub fn set_mac(&self, mac: [u8; 6]) -> Result<()> {
        let mut a = sys::rte_ether_addr { addr_bytes: mac };
        // SAFETY: valid pointer to an address struct; DPDK copies it.
        let ret = unsafe { sys::rte_eth_dev_default_mac_addr_set(self.id.0, &mut a) };
        check(
            || format!("rte_eth_dev_default_mac_addr_set({:?})", self.id),
            ret,
        )?;
        Ok(())
    }

    pub fn stats(&self) -> EthStats {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: valid out-pointer.
        let ret = unsafe { sys::rte_eth_stats_get(self.id.0, &mut s) };
        if ret < 0 {
            return EthStats::default();
        }
        EthStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        }
    }

    /// Link status: (up, speed in Mbit/s).
    pub fn link(&self) -> (bool, u32) {
        let mut l = sys::rte_eth_link::default();
        // SAFETY: valid out-pointer.
        let ret = unsafe { sys::rte_eth_link_get_nowait(self.id.0, &mut l) };
        if ret < 0 {
            return (false, 0);
        }
        (l.link_status() != 0, l.link_speed)
    }

    /// Stops and closes the port (flushes pcap output files, etc.), once
    /// no queue handle is left; gives the port back otherwise (a thread
    /// may still be polling it).
    pub fn shutdown(self) -> std::result::Result<(), Port> {
        if Arc::strong_count(&self.live) > 1 {
            return Err(self);
        }
        // SAFETY: every queue handle is gone, so no lcore polls the port.
        unsafe {
            sys::rte_eth_dev_stop(self.id.0);
            sys::rte_eth_dev_close(self.id.0);
        }
        Ok(())
    }
}

impl RxQueue {
    pub fn id(&self) -> u16 {
        self.queue
    }

    /// Receives up to `max` (at most MAX_BURST) packets into an empty
    /// `burst`.
    #[inline(always)]
    pub fn rx_burst(&mut self, burst: &mut Burst, max: usize) -> usize {
        let p = burst.fill_ptr();
        let max = max.clamp(1, MAX_BURST) as u16;
        // SAFETY: `p` points to MAX_BURST >= max slots; the PMD fills at
        // most `max` with mbufs we then own; this handle is the queue's
        // only user (&mut self, !Sync, !Clone).
        let n = unsafe { sys::las_rx_burst(self.port, self.queue, p, max) } as usize;
        // SAFETY: the PMD wrote the first `n` slots, mbufs now ours.
        unsafe { burst.set_len(n) };
        n
    }
}

impl TxQueue {
    pub fn id(&self) -> u16 {
        self.queue
    }

    /// Sends what `buf` holds; frees what the NIC refused. Returns
    /// (packets sent, bytes sent, packets dropped).
    #[inline(always)]
    pub fn tx_burst(&mut self, buf: &mut TxBuffer) -> (usize, u64, usize) {
        let (p, n) = buf.raw();
        if n == 0 {
            return (0, 0, 0);
        }
        // SAFETY: p[0..n] are owned mbufs; the PMD takes ownership of the
        // first `sent`, the rest stay ours and are freed by consume(); this
        // handle is the queue's only user.
        let sent = unsafe { sys::las_tx_burst(self.port, self.queue, p, n as u16) } as usize;
        let (bytes, dropped) = buf.consume(sent);
        (sent, bytes, dropped)
    }
}
