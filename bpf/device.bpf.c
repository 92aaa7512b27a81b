/* Device module: a watched packet received on a device (netif_receive_skb) or handed to one
 * (net_dev_start_xmit). These open and close packet timelines and show WireGuard's inner packets
 * entering and leaving the tunnel device. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Replies to the watched packets this host forwarded, by flow (addresses, protocol, ports; ICMP without
 * its identifier): a gateway's reply arrives on the uplink, to the address the request was translated to,
 * and matches nothing the user named until conntrack has undone the translation. Following it from its
 * arrival shows that translation where it happens. */
struct flow_key {
	__u8 family;
	__u8 proto;
	__u16 sport;
	__u16 dport;
	__u16 pad;
	__u32 src[4];
	__u32 dst[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct flow_key);
	__type(value, __u64); /* when its request left */
} reply_flows SEC(".maps");

__u8 reply_flows_used = 0; /* no lookup (and no header read) before the first forwarded watched packet */

#define WGBPF_REPLY_TTL_NS (30ULL * 1000 * 1000 * 1000)

static __always_inline bool is_icmp(__u8 proto)
{
	return proto == IPPROTO_ICMP || proto == WGBPF_IPPROTO_ICMPV6;
}

/* A watched packet that came in on another device leaves: its reply may come back, to be watched too. */
static __always_inline void expect_reply(const struct wgbpf_packet *p, __u64 now)
{
	if (!p->family)
		return;
	struct flow_key k = {.family = p->family, .proto = p->proto};
	if (!is_icmp(p->proto)) {
		k.sport = p->dport;
		k.dport = p->sport;
	}
	__builtin_memcpy(k.src, p->dst, 16);
	__builtin_memcpy(k.dst, p->src, 16);
	bpf_map_update_elem(&reply_flows, &k, &now, BPF_ANY);
	reply_flows_used = 1;
}

/* An arriving packet not chosen otherwise: the reply of a watched packet this host forwarded? */
static __always_inline __u64 want_reply(struct l3_ref l3, __u64 id)
{
	struct flow_head h = {};
	read_flow_head(l3, &h);
	if (!h.family)
		return 0;
	struct flow_key k = {.family = h.family, .proto = h.proto};
	if (!is_icmp(h.proto)) {
		k.sport = h.sport;
		k.dport = h.dport;
	}
	__builtin_memcpy(k.src, h.src, 16);
	__builtin_memcpy(k.dst, h.dst, 16);
	__u64 *since = bpf_map_lookup_elem(&reply_flows, &k);
	if (!since)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (now - *since > WGBPF_REPLY_TTL_NS)
		return 0;
	watch(id);
	return now;
}

/* A device record's fields, and what a watched packet leaving or arriving tells the reply and tunnel following. */
static __always_inline void fill_device(struct wgbpf_device *e, const struct sk_buff *skb, struct l3_ref l3, __u64 id,
					__s32 ifindex, __u8 direction, __u8 flags, __u64 now, __u32 netns)
{
	read_packet(l3, id, &e->pkt);
	e->pkt.iif = direction == WGBPF_DEV_INGRESS ? ifindex : 0;
	e->pkt.oif = direction == WGBPF_DEV_EGRESS ? ifindex : 0;
	e->ifindex = ifindex;
	e->direction = direction;
	e->flags = flags;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	if (direction == WGBPF_DEV_EGRESS && skb->skb_iif && skb->skb_iif != ifindex)
		expect_reply(&e->pkt, now);
	if (direction == WGBPF_DEV_INGRESS)
		expect_inner_packet(&e->pkt, netns);
}

/* The packet's first bytes from its IP header: at most the snaplen, its IP length and what the buffer holds in
 * its linear part (the rest, in page fragments, is not read: the capture is then shorter, never made up). The
 * tail is zeroed: the ring buffer's memory holds older records. */
static __always_inline void capture_bytes(struct wgbpf_device_capture *c, struct l3_ref l3)
{
	__builtin_memset(c->bytes, 0, sizeof(c->bytes));
	c->orig_len = c->dev.pkt.len;
	c->cap_len = 0;
	c->pad = 0;
	__u64 n = filter.snaplen;
	if (n > c->dev.pkt.len)
		n = c->dev.pkt.len;
	if (n > l3.linear)
		n = l3.linear;
	barrier_var(n); /* the bound below must hold for the register the read gets, not for a copy */
	if (!c->dev.pkt.family || n == 0 || n > WGBPF_SNAPLEN_MAX)
		return;
	if (bpf_probe_read_kernel(c->bytes, n, l3.l3) == 0)
		c->cap_len = n;
}

#define WGBPF_IFF_LOOPBACK 0x8

/* Whether the device may have made the buffer it receives just now, by the cheap tests: never received before
 * (skb_iif is set on receive; a buffer redirected or re-injected into a device's ingress, by tc, ifb or IPsec,
 * carries it), and a NIC (no link ops, not loopback) or a device with link ops that may be a TUN. */
