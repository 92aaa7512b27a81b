/* Device module: a watched packet received on a device (netif_receive_skb) or handed to one
 * (net_dev_start_xmit). These open and close packet timelines and show WireGuard's inner packets
 * entering and leaving the tunnel device. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline void device_event(struct sk_buff *skb, const struct net_device *dev, __u8 direction)
{
	__u32 netns = dev_netns(dev);
	if (filter.netns && netns != filter.netns)
		return; /* cheapest rejection: another namespace */
	__s32 ifindex = dev->ifindex;
	__u64 id = packet_id(skb);
	struct l3_ref l3 = l3_of(skb);
	__u64 now = want_packet(l3, id, ifindex, ifindex, skb->mark);
	if (!now)
		return;
	if (direction == WGBPF_DEV_EGRESS) {
		struct hook_context *h = this_cpu_hook();
		if (h && h->packet == id)
			h->packet = 0; /* it left: no more re-routes for it */
	}
	struct wgbpf_device *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_loss(WGBPF_MOD_DEVICE);
		return;
	}
	fill_header(&e->hdr, WGBPF_EV_DEVICE, 1, sizeof(*e), netns, now);
	read_packet(l3, id, &e->pkt);
	e->pkt.iif = direction == WGBPF_DEV_INGRESS ? ifindex : 0;
	e->pkt.oif = direction == WGBPF_DEV_EGRESS ? ifindex : 0;
	e->ifindex = ifindex;
	e->direction = direction;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	bpf_ringbuf_submit(e, wakeup_flags(&events, sizeof(*e)));
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
