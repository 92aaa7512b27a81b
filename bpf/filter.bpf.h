/* What the user asked to watch, decided once per packet with the cheapest tests first; the decision is kept in the watched table. */
#ifndef WGBPF_FILTER_BPF_H
#define WGBPF_FILTER_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "wgbpf/abi/events.h"
#include "netns.bpf.h"
#include "packet.bpf.h"
#include "watched.bpf.h"
#include "pcap.bpf.h"

/* What the user asked to watch; set by user space before and while running (mmapped .bss). */
struct wgbpf_filter filter = {};

/* The namespaces chosen by the user (none: every one). The cheapest rejection. */
static __always_inline bool netns_watched(const struct wgbpf_filter *f, __u32 netns)
{
	if (!f->armed)
		return false; /* still attaching */
	if (!f->n_netns)
		return true;
	for (int i = 0; i < WGBPF_FILTER_MAX_NETNS; i++) {
		if (i >= f->n_netns)
			break;
		if (f->netns[i] == netns)
			return true;
	}
	return false;
}

/* Interfaces (of namespace `netns`) and marks chosen by the user: decided without reading the packet. */
static __always_inline bool filter_matches_cheaply(const struct wgbpf_filter *f, __u32 netns, __s32 iif, __s32 oif,
						   __u32 mark)
{
	if (!f->n_ifaces)
		return true;
	for (int i = 0; i < WGBPF_FILTER_MAX_IFACES; i++) {
		if (i >= f->n_ifaces)
			break;
		if ((f->ifaces[i] == iif || f->ifaces[i] == oif) && f->iface_netns[i] == netns)
			return true;
	}
	for (int i = 0; i < WGBPF_FILTER_MAX_MARKS; i++) {
		if (i >= f->n_marks)
			break;
		if (f->marks[i] == mark)
			return true;
	}
	return false;
}

/* Addresses chosen by the user (e.g. a WireGuard interface's peer endpoints). */
static __always_inline bool filter_matches_address(const struct wgbpf_filter *f, const __u8 *src, const __u8 *dst,
						   __u8 family)
{
	if (!family)
		return false;
	for (int i = 0; i < WGBPF_FILTER_MAX_ADDRS; i++) {
		if (i >= f->n_addrs)
			break;
		if (f->addr_family[i] != family)
			continue;
		if (addr_eq(f->addrs[i], src, family) || addr_eq(f->addrs[i], dst, family))
			return true;
	}
	return false;
}

/* A WireGuard interface's own UDP port: its outer packets, whichever peer sent them from wherever (a
 * server's peers have no endpoint until they roam in; nothing else in the namespace can bind that port). */
static __always_inline bool filter_matches_port(const struct wgbpf_filter *f, __u8 proto, __u16 sport, __u16 dport)
{
	if (proto != 17 /* IPPROTO_UDP */)
		return false;
	for (int i = 0; i < WGBPF_FILTER_MAX_PORTS; i++) {
		if (i >= f->n_ports)
			break;
		if (sport == f->listen_ports[i] || dport == f->listen_ports[i])
			return true;
	}
	return false;
}

/* What the filter looks at beyond interfaces and marks (the namespace is checked by the caller). */
struct flow_head {
	__u8 family; /* 0: not IP */
	__u8 proto;
	__u16 sport; /* host order */
	__u16 dport;
	__u16 l4_len; /* the IP payload's length (UDP: the UDP length), host order */
	__u16 ip_len; /* IP total length, host order */
	__u32 src[4];
	__u32 dst[4];
};

/* The IP header's protocol and addresses and the transport ports, in one read (two with IPv4 options):
 * enough for the filter's port and address tests (device egress, and a watched packet handed to wireguard-go). */