static __always_inline bool maybe_made_at_ingress(const struct sk_buff *skb, const struct net_device *dev)
{
	return !skb->skb_iif && (dev->rtnl_link_ops || !(dev->flags & WGBPF_IFF_LOOPBACK));
}

/* The rest, after maybe_made_at_ingress: a NIC's driver, or a TUN or TAP device's reader (tun_get_user
 * allocates). Veth, loopback, bridge, VLAN, kernel WireGuard and other tunnels pass on a buffer that may have
 * been seen before. One read of the ops' kind. */
static __always_inline bool made_at_ingress(const struct net_device *dev)
{
	const struct rtnl_link_ops *ops = dev->rtnl_link_ops;
	if (!ops)
		return true;
	char kind[4] = {};
	if (bpf_probe_read_kernel(kind, sizeof(kind), BPF_CORE_READ(ops, kind)))
		return false;
	return kind[0] == 't' && kind[1] == 'u' && kind[2] == 'n' && kind[3] == 0;
}

/* A buffer the device made just now is a new packet: a watched entry under its address is a packet freed without a
 * traced free (a socket's, GRO's), not to be taken for this one. The cheap tests first, the table only when it may
 * hold the address, the device's kind only when it does. Returns whether it held it and the device made the buffer
 * (it is forgotten then). */
static __always_inline bool forget_earlier_life(const struct sk_buff *skb, const struct net_device *dev,
						struct lazy_id *pid)
{
	if (!maybe_made_at_ingress(skb, dev))
		return false;
	__u64 now = watched_recently();
	if (!now || !watched_at(id_of(pid), now) || !made_at_ingress(dev))
		return false;
	unwatch_at(id_of(pid), now);
	return true;
}

static __always_inline void device_event(struct sk_buff *skb, const struct net_device *dev, __u8 direction)
{
	__u32 netns = dev_netns(dev);
	bool ingress = direction == WGBPF_DEV_INGRESS;
	struct lazy_id pid = lazy_packet_id(skb);
	if (!netns_watched(&filter, netns)) {
		/* Picking among packets, a packet that arrives in a namespace not watched (through a veth) has left the
		 * watched ones: its watch ends here, not where it is freed, maybe without a tracepoint (a peer's
		 * UDP socket, GRO), after which its reused address would be taken for it. Coming back, it is picked
		 * again. Whatever is picked, a buffer made here is no watched packet (a drop of it would be told). */
		if (ingress && selective())
			unwatch_skb(skb);
		else if (ingress)
			forget_earlier_life(skb, dev, &pid);
		return; /* cheapest rejection: another namespace */
	}
	__s32 ifindex = dev->ifindex;
	struct l3_ref l3 = l3_of(skb);
	bool made = ingress && forget_earlier_life(skb, dev, &pid);
	__u64 now = want_packet(l3, &pid, netns, ingress ? ifindex : 0, ingress ? 0 : ifindex, skb->mark,
				!ingress && !skb->skb_iif);
	if (!now && ingress && reply_flows_used)
		now = want_reply(l3, id_of(&pid));
	if (!now)
		return;
	if (ingress && !made) /* reported: user space may hold a story under this id still (a delivery has no event) */
		made = maybe_made_at_ingress(skb, dev) && made_at_ingress(dev);
	__u8 flags = made ? WGBPF_DEV_F_NEW_BUFFER : 0;
	__u64 id = id_of(&pid);
	if (direction == WGBPF_DEV_EGRESS) {
		struct hook_context *h = this_cpu_hook();
		if (h && h->packet == id)
			h->packet = 0; /* it left: no more re-routes for it */
	}
	/* --snaplen: the record carries the packet's first bytes (a second, larger layout: the plain one costs
	 * nothing more when no bytes are asked for) */
	if (filter.snaplen) {
		struct wgbpf_device_capture *c =
			reserve_event(sizeof(*c), WGBPF_EV_DEVICE_CAPTURE, WGBPF_DEVICE_CAPTURE_VERSION,
				      WGBPF_MOD_DEVICE, netns, now);
		if (!c)
			return;
		fill_device(&c->dev, skb, l3, id, ifindex, direction, flags, now, netns);
		capture_bytes(c, l3);
		submit_event(c, sizeof(*c));
		return;
	}
	struct wgbpf_device *e =
		reserve_event(sizeof(*e), WGBPF_EV_DEVICE, WGBPF_DEVICE_VERSION, WGBPF_MOD_DEVICE, netns, now);
	if (!e)
		return;
	fill_device(e, skb, l3, id, ifindex, direction, flags, now, netns);
	submit_event(e, sizeof(*e));
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(device_ingress, struct sk_buff *skb)
{
	device_event(skb, skb->dev, WGBPF_DEV_INGRESS);
	return 0;
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(device_egress, struct sk_buff *skb, struct net_device *dev)
{
	device_event(skb, dev, WGBPF_DEV_EGRESS);
	return 0;
}
