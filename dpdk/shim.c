#include <string.h>
#include "shim.h"

int las_errno(void) { return rte_errno; }

unsigned las_lcore_id(void) { return rte_lcore_id(); }
uint64_t las_tsc(void) { return rte_get_tsc_cycles(); }
void las_prefetch0(const void *p) { rte_prefetch0(p); }
void las_pause(void) { rte_pause(); }

uint16_t las_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{ return rte_eth_rx_burst(port, queue, pkts, n); }
uint16_t las_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{ return rte_eth_tx_burst(port, queue, pkts, n); }

struct rte_mbuf *las_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }
int las_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned n)
{ return rte_pktmbuf_alloc_bulk(mp, mbufs, n); }
void las_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }
char *las_pktmbuf_adj(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_adj(m, len); }
char *las_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }
int las_pktmbuf_trim(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_trim(m, len); }
int las_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail) { return rte_pktmbuf_chain(head, tail); }
int las_pktmbuf_linearize(struct rte_mbuf *m) { return rte_pktmbuf_linearize(m); }

/* Moves bytes from the following segments into the first segment's
 * tailroom until it holds min(len, pkt_len) bytes or its tailroom is full,
 * freeing segments it empties. Only for a direct, unshared first segment
 * (anything else is left as is). Returns the first segment's data_len. */
uint16_t las_pktmbuf_pullup(struct rte_mbuf *m, uint32_t len)
{
	if (len > m->pkt_len)
		len = m->pkt_len;
	if (!RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1)
		return m->data_len;
	while (m->data_len < len && m->next != NULL) {
		struct rte_mbuf *s = m->next;
		uint32_t n = len - m->data_len;
		if (n > rte_pktmbuf_tailroom(m))
			n = rte_pktmbuf_tailroom(m);
		if (n > s->data_len)
			n = s->data_len;
		if (n == 0 && s->data_len != 0)
			break;
		memcpy(rte_pktmbuf_mtod_offset(m, char *, m->data_len),
		       rte_pktmbuf_mtod(s, char *), n);
		m->data_len += n;
		s->data_off += n;
		s->data_len -= n;
		if (s->data_len == 0) {
			m->next = s->next;
			s->next = NULL;
			m->nb_segs--;
			rte_pktmbuf_free_seg(s);
		}
	}
	return m->data_len;
}

/* n copies of m (all segments; m is only read) from mp into out[0..n),
 * for flooding one frame to many members. A one-segment m that fits a
 * fresh mbuf takes one bulk allocation (one mempool access for all n)
 * and, for each copy, the fields rte_pktmbuf_copy sets for one segment
 * and one memcpy, without its per-call allocation and segment walk;
 * anything else, or a failed bulk allocation, goes through
 * rte_pktmbuf_copy one at a time. Returns how many copies were made: the
 * first ones of out.
 *
 * The bulk case takes raw mbufs (rte_mempool_get_bulk) and writes each
 * field once, instead of rte_pktmbuf_alloc_bulk's reset and then the
 * header copy over it: what rte_pktmbuf_reset and __rte_pktmbuf_copy_hdr
 * write together, with data_off at RTE_PKTMBUF_HEADROOM (the data room
 * holds it and the frame, checked first). A raw mbuf already has
 * refcnt 1, nb_segs 1 and next NULL (rte_mbuf_raw_alloc's contract,
 * kept by rte_pktmbuf_prefree_seg when mbufs go back). */
unsigned las_pktmbuf_copy_bulk(const struct rte_mbuf *m, struct rte_mempool *mp,
			       struct rte_mbuf **out, unsigned n)
{
	unsigned i;