static __always_inline void read_flow_head(struct l3_ref r, struct flow_head *h)
{
	h->family = 0;
	if (r.protocol == WGBPF_ETH_P_IP) {
		__u32 w[6]; /* 20-byte header, then the ports */
		if (bpf_probe_read_kernel(w, sizeof(w), r.l3))
			return;
		const __u8 *b = (const __u8 *)w;
		__u32 ihl = (b[0] & 0xf) * 4;
		h->family = WGBPF_FAMILY_IPV4;
		h->proto = b[9];
		h->ip_len = (__u16)b[2] << 8 | b[3];
		h->l4_len = h->ip_len - ihl;
		h->src[0] = w[3];
		h->dst[0] = w[4];
		if ((w[1] >> 16) & bpf_htons(0x1fff)) /* a later fragment: no ports */
			return;
		__u32 ports = w[5];
		if (ihl != 20 && bpf_probe_read_kernel(&ports, sizeof(ports), r.l3 + ihl))
			return;
		h->sport = bpf_ntohs(ports & 0xffff);
		h->dport = bpf_ntohs(ports >> 16);
	} else if (r.protocol == WGBPF_ETH_P_IPV6) {
		__u32 w[11]; /* 40-byte header, then the ports; extension headers are not walked */
		if (bpf_probe_read_kernel(w, sizeof(w), r.l3))
			return;
		h->family = WGBPF_FAMILY_IPV6;
		h->proto = ((const __u8 *)w)[6];
		h->l4_len = (__u16)((const __u8 *)w)[4] << 8 | ((const __u8 *)w)[5];
		h->ip_len = h->l4_len + 40;
		__builtin_memcpy(h->src, &w[2], 16);
		__builtin_memcpy(h->dst, &w[6], 16);
		h->sport = bpf_ntohs(w[10] & 0xffff);
		h->dport = bpf_ntohs(w[10] >> 16);
	}
}

/* The packet's first bytes from its network header into this CPU's window, read once for every test that looks
 * at them (the expression, the ports and addresses, sampling, tunnel following): WGBPF_PCAP_WINDOW bytes for an
 * expression, else 64 (an IPv4 header with options and the ports); 40 near the end of its buffer. NULL: not IP,
 * or unreadable. `got`: the bytes read. */
static __always_inline struct wgbpf_pcap_window *read_window(struct l3_ref r, __u32 *got)
{
	if (r.protocol != WGBPF_ETH_P_IP && r.protocol != WGBPF_ETH_P_IPV6)
		return 0;
	struct wgbpf_pcap_window *w = one_entry(pcap_windows);
	if (!w)
		return 0;
	long err;
	if (filter.pcap) {
		*got = WGBPF_PCAP_WINDOW;
		err = bpf_probe_read_kernel(w->bytes, WGBPF_PCAP_WINDOW, r.l3);
	} else {
		*got = 64;
		err = bpf_probe_read_kernel(w->bytes, 64, r.l3);
	}
	if (err) {
		*got = 40; /* an IPv6 header, an IPv4 one with its ports */
		if (bpf_probe_read_kernel(w->bytes, 40, r.l3))
			return 0;
	}
	return w;
}

/* The flow head from a window's bytes (as read_flow_head reads it): ports 0 when the window ends before them. */
static __always_inline void head_of_window(const __u8 *b, __u32 got, __u16 protocol, struct flow_head *h)
{
	h->family = 0;
	if (protocol == WGBPF_ETH_P_IP) {
		__u32 ihl = (b[0] & 0xf) * 4;
		h->family = WGBPF_FAMILY_IPV4;
		h->proto = b[9];
		h->ip_len = (__u16)b[2] << 8 | b[3];
		h->l4_len = h->ip_len - ihl;
		__builtin_memcpy(&h->src[0], &b[12], 4);
		__builtin_memcpy(&h->dst[0], &b[16], 4);
		if ((((__u16)b[6] << 8 | b[7]) & 0x1fff) || ihl + 4 > got) /* a later fragment: no ports */
			return;
		const __u8 *t = &b[ihl & 0x3c];
		h->sport = (__u16)t[0] << 8 | t[1];
		h->dport = (__u16)t[2] << 8 | t[3];
	} else if (protocol == WGBPF_ETH_P_IPV6) {
		h->family = WGBPF_FAMILY_IPV6;
		h->proto = b[6];
		h->l4_len = (__u16)b[4] << 8 | b[5];
		h->ip_len = h->l4_len + 40;
		__builtin_memcpy(h->src, &b[8], 16);
		__builtin_memcpy(h->dst, &b[24], 16);
		if (got < 44)
			return;
		h->sport = (__u16)b[40] << 8 | b[41];
		h->dport = (__u16)b[42] << 8 | b[43];
	}
}

