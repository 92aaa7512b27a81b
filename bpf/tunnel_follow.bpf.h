/* A user-space WireGuard (wireguard-go) reads an inner packet from its TUN device and sends the outer packet
 * from its UDP socket in a new buffer, and back: the kernel does not tie the two. Without an expression or sampling
 * every packet on its port is watched anyway; with them, the outer packet of a watched inner packet (and the inner
 * packet of a watched outer one) is picked here by what WireGuard makes of it: a data message on the
 * interface's port, 32 bytes longer than the inner packet padded to 16 (wireguard-go's
 * calculatePaddingSize), within WGBPF_EXPECT_TTL_NS of wireguard-go reading the inner packet from the TUN device
 * (its consume_skb: one the device dropped, its queue full, is never expected): the first such packet takes it. The same evidence user
 * space links them by (inferred): another packet of the same padded length sent just before may be taken
 * instead, and a packet batched with others (UDP GSO) has another length and is not picked. The outer packet's
 * route lookup comes before its buffer exists, with no length: it is not picked. Included by filter.bpf.h. */
#ifndef WGBPF_TUNNEL_FOLLOW_BPF_H
#define WGBPF_TUNNEL_FOLLOW_BPF_H

#define WGBPF_EXPECT_SLOTS  16 /* scanned unrolled; taken within a millisecond, so few are open at once */
#define WGBPF_EXPECT_TTL_NS (100ULL * 1000 * 1000)
#define WGBPF_EXPECT_OUT    1 /* an outer packet leaving from `port` */
#define WGBPF_EXPECT_IN	    2 /* an inner packet coming out of `ifindex` */
#define WGBPF_WG_OVERHEAD   32 /* data message header (16) and tag (16) */

struct tunnel_expect {
	__u64 t_ns; /* 0: free or taken */
	__u32 netns; /* the WireGuard interface's namespace, where the packet is expected */
	__s32 ifindex;
	__u16 port;
	__u16 min_len; /* out: the UDP length; in: the IP total length */
	__u16 max_len;
	__u8 dir;
	__u8 pad;
	__u32 next; /* the clock slot only: the slot the next expectation takes */
};

/* Slot WGBPF_EXPECT_SLOTS holds only t_ns: when the newest expectation was made (none lately: nothing to scan).
 * Shared by all objects. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WGBPF_EXPECT_SLOTS + 1);
	__type(key, __u32);
	__type(value, struct tunnel_expect);
} tunnel_expects SEC(".maps");

static __always_inline bool following_tunnels(void)
{
	return selective() && filter.n_tunnels;
}

/* The tunnel (index in the filter) of a WireGuard interface, or -1. */
static __always_inline int tunnel_of_iface(__u32 netns, __s32 ifindex)
{
	for (int i = 0; i < WGBPF_FILTER_MAX_TUNNELS; i++) {
		if (i >= filter.n_tunnels)
			break;
		if (filter.tunnel_ifaces[i] == ifindex && filter.tunnel_netns[i] == netns)
			return i;
	}
	return -1;
}

/* The tunnel whose port this is in namespace `netns` (its socket is where the interface is: an interface moved
 * into a container is not followed this way), or -1. */
static __always_inline int tunnel_of_port(__u16 port, __u32 netns)
{
	for (int i = 0; i < WGBPF_FILTER_MAX_TUNNELS; i++) {
		if (i >= filter.n_tunnels)
			break;
		if (filter.tunnel_ports[i] == port && filter.tunnel_netns[i] == netns)
			return i;
	}
	return -1;
}

static __always_inline void expect(__u8 dir, __u32 netns, __s32 ifindex, __u16 port, __u32 min_len, __u32 max_len)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 newest = WGBPF_EXPECT_SLOTS;
	struct tunnel_expect *clock = bpf_map_lookup_elem(&tunnel_expects, &newest);
	if (!clock)
		return;
	/* the oldest goes; two CPUs at once may take one slot (one expectation lost, as if expired) */
	__u32 slot = clock->next++ & (WGBPF_EXPECT_SLOTS - 1);
	struct tunnel_expect *e = bpf_map_lookup_elem(&tunnel_expects, &slot);
	if (!e)
		return;
	e->netns = netns;
	e->ifindex = ifindex;
	e->port = port;
	e->min_len = min_len > 0xffff ? 0xffff : min_len;
	e->max_len = max_len > 0xffff ? 0xffff : max_len;
	e->dir = dir;
	e->t_ns = now;
	clock->t_ns = now;
}