	if (m->next == NULL &&
	    (uint32_t)m->data_len + RTE_PKTMBUF_HEADROOM <= rte_pktmbuf_data_room_size(mp) &&
	    rte_mempool_get_bulk(mp, (void **)out, n) == 0) {
		const char *src = rte_pktmbuf_mtod(m, const char *);
		const uint16_t len = m->data_len;
		const uint64_t ol_flags = m->ol_flags & ~(RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL);
		for (i = 0; i < n; i++) {
			struct rte_mbuf *mc = out[i];
			__rte_mbuf_raw_sanity_check(mc);
			mc->data_off = RTE_PKTMBUF_HEADROOM;
			mc->ol_flags = ol_flags;
			__rte_pktmbuf_copy_hdr(mc, m);
			rte_memcpy(rte_pktmbuf_mtod(mc, char *), src, len);
			mc->data_len = len;
			mc->pkt_len = len;
			__rte_mbuf_sanity_check(mc, 1);
		}
		return n;
	}
	for (i = 0; i < n; i++) {
		out[i] = rte_pktmbuf_copy(m, mp, 0, UINT32_MAX);
		if (out[i] == NULL)
			return i;
	}
	return n;
}

uint8_t *las_mbuf_data(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, uint8_t *); }
uint16_t las_mbuf_data_len(const struct rte_mbuf *m) { return m->data_len; }
uint32_t las_mbuf_pkt_len(const struct rte_mbuf *m) { return m->pkt_len; }
uint16_t las_mbuf_nb_segs(const struct rte_mbuf *m) { return m->nb_segs; }
uint16_t las_mbuf_headroom(const struct rte_mbuf *m) { return rte_pktmbuf_headroom(m); }
uint16_t las_mbuf_tailroom(const struct rte_mbuf *m) { return rte_pktmbuf_tailroom(m); }
uint16_t las_mbuf_port(const struct rte_mbuf *m) { return m->port; }
void las_mbuf_set_port(struct rte_mbuf *m, uint16_t port) { m->port = port; }
void las_mbuf_set_l2_l3(struct rte_mbuf *m, uint16_t l2, uint16_t l3) { m->l2_len = l2; m->l3_len = l3; }
uint64_t las_mbuf_ol_flags(const struct rte_mbuf *m) { return m->ol_flags; }
uint32_t las_mbuf_rss_hash(const struct rte_mbuf *m) { return m->hash.rss; }
uint16_t las_mbuf_refcnt(const struct rte_mbuf *m) { return rte_mbuf_refcnt_read(m); }
bool las_mbuf_is_direct(const struct rte_mbuf *m) { return RTE_MBUF_DIRECT(m); }
struct rte_mempool *las_mbuf_pool(const struct rte_mbuf *m) { return m->pool; }
const void *las_pktmbuf_read(const struct rte_mbuf *m, uint32_t off, uint32_t len, void *buf)
{ return rte_pktmbuf_read(m, off, len, buf); }

unsigned las_ring_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned n)
{ return rte_ring_enqueue_burst(r, objs, n, NULL); }
unsigned las_ring_dequeue_burst(struct rte_ring *r, void **objs, unsigned n)
{ return rte_ring_dequeue_burst(r, objs, n, NULL); }
unsigned las_ring_count(const struct rte_ring *r) { return rte_ring_count(r); }

uint64_t las_eth_rss_ip(void) { return RTE_ETH_RSS_IP; }
uint64_t las_eth_tx_offload_multi_segs(void) { return RTE_ETH_TX_OFFLOAD_MULTI_SEGS; }
uint64_t las_eth_tx_offload_ipv4_cksum(void) { return RTE_ETH_TX_OFFLOAD_IPV4_CKSUM; }
uint64_t las_eth_rx_offload_scatter(void) { return RTE_ETH_RX_OFFLOAD_SCATTER; }
uint64_t las_eth_rx_offload_ipv4_cksum(void) { return RTE_ETH_RX_OFFLOAD_IPV4_CKSUM; }
uint32_t las_ip_frag_max_frag(void) { return RTE_LIBRTE_IP_FRAG_MAX_FRAG; }
uint32_t las_ip_frag_death_row_len(void) { return RTE_IP_FRAG_DEATH_ROW_MBUF_LEN; }
