/* Helpers shared by wgbpf's BPF programs: event emission with loss counting, namespace identity. */
#ifndef WGBPF_COMMON_BPF_H
#define WGBPF_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "wgbpf/abi/events.h"

#define WGBPF_EAGAIN 11
#define WGBPF_LOOPBACK_IFINDEX 1

/* One ring buffer for every object (user space shares the fd): one stream, ordered by reservation, so
 * e.g. a rule outcome arrives right after the table lookups it explains. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

/* What the user asked to watch; set by user space before and while running (mmapped .bss). */
struct wgbpf_filter filter = {};

/* Records that could not be reserved, per probe module: user space shows them, nothing is lost silently. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WGBPF_MOD_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} losses SEC(".maps");

static __always_inline void count_loss(__u32 module)
{
	__u64 *n = bpf_map_lookup_elem(&losses, &module);
	if (n)
		*n += 1;
}

/* The consumer polls on a timer; it is woken early only when a record crosses a 256 KiB boundary of
 * unread data. (Waking on every record above a threshold costs an interrupt per packet exactly when the
 * consumer is already behind.) */
#define WGBPF_WAKEUP_BYTES (256 * 1024)

static __always_inline __u64 wakeup_flags(void *ringbuf, __u64 record_size)
{
	__u64 unread = bpf_ringbuf_query(ringbuf, BPF_RB_AVAIL_DATA);
	if (unread < record_size)
		return BPF_RB_NO_WAKEUP;
	return unread / WGBPF_WAKEUP_BYTES != (unread - record_size) / WGBPF_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
											     : BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_header(struct wgbpf_event_header *h, __u16 type, __u16 version, __u32 size,
					__u32 netns)
{
	h->type = type;
	h->version = version;
	h->size = size;
	h->t_ns = bpf_ktime_get_ns();
	h->cpu = bpf_get_smp_processor_id();
	h->netns = netns;
	h->tgid = bpf_get_current_pid_tgid() >> 32;
	h->pad0 = 0;
}

static __always_inline __u32 net_inum(const struct net *net)
{
	return net ? BPF_CORE_READ(net, ns.inum) : 0;
}

static __always_inline __u32 dev_netns(const struct net_device *dev)
{
	return dev ? net_inum(BPF_CORE_READ(dev, nd_net.net)) : 0;
}

/* The current task's namespace: right for process-context lookups (sockets), not for softirqs. */
static __always_inline __u32 task_netns(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct nsproxy *ns = task->nsproxy;
	if (!ns)
		return 0;
	return net_inum(ns->net_ns);
}

/* Packets already chosen by the filter, by packet id, with the time first seen: later observations of
 * the same packet follow it even when their own fields no longer match (a mark set, a device left).
 * Entries older than WGBPF_WATCH_TTL_NS are treated as a reused skb address. Shared by all objects. */
#define WGBPF_WATCH_TTL_NS (2ULL * 1000 * 1000 * 1000)

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} watched SEC(".maps");

/* Keyed by user space at load: packet ids do not reveal kernel addresses. */
volatile const __u64 packet_id_key = 0;

static __always_inline __u64 packet_id(const struct sk_buff *skb)
{
	/* The verifier forbids arithmetic on a trusted pointer: copy its value out as a plain number. */
	__u64 x = 0;
	bpf_probe_read_kernel(&x, sizeof(x), &skb);
	x ^= packet_id_key;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static __always_inline bool is_watched(__u64 id, __u64 now)
{
	__u64 *since = bpf_map_lookup_elem(&watched, &id);
	if (!since)
		return false;
	if (now - *since > WGBPF_WATCH_TTL_NS) {
		bpf_map_delete_elem(&watched, &id);
		return false;
	}
	return true;
}

static __always_inline void watch(__u64 id, __u64 now)
{
	bpf_map_update_elem(&watched, &id, &now, BPF_NOEXIST);
}

/* IPv4/IPv6 header fields from the skb's network header (tracing reads: works in any context). `id` is
 * packet_id(skb): every caller has already computed it to decide whether to report the packet. */
static __always_inline void read_packet(struct sk_buff *skb, __u64 id, struct wgbpf_packet *p)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->id = id;
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 protocol = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	unsigned char *l3 = head + nh;
	unsigned char *l4 = 0;
	if (protocol == 0x0800) {
		struct iphdr ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), l3))
			return;
		if (ip.version != 4)
			return;
		p->family = WGBPF_FAMILY_IPV4;
		p->proto = ip.protocol;
		p->len = bpf_ntohs(ip.tot_len);
		p->ip_id = bpf_ntohs(ip.id);
		__builtin_memcpy(p->src, &ip.saddr, 4);
		__builtin_memcpy(p->dst, &ip.daddr, 4);
		p->l3_len = ip.ihl * 4;
		if (!(ip.frag_off & bpf_htons(0x1fff))) /* only the first fragment has ports */
			l4 = l3 + ip.ihl * 4;
	} else if (protocol == 0x86dd) {
		struct ipv6hdr ip6;
		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), l3))
			return;
		p->family = WGBPF_FAMILY_IPV6;
		p->proto = ip6.nexthdr; /* extension headers are not walked */
		p->len = bpf_ntohs(ip6.payload_len) + 40;
		p->l3_len = 40;
		__builtin_memcpy(p->src, &ip6.saddr, 16);
		__builtin_memcpy(p->dst, &ip6.daddr, 16);
		l4 = l3 + 40;
	} else {
		return;
	}
	if (!l4)
		return;
	if (p->proto == 6 || p->proto == 17 || p->proto == 132) {
		__be16 ports[2];
		if (!bpf_probe_read_kernel(ports, sizeof(ports), l4)) {
			p->sport = bpf_ntohs(ports[0]);
			p->dport = bpf_ntohs(ports[1]);
			p->flags |= WGBPF_PKT_F_L4;
		}
		if (p->proto == 17 && !bpf_probe_read_kernel(p->udp_payload, sizeof(p->udp_payload), l4 + 8))
			p->flags |= WGBPF_PKT_F_PAYLOAD;
	} else if (p->proto == 1 || p->proto == 58) {
		__u8 type_code[2];
		if (!bpf_probe_read_kernel(type_code, sizeof(type_code), l4)) {
			p->dport = (__u16)type_code[0] << 8 | type_code[1];
			p->flags |= WGBPF_PKT_F_L4;
		}
	}
}

