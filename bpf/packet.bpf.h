/* Reading a packet: where its IP header is, its addresses, ports and flags, its conntrack entry. */
#ifndef WGBPF_PACKET_BPF_H
#define WGBPF_PACKET_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "wgbpf/abi/events.h"
#include <bpf/bpf_endian.h>

/* Protocol numbers that are macros in the kernel (so not in vmlinux.h); the others come from its enums. */
#define WGBPF_ETH_P_IP		0x0800
#define WGBPF_ETH_P_IPV6	0x86dd
#define WGBPF_IPPROTO_FRAGMENT	44 /* IPv6 fragment header */
#define WGBPF_IPPROTO_ICMPV6	58
#define WGBPF_ICMP_DEST_UNREACH 3
#define WGBPF_ICMP_FRAG_NEEDED	4
#define WGBPF_ICMPV6_PKT_TOOBIG 2

/* Where a packet's IP header is, and its ethertype (host order). */
struct l3_ref {
	const unsigned char *l3;
	__u16 protocol;
	__u32 linear; /* bytes of the buffer's linear part from l3 on (the rest is in page fragments) */
};

static __always_inline struct l3_ref l3_of(const struct sk_buff *skb)
{
	struct l3_ref r = {skb->head + skb->network_header, bpf_ntohs(skb->protocol),
			   (__u32)skb->tail - skb->network_header};
	return r;
}

static __always_inline struct l3_ref l3_of_probed(const struct sk_buff *skb)
{
	__u16 network = BPF_CORE_READ(skb, network_header);
	struct l3_ref r = {BPF_CORE_READ(skb, head) + network, bpf_ntohs(BPF_CORE_READ(skb, protocol)),
			   (__u32)BPF_CORE_READ(skb, tail) - network};
	return r;
}

/* Ports (or ICMP type and code) and the first UDP payload bytes, from the transport header's bytes. */
static __always_inline void parse_l4(struct wgbpf_packet *p, const __u8 *l4)
{
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP || p->proto == IPPROTO_SCTP) {
		p->sport = (__u16)l4[0] << 8 | l4[1];
		p->dport = (__u16)l4[2] << 8 | l4[3];
		p->flags |= WGBPF_PKT_F_L4;
		if (p->proto == IPPROTO_UDP) {
			__builtin_memcpy(p->udp_payload, l4 + 8, sizeof(p->udp_payload));
			p->flags |= WGBPF_PKT_F_PAYLOAD;
		}
	} else if (p->proto == IPPROTO_ICMP || p->proto == WGBPF_IPPROTO_ICMPV6) {
		p->dport = (__u16)l4[0] << 8 | l4[1];
		p->flags |= WGBPF_PKT_F_L4;
		/* "Too big" errors carry the MTU: the bytes after type, code and checksum. */
		if ((p->proto == IPPROTO_ICMP && l4[0] == WGBPF_ICMP_DEST_UNREACH && l4[1] == WGBPF_ICMP_FRAG_NEEDED) ||
		    (p->proto == WGBPF_IPPROTO_ICMPV6 && l4[0] == WGBPF_ICMPV6_PKT_TOOBIG)) {
			__builtin_memcpy(p->udp_payload, l4 + 4, sizeof(p->udp_payload));
			p->flags |= WGBPF_PKT_F_PAYLOAD;
		}
	}
}

/* What a packet record needs from the transport header: ports, and 16 bytes of UDP payload. */
#define WGBPF_L4_BYTES 24

/* IPv4/IPv6 header fields, read in one go: the IP header, the transport header and the start of the
 * UDP payload fit in 64 bytes unless IPv4 options are longer than 20 bytes (then a second read).
 * `id` is packet_id(skb): every caller has already computed it to decide whether to report the packet. */