/* Whether the user's expression (if any) picks the packet whose window `w` holds (NULL: none could be read). An
 * undecided answer (it needed bytes past the window) does not pick it. */
static __always_inline bool expression_picks(struct wgbpf_pcap_window *w, __u32 got, struct l3_ref r)
{
	if (!filter.pcap)
		return true;
	if (!w)
		return false;
	__u64 answer = pcap_answer(w, got, r);
	if (answer == WGBPF_PCAP_UNDECIDED)
		count_loss(WGBPF_COUNT_UNDECIDED); /* nothing left out silently: the summary says how often */
	return answer == WGBPF_PCAP_MATCH;
}

/* Whether the flow is one of the 1 in `sample_every` sampled: a keyed hash of what both directions share, so a
 * reply is sampled with its request and the choice is the same at every hook, with no state. */
static __always_inline bool flow_sampled(__u8 proto, const __u32 *a, const __u32 *b, __u16 sport, __u16 dport)
{
	__u64 x = (__u64)(a[0] ^ b[0] ^ a[1] ^ b[1] ^ a[2] ^ b[2] ^ a[3] ^ b[3]) << 32 | (__u32)(sport ^ dport) << 8 |
		  proto;
	return mix_packet_id(x) % filter.sample_every == 0;
}

/* A packet of a sampled flow, or any packet when not sampling. Outer packets of a watched WireGuard interface
 * (its listen port) are never sampled by themselves: they follow their inner packets. */
static __always_inline bool packet_sampled(const struct flow_head *h)
{
	if (filter.sample_every <= 1)
		return true;
	if (!h->family)
		return false;
	if (filter_matches_port(&filter, h->proto, h->sport, h->dport))
		return false;
	bool ports = h->proto == IPPROTO_TCP || h->proto == IPPROTO_UDP || h->proto == IPPROTO_SCTP;
	return flow_sampled(h->proto, h->src, h->dst, ports ? h->sport : 0, ports ? h->dport : 0);
}

/* An expression or sampling chooses among the packets of the places chosen. */
static __always_inline bool selective(void)
{
	return filter.pcap || filter.sample_every > 1;
}

#include "tunnel_follow.bpf.h"

/* Whether to report this packet: already watched, or chosen by the filter now (and from then on
 * watched). Cheapest tests first, the whole packet is read only for what is reported: interfaces
 * and marks need no read, the watched table one cache line, the listen port and addresses one read of
 * the IP header, the expression one read of the window. A packet the expression did not pick is tested
 * again at its next hook (a rejection cannot be kept: the skb's address, its id, is reused at once).
 * `sent_here`: known to be sent by this host (not forwarded): only such a packet can be a local WireGuard
 * socket's outer packet. Returns the time when the packet is wanted (the event's time), else 0. */
static __always_inline __u64 want_packet(struct l3_ref r, struct lazy_id *pid, __u32 netns, __s32 iif, __s32 oif,
					 __u32 mark, bool sent_here)
{
	if (!filter.armed)
		return 0; /* still attaching (the bracket programs have no namespace test: they run in watched ones only) */
	bool placed = filter_matches_cheaply(&filter, netns, iif, oif, mark);
	if (placed && !selective())
		return watch(id_of(pid));
	__u64 now = watched_recently(); /* the id only when the table may hold it */
	if (now && watched_at(id_of(pid), now))
		return now;
	if (!placed && !filter.n_addrs && !filter.n_ports)
		return 0;
	/* one read of the packet's first bytes for every test below */
	__u32 got = 0;
	struct wgbpf_pcap_window *w = read_window(r, &got);
	struct flow_head h = {};
	if (w)
		head_of_window(w->bytes, got, r.protocol, &h);
	if (!placed && !filter_matches_port(&filter, h.proto, h.sport, h.dport) &&
	    !filter_matches_address(&filter, (const __u8 *)h.src, (const __u8 *)h.dst, h.family))
		return 0;
	if (!(expression_picks(w, got, r) && packet_sampled(&h)) && !tunnel_expected(&h, netns, iif, sent_here))
		return 0;
	return watch(id_of(pid));
}

#endif