/* Conntrack entry attached to the skb: mark and state (enum ip_conntrack_info). */
static __always_inline void read_ct(const struct sk_buff *skb, __u32 *ct_mark, __u8 *ct_state)
{
	unsigned long nfct = BPF_CORE_READ(skb, _nfct);
	struct nf_conn *ct = (struct nf_conn *)(nfct & ~7UL);
	*ct_mark = 0;
	if (!ct) {
		*ct_state = (nfct & 7) == 7 ? 7 /* IP_CT_UNTRACKED */ : WGBPF_CT_NONE;
		return;
	}
	*ct_state = nfct & 7;
	if (bpf_core_field_exists(ct->mark))
		*ct_mark = BPF_CORE_READ(ct, mark);
}

/* Addresses live at 4-byte offsets in packet records on the stack: compare in 32-bit words. */
static __always_inline bool addr_eq(const __u8 *a, const __u8 *b, __u8 family)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;
	if (family == WGBPF_FAMILY_IPV4)
		return x[0] == y[0];
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* Interfaces and marks chosen by the user: decided without reading the packet. */
static __always_inline bool filter_matches_cheaply(const struct wgbpf_filter *f, __s32 iif, __s32 oif, __u32 mark)
{
	if (!f->n_ifaces)
		return true;
	for (int i = 0; i < WGBPF_FILTER_MAX_IFACES; i++) {
		if (i >= f->n_ifaces)
			break;
		if (f->ifaces[i] == iif || f->ifaces[i] == oif)
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

/* Interfaces, marks, addresses chosen by the user (the namespace is checked by the caller). */
static __always_inline bool filter_matches(const struct wgbpf_filter *f, __s32 iif, __s32 oif, __u32 mark,
					   const __u8 *src, const __u8 *dst, __u8 family)
{
	return filter_matches_cheaply(f, iif, oif, mark) || filter_matches_address(f, src, dst, family);
}

/* Only the addresses of the skb's IP header (one read): enough for the filter's address test. */
static __always_inline __u8 read_addresses(struct sk_buff *skb, __u8 src[16], __u8 dst[16])
{
	unsigned char *l3 = BPF_CORE_READ(skb, head) + BPF_CORE_READ(skb, network_header);
	__u16 protocol = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	if (protocol == 0x0800) {
		__u32 a[2];
		if (bpf_probe_read_kernel(a, sizeof(a), l3 + 12))
			return 0;
		__builtin_memcpy(src, &a[0], 4);
		__builtin_memcpy(dst, &a[1], 4);
		return WGBPF_FAMILY_IPV4;
	}
	if (protocol == 0x86dd) {
		__u32 a[8];
		if (bpf_probe_read_kernel(a, sizeof(a), l3 + 8))
			return 0;
		__builtin_memcpy(src, &a[0], 16);
		__builtin_memcpy(dst, &a[4], 16);
		return WGBPF_FAMILY_IPV6;
	}
	return 0;
}

/* Whether to report this packet: already watched, or chosen by the filter now (and from then on
 * watched). Cheapest tests first, the whole packet is read only for what is reported: interfaces
 * and marks need no read, the watched map one lookup, addresses one read of the IP header. */
static __always_inline bool want_packet(struct sk_buff *skb, __u64 id, __s32 iif, __s32 oif, __u32 mark, __u64 now)
{
	if (filter_matches_cheaply(&filter, iif, oif, mark)) {
		if (!is_watched(id, now))
			watch(id, now);
		return true;
	}
	if (is_watched(id, now))
		return true;
	if (!filter.n_addrs)
		return false;
	__u32 src[4] = {}, dst[4] = {};
	__u8 family = read_addresses(skb, (__u8 *)src, (__u8 *)dst);
	if (!filter_matches_address(&filter, (const __u8 *)src, (const __u8 *)dst, family))
		return false;
	watch(id, now);
	return true;
}

#endif