static __always_inline void read_packet(struct l3_ref r, __u64 id, struct wgbpf_packet *p)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->id = id;
	union {
		struct iphdr ip;
		struct ipv6hdr ip6;
		__u8 raw[64];
	} h;
	if (r.protocol == WGBPF_ETH_P_IP) {
		bool whole = !bpf_probe_read_kernel(&h, sizeof(h), r.l3);
		if (!whole && bpf_probe_read_kernel(&h.ip, sizeof(h.ip), r.l3)) /* near the end of the buffer */
			return;
		if (h.ip.version != 4)
			return;
		p->family = WGBPF_FAMILY_IPV4;
		p->proto = h.ip.protocol;
		p->len = bpf_ntohs(h.ip.tot_len);
		p->ip_id = bpf_ntohs(h.ip.id);
		__builtin_memcpy(p->src, &h.ip.saddr, 4);
		__builtin_memcpy(p->dst, &h.ip.daddr, 4);
		__u32 ihl = h.ip.ihl * 4;
		p->l3_len = ihl;
		__u16 frag = bpf_ntohs(h.ip.frag_off);
		if (frag & 0x4000)
			p->flags |= WGBPF_PKT_F_DF;
		if (frag & 0x2000)
			p->flags |= WGBPF_PKT_F_MF;
		if (frag & 0x1fff) { /* only the first fragment has ports */
			p->flags |= WGBPF_PKT_F_LATER_FRAG;
			return;
		}
		if (whole && ihl == 20) {
			parse_l4(p, &h.raw[20]);
		} else {
			__u8 l4[WGBPF_L4_BYTES];
			if (!bpf_probe_read_kernel(l4, sizeof(l4), r.l3 + ihl))
				parse_l4(p, l4);
		}
	} else if (r.protocol == WGBPF_ETH_P_IPV6) {
		bool whole = !bpf_probe_read_kernel(&h, sizeof(h), r.l3);
		if (!whole && bpf_probe_read_kernel(&h.ip6, sizeof(h.ip6), r.l3))
			return;
		p->family = WGBPF_FAMILY_IPV6;
		p->proto = h.ip6.nexthdr; /* extension headers are not walked */
		p->len = bpf_ntohs(h.ip6.payload_len) + 40;
		p->l3_len = 40;
		__builtin_memcpy(p->src, &h.ip6.saddr, 16);
		__builtin_memcpy(p->dst, &h.ip6.daddr, 16);
		/* a fragment header first (RFC 8200 4.5): its transport, id, place */
		if (whole && p->proto == WGBPF_IPPROTO_FRAGMENT) {
			p->proto = h.raw[40];
			p->l3_len = 48; /* the transport header follows the fragment header */
			__u16 off = (__u16)h.raw[42] << 8 | h.raw[43];
			p->ip_id = (__u16)h.raw[46] << 8 | h.raw[47]; /* the identification's low half */
			if (off & 1)
				p->flags |= WGBPF_PKT_F_MF;
			if (off & 0xfff8) {
				p->flags |= WGBPF_PKT_F_LATER_FRAG;
				return;
			}
			__u8 l4[WGBPF_L4_BYTES];
			if (!bpf_probe_read_kernel(l4, sizeof(l4), r.l3 + 48))
				parse_l4(p, l4);
		} else if (whole) {
			parse_l4(p, &h.raw[40]);
		}
	}
}

/* Conntrack entry attached to the skb: mark and state (enum ip_conntrack_info). */
static __always_inline void read_ct(const struct sk_buff *skb, __u32 *ct_mark, __u8 *ct_state)
{
	unsigned long nfct = skb->_nfct;
	struct nf_conn *ct = (struct nf_conn *)(nfct & ~7UL);
	*ct_mark = 0;
	if (!ct) {
		*ct_state = (nfct & 7) == 7 ? 7 /* IP_CT_UNTRACKED */ : WGBPF_CT_NONE;
		return;
	}
	*ct_state = nfct & 7;
	if (bpf_core_field_exists(ct->mark))
		*ct_mark = BPF_CORE_READ(ct, mark); /* a plain number turned pointer: probe read */
}

/* Addresses live at 4-byte offsets in packet records on the stack: compare in 32-bit words. */
static __always_inline bool addr_eq(const __u8 *a, const __u8 *b, __u8 family)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;
	if (family == WGBPF_FAMILY_IPV4)
		return x[0] == y[0];
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

#endif
