/* Kernel WireGuard module: the peer WireGuard's cryptokey routing chose for each watched packet.
 * wg_xmit() asks wg_allowedips_lookup_dst(table, skb) for the inner packet's peer, then encrypts the
 * same skb in place into the outer packet; after decrypting in place, the receive path asks
 * wg_allowedips_lookup_src(table, skb) which peer may send from the inner source. One event per lookup
 * ties a packet id to a peer: user space links inner and outer packets by that id, exactly.
 * Two flavours: fexit (arguments and return in one program) and kprobe + kretprobe (the skb kept per
 * CPU in between: both run on the same CPU, the lookups do not sleep). */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* WireGuard's types live in the module's BTF, not in vmlinux.h: only the fields read here, relocated
 * by libbpf against /sys/kernel/btf/wireguard. */
struct wg_device {
	struct net_device *dev;
} __attribute__((preserve_access_index));

struct noise_handshake {
	__u8 remote_static[32];
} __attribute__((preserve_access_index));

struct wg_peer {
	struct wg_device *device;
	struct noise_handshake handshake;
} __attribute__((preserve_access_index));

/* Shared by both flavours, so it reads with probe reads (kprobes see plain addresses); `id` is the
 * packet id, computed by each flavour its own way. Not on a hot path: once per tunnelled packet. */
static __always_inline void peer_event(struct sk_buff *skb, __u64 id, const struct wg_peer *peer, __u8 action)
{
	const struct net_device *dev = BPF_CORE_READ(skb, dev);
	__u32 netns = dev_netns_probed(dev);
	if (filter.netns && netns != filter.netns)
		return;
	__s32 ifindex = peer ? BPF_CORE_READ(peer, device, dev, ifindex) : BPF_CORE_READ(dev, ifindex);
	struct l3_ref l3 = l3_of_probed(skb);
	struct lazy_id pid = {0, id}; /* each flavour computed it its own way */
	__u64 now = want_packet(l3, &pid, ifindex, ifindex, BPF_CORE_READ(skb, mark));
	if (!now)
		return;
	struct wgbpf_wireguard *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_loss(WGBPF_MOD_WIREGUARD);
		return;
	}
	fill_header(&e->hdr, WGBPF_EV_WIREGUARD, 1, sizeof(*e), netns, now);
	read_packet(l3, id, &e->pkt);
	e->ifindex = ifindex;
	e->action = action;
	e->found = peer != 0;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	__builtin_memset(e->peer_key, 0, sizeof(e->peer_key));
	if (peer)
		bpf_probe_read_kernel(e->peer_key, sizeof(e->peer_key), &peer->handshake.remote_static);
	bpf_ringbuf_submit(e, wakeup_flags(&events, sizeof(*e)));
}

SEC("fexit/wg_allowedips_lookup_dst")
int BPF_PROG(wg_lookup_dst_exit, void *table, struct sk_buff *skb, struct wg_peer *peer)
{
	peer_event(skb, packet_id(skb), peer, WGBPF_WG_ENCRYPT);
	return 0;
}

SEC("fexit/wg_allowedips_lookup_src")
int BPF_PROG(wg_lookup_src_exit, void *table, struct sk_buff *skb, struct wg_peer *peer)
{
	peer_event(skb, packet_id(skb), peer, WGBPF_WG_DECRYPT);
	return 0;
}

/* kprobe flavour: the skb from the entry, per CPU, for the return probe. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lookup_skb SEC(".maps");

static __always_inline void remember_skb(struct sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *slot = bpf_map_lookup_elem(&lookup_skb, &zero);
	if (slot)
		*slot = (__u64)skb;
}

static __always_inline void peer_returned(struct pt_regs *ctx, __u8 action)
{
	__u32 zero = 0;
	__u64 *slot = bpf_map_lookup_elem(&lookup_skb, &zero);
	if (!slot || !*slot)
		return;
	__u64 skb = *slot;
	*slot = 0;
	peer_event((struct sk_buff *)skb, packet_id_of_address(skb), (const struct wg_peer *)PT_REGS_RC(ctx), action);
}

SEC("kprobe/wg_allowedips_lookup_dst")
int BPF_KPROBE(wg_lookup_dst_entry, void *table, struct sk_buff *skb)
{
	remember_skb(skb);
	return 0;
}

SEC("kretprobe/wg_allowedips_lookup_dst")
int BPF_KRETPROBE(wg_lookup_dst_return)
{
	peer_returned(ctx, WGBPF_WG_ENCRYPT);
	return 0;
}

SEC("kprobe/wg_allowedips_lookup_src")
int BPF_KPROBE(wg_lookup_src_entry, void *table, struct sk_buff *skb)
{
	remember_skb(skb);
	return 0;
}

SEC("kretprobe/wg_allowedips_lookup_src")
int BPF_KRETPROBE(wg_lookup_src_return)
{
	peer_returned(ctx, WGBPF_WG_DECRYPT);
	return 0;
}
