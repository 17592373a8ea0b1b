/* las DPDK shim: real symbols for the static-inline parts of DPDK's API,
 * and accessors for rte_mbuf fields. The per-packet ones (reading header
 * fields, prepending the encapsulation) are done in src/dpdk/mbuf.rs on
 * the bindgen layout of DPDK's own rte_mbuf.h instead, a load or store
 * where a call here would cost a call. Everything here is a one-line
 * forward, except las_pktmbuf_pullup, which DPDK lacks (a pull-up of a
 * chain's first bytes), and las_pktmbuf_copy_bulk (many copies of one
 * frame at once, for floods). */
#ifndef LAS_SHIM_H
#define LAS_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_config.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_prefetch.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_version.h>
#include <rte_telemetry.h>

int las_errno(void);

/* Flag values that DPDK defines with function-like macros bindgen cannot evaluate. */
uint64_t las_eth_rss_ip(void);
uint64_t las_eth_tx_offload_multi_segs(void);
uint64_t las_eth_tx_offload_ipv4_cksum(void);
uint64_t las_eth_rx_offload_scatter(void);
uint64_t las_eth_rx_offload_ipv4_cksum(void);
uint32_t las_ip_frag_max_frag(void);
uint32_t las_ip_frag_death_row_len(void);

unsigned las_lcore_id(void);
uint64_t las_tsc(void);
void las_prefetch0(const void *p);
void las_pause(void);

uint16_t las_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t las_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);

struct rte_mbuf *las_pktmbuf_alloc(struct rte_mempool *mp);
int las_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned n);
void las_pktmbuf_free(struct rte_mbuf *m);
char *las_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
char *las_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
int las_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
int las_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail);
int las_pktmbuf_linearize(struct rte_mbuf *m);
uint16_t las_pktmbuf_pullup(struct rte_mbuf *m, uint32_t len);
/* n copies of m into out[0..n) (see shim.c); returns how many were made. */
unsigned las_pktmbuf_copy_bulk(const struct rte_mbuf *m, struct rte_mempool *mp,
			       struct rte_mbuf **out, unsigned n);

uint8_t *las_mbuf_data(struct rte_mbuf *m);
uint16_t las_mbuf_data_len(const struct rte_mbuf *m);
uint32_t las_mbuf_pkt_len(const struct rte_mbuf *m);
uint16_t las_mbuf_nb_segs(const struct rte_mbuf *m);
uint16_t las_mbuf_headroom(const struct rte_mbuf *m);
uint16_t las_mbuf_tailroom(const struct rte_mbuf *m);
uint16_t las_mbuf_port(const struct rte_mbuf *m);
void las_mbuf_set_port(struct rte_mbuf *m, uint16_t port);
void las_mbuf_set_l2_l3(struct rte_mbuf *m, uint16_t l2, uint16_t l3);
uint64_t las_mbuf_ol_flags(const struct rte_mbuf *m);
uint32_t las_mbuf_rss_hash(const struct rte_mbuf *m);
uint16_t las_mbuf_refcnt(const struct rte_mbuf *m);
/* True for a direct mbuf (owns its data buffer), false for an indirect one. */
bool las_mbuf_is_direct(const struct rte_mbuf *m);
struct rte_mempool *las_mbuf_pool(const struct rte_mbuf *m);
/* Pointer to len bytes at offset off, copying into buf when they span segments. */
const void *las_pktmbuf_read(const struct rte_mbuf *m, uint32_t off, uint32_t len, void *buf);

unsigned las_ring_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned n);
unsigned las_ring_dequeue_burst(struct rte_ring *r, void **objs, unsigned n);
unsigned las_ring_count(const struct rte_ring *r);

#endif