/* A watched inner packet consumed by a user-space WireGuard's TUN device (read by wireguard-go: not when the
 * device dropped it, its queue full) will leave as an outer packet. */
static __always_inline void expect_outer_packet(const struct sk_buff *skb)
{
	const struct net_device *dev = skb->dev;
	if (!dev || skb->skb_iif == dev->ifindex)
		return; /* none, or it came out of the TUN device (written by wireguard-go, delivered here) */
	__u32 netns = dev_netns(dev);
	int t = tunnel_of_iface(netns, dev->ifindex);
	if (t < 0 || t >= WGBPF_FILTER_MAX_TUNNELS)
		return;
	struct flow_head h = {};
	read_flow_head(l3_of(skb), &h);
	if (!h.family)
		return;
	expect(WGBPF_EXPECT_OUT, netns, 0, filter.tunnel_ports[t], h.ip_len + WGBPF_WG_OVERHEAD + 8,
	       h.ip_len + WGBPF_WG_OVERHEAD + 8 + 15);
}

/* A watched outer data message arriving for a user-space WireGuard's port will come out of its TUN device. */
static __always_inline void expect_inner_packet(const struct wgbpf_packet *p, __u32 netns)
{
	if (!following_tunnels())
		return;
	if (p->proto != IPPROTO_UDP || !(p->flags & WGBPF_PKT_F_PAYLOAD) || p->udp_payload[0] != 4 /* data */)
		return;
	int t = tunnel_of_port(p->dport, netns);
	if (t < 0 || t >= WGBPF_FILTER_MAX_TUNNELS)
		return;
	__u32 udp_len = p->len - p->l3_len, made = WGBPF_WG_OVERHEAD + 8;
	if (udp_len < made + 20)
		return; /* a keepalive: no inner packet */
	expect(WGBPF_EXPECT_IN, netns, filter.tunnel_ifaces[t], 0, udp_len - made - 15, udp_len - made);
}

/* When an expectation was made lately: else nothing to scan. */
static __always_inline bool expectations_fresh(__u64 now)
{
	__u32 newest = WGBPF_EXPECT_SLOTS;
	struct tunnel_expect *clock = bpf_map_lookup_elem(&tunnel_expects, &newest);
	return clock && clock->t_ns && now - clock->t_ns <= WGBPF_EXPECT_TTL_NS;
}

/* Takes the expectation this packet meets (`port`/`ifindex` and length), if any. */
static __always_inline bool take_expectation(__u8 dir, __u32 netns, __s32 ifindex, __u16 port, __u16 len, __u64 now)
{
	for (int i = 0; i < WGBPF_EXPECT_SLOTS; i++) {
		__u32 key = i; /* the counter stays in a register: the verifier sees it grow */
		struct tunnel_expect *e = bpf_map_lookup_elem(&tunnel_expects, &key);
		if (!e || !e->t_ns || e->dir != dir || e->netns != netns || now - e->t_ns > WGBPF_EXPECT_TTL_NS)
			continue;
		if (dir == WGBPF_EXPECT_OUT ? e->port != port : e->ifindex != ifindex)
			continue;
		if (len < e->min_len || len > e->max_len)
			continue;
		e->t_ns = 0;
		return true;
	}
	return false;
}

/* Whether this packet is one a watched packet was expected to become (see above); only with an expression. */
static __always_inline bool tunnel_expected(const struct flow_head *h, __u32 netns, __s32 iif, bool sent_here)
{
	if (!following_tunnels() || !h->family)
		return false;
	__u64 now = bpf_ktime_get_ns();
	if (!expectations_fresh(now))
		return false;
	int t = iif ? tunnel_of_iface(netns, iif) : -1;
	if (t >= 0)
		return take_expectation(WGBPF_EXPECT_IN, netns, iif, 0, h->ip_len, now);
	/* an outer packet leaving: sent by this host (not forwarded), from the port in the interface's namespace */
	if (!sent_here || h->proto != IPPROTO_UDP || tunnel_of_port(h->sport, netns) < 0)
		return false;
	return take_expectation(WGBPF_EXPECT_OUT, netns, 0, h->sport, h->l4_len, now);
}

#endif
