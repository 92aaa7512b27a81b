/* Drops of watched packets: skb:kfree_skb with the drop reason (5.17+) and the freeing location.
 * Fires for every freed skb on the host, so the first thing it does is the watched-packet lookup.
 * tp_btf cannot read past the tracepoint's real arguments: before 5.17 there is no reason, and user
 * space loads the two-argument variant (chosen by the BTF argument count of btf_trace_kfree_skb). */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Locally generated packets have no device before POSTROUTING: then the socket tells the namespace. */
static __always_inline __u32 skb_netns(const struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	if (dev)
		return dev_netns(dev);
	struct sock *sk = skb->sk;
	return sk ? net_inum(sk->__sk_common.skc_net.net) : 0;
}

static __always_inline void drop(struct sk_buff *skb, void *location, __u32 reason)
{
	__u64 now = watched_recently(); /* the id is hashed only when the table may hold it */
	if (!now)
		return;
	__u64 id = packet_id(skb);
	if (!unwatch_at(id, now))
		return;
	struct hook_context *hc = this_cpu_hook();
	if (hc && hc->packet == id)
		hc->packet = 0; /* dropped in the output hook: no re-route of it will come */
	/* Any namespace: a watched packet that crossed into another one (a veth peer) and died there is
	 * reported there (user space gives this module no namespace filter). */
	__u32 netns = skb_netns(skb);
	struct wgbpf_drop *e =
		reserve_event(sizeof(*e), WGBPF_EV_DROP, WGBPF_DROP_VERSION, WGBPF_MOD_DROP, netns, bpf_ktime_get_ns());
	if (!e)
		return;
	read_packet(l3_of(skb), id, &e->pkt);
	e->pkt.iif = skb->skb_iif;
	e->pkt.oif = 0;
	e->location = (__u64)location;
	e->reason = reason;
	e->pad0 = 0;
	submit_event(e, sizeof(*e));
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(drop_kfree_skb_reason, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	drop(skb, location, reason);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(drop_kfree_skb_noreason, struct sk_buff *skb, void *location)
{
	drop(skb, location, 0);
	return 0;
}

/* A consumed skb (freed normally) ends its packet's watch as well. Consumed by a user-space WireGuard's TUN device
 * (wireguard-go read it), a watched inner packet will leave as an outer packet: expected from now on. */
SEC("tp_btf/consume_skb")
int BPF_PROG(drop_consume_skb, struct sk_buff *skb)
{
	if (!unwatch_skb(skb))
		return 0;
	struct hook_context *hc = this_cpu_hook();
	if (hc && hc->packet == packet_id(skb))
		hc->packet = 0; /* consumed (sent as other buffers, GSO): no re-route of it will come */
	if (following_tunnels())
		expect_outer_packet(skb);
	return 0;
}

/* A datagram copied to its socket's (or TUN device's) reader is delivered: nothing more of its path follows, and UDP then frees it
 * without a tracepoint (skb_consume_udp: __consume_stateless_skb), as TCP frees what it has read (__kfree_skb). Its
 * watch ends here, or its buffer's address, soon reused, would be taken for it. */
SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(drop_delivered, const struct sk_buff *skb, int len)
{
	/* a TUN device's reader (wireguard-go) copies the inner packet out here, before it is consumed */
	if (unwatch_skb(skb) && following_tunnels())
		expect_outer_packet(skb);
	return 0;
}
