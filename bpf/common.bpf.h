/* Helpers shared by wgbpf's BPF programs: event emission with loss counting, namespace identity. */
#ifndef WGBPF_COMMON_BPF_H
#define WGBPF_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "wgbpf/abi/events.h"
#include "wgbpf/abi/siphash.h"

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

/* `t_ns`: the event's time; callers that decided with want_packet() pass the time it read (a clock read
 * costs ~30 ns). */
static __always_inline void fill_header(struct wgbpf_event_header *h, __u16 type, __u16 version, __u32 size,
					__u32 netns, __u64 t_ns)
{
	h->type = type;
	h->version = version;
	h->size = size;
	h->t_ns = t_ns;
	h->cpu = bpf_get_smp_processor_id();
	h->netns = netns;
	h->tgid = bpf_get_current_pid_tgid() >> 32;
	h->pad0 = 0;
}

/* Two ways to read kernel memory. Programs whose arguments carry BTF types (tp_btf, fentry/fexit,
 * netfilter) read fields with plain loads (`skb->mark`: CO-RE relocated, faults caught by the JIT),
 * which cost next to nothing; a bpf_probe_read_kernel() call costs ~30 ns here (measured with bpf
 * stats). kprobes see plain addresses and must use probe reads: the `_probed` variants below. */

static __always_inline __u32 net_inum(const struct net *net)
{
	return net ? net->ns.inum : 0;
}

static __always_inline __u32 dev_netns(const struct net_device *dev)
{
	return dev ? net_inum(dev->nd_net.net) : 0;
}

static __always_inline __u32 dev_netns_probed(const struct net_device *dev)
{
	const struct net *net = dev ? BPF_CORE_READ(dev, nd_net.net) : 0;
	return net ? BPF_CORE_READ(net, ns.inum) : 0;
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
 * the same packet follow it even when their own fields no longer match (a mark set, a device left), and
 * its drop is reported. Entries older than WGBPF_WATCH_TTL_NS are treated as a reused skb address.
 * Shared by all objects.
 * A 4-way set-associative table in an array, not an LRU hash: its lookups and inserts are plain loads and
 * stores in one cache line, inlined by the verifier. An LRU hash costs a helper call and a hash per
 * lookup, a lock per insert, and once full (skbs that sockets free without a traced free never leave)
 * an eviction batch per insert: ~400 ns at a packet's first sighting. A full set gives up its oldest. */
#define WGBPF_WATCH_TTL_NS (2ULL * 1000 * 1000 * 1000)
#define WGBPF_WATCH_WAYS 4
#define WGBPF_WATCH_SETS 16384 /* x 4 ways: 65536 packets, 1 MiB */

struct watch_way {
	__u64 id; /* 0: free */
	__u64 since;
};

struct watch_set {
	struct watch_way way[WGBPF_WATCH_WAYS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WGBPF_WATCH_SETS);
	__type(key, __u32);
	__type(value, struct watch_set);
} watched SEC(".maps");

/* Keyed by user space at load (one random key per run): packet ids do not reveal kernel addresses. */
volatile const __u64 packet_id_key[2] = {};

static __always_inline __u64 mix_packet_id(__u64 x)
{
	return wgbpf_siphash_u64(x, packet_id_key[0], packet_id_key[1]);
}

/* A packet's id from the skb's address, for BTF pointers. The verifier forbids arithmetic on such a
 * pointer, except that a privileged program may subtract two pointers: the skb's distance from the
 * `watched` map (one map, shared by every object) is as unique as its address and needs no helper. */
static __always_inline __u64 packet_id(const struct sk_buff *skb)
{
	return mix_packet_id((__u64)skb - (__u64)&watched);
}

/* A packet's id, hashed only once something needs it: the keyed hash costs ~15 ns, and most packets a
 * hook sees are rejected by the filter's cheap tests without it. `raw` is the skb's distance from
 * `watched` (one subtraction); `id` 0 until computed. */
struct lazy_id {
	__u64 raw;
	__u64 id;
};

static __always_inline struct lazy_id lazy_packet_id(const struct sk_buff *skb)
{
	struct lazy_id l = {(__u64)skb - (__u64)&watched, 0};
	return l;
}

static __always_inline __u64 id_of(struct lazy_id *l)
{
	if (!l->id)
		l->id = mix_packet_id(l->raw);
	return l->id;
}

/* The same id from a plain address (kprobes): the map's address read out as a number. */
static __always_inline __u64 packet_id_of_address(__u64 skb)
{
	const void *map = &watched;
	__u64 base = 0;
	bpf_probe_read_kernel(&base, sizeof(base), &map);
	return mix_packet_id(skb - base);
}

/* When a packet was last added to `watched` (give or take WGBPF_WATCH_CLOCK_SLACK_NS; 0: never). Longer
 * ago than an entry lives, the table holds nothing current and is not touched (a cold cache line per
 * packet): a filter that matches nothing, or nothing lately, costs only the cheap test. A map,
 * not a global: every object must see the others' additions. Written at most every slack interval, so
 * that CPUs adding packets do not fight over its cache line. */
#define WGBPF_WATCH_CLOCK_SLACK_NS (100ULL * 1000 * 1000)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} watch_clock SEC(".maps");

/* The watched packet this CPU's task is passing through the output hook (set by the netfilter programs
 * before its chains run, cleared after the last): a route lookup the kernel makes for it there (a chain
 * changed its mark or addresses: ip_route_me_harder) is that packet's re-route. Shared by all objects. */
struct hook_context {
	__u64 packet;   /* 0: none */
	__u64 pid_tgid; /* the task sending it */
	__u64 t_ns;
	__u8 dst[16];   /* its destination: the re-route's flow has it */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hook_context);
} hook_contexts SEC(".maps");

static __always_inline struct hook_context *this_cpu_hook(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&hook_contexts, &zero);
}

/* This packet is in the output hook now: lookups for it until the hook ends are its re-routes. */
static __always_inline void enter_output_hook(__u64 packet, __u64 t_ns, const __u8 dst[16])
{
	struct hook_context *h = this_cpu_hook();
	if (!h)
		return;
	h->packet = packet;
	h->pid_tgid = bpf_get_current_pid_tgid();
	h->t_ns = t_ns;
	__builtin_memcpy(h->dst, dst, 16);
}

static __always_inline void leave_output_hook(void)
{
	struct hook_context *h = this_cpu_hook();
	if (h)
		h->packet = 0;
}

/* The current time when `watched` may hold current entries, else 0 (no clock read). */
static __always_inline __u64 watched_recently(void)
{
	__u32 zero = 0;
	__u64 *last = bpf_map_lookup_elem(&watch_clock, &zero);
	if (!last || !*last)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	return now - *last <= WGBPF_WATCH_TTL_NS + WGBPF_WATCH_CLOCK_SLACK_NS ? now : 0;
}

/* Packet ids are hashes already: their low bits choose the set. */
static __always_inline struct watch_set *watch_set_of(__u64 id)
{
	__u32 set = id & (WGBPF_WATCH_SETS - 1);
	return bpf_map_lookup_elem(&watched, &set);
}

/* The packet's way in its set, or NULL. */
static __always_inline struct watch_way *way_of(struct watch_set *s, __u64 id)
{
#pragma unroll
	for (int i = 0; i < WGBPF_WATCH_WAYS; i++)
		if (s->way[i].id == id)
			return &s->way[i];
	return 0;
}

/* Where a new packet goes: the first free or expired way, else the oldest. */
static __always_inline struct watch_way *vacant_way(struct watch_set *s, __u64 now)
{
	struct watch_way *oldest = &s->way[0];
#pragma unroll
	for (int i = 0; i < WGBPF_WATCH_WAYS; i++) {
		if (!s->way[i].id || now - s->way[i].since > WGBPF_WATCH_TTL_NS)
			return &s->way[i];
		if (s->way[i].since < oldest->since)
			oldest = &s->way[i];
	}
	return oldest;
}

/* `now` if the packet is followed, else 0; `now` from watched_recently(). */
static __always_inline __u64 watched_at(__u64 id, __u64 now)
{
	struct watch_set *s = watch_set_of(id);
	struct watch_way *w = s ? way_of(s, id) : 0;
	if (!w)
		return 0;
	if (now - w->since > WGBPF_WATCH_TTL_NS) {
		w->id = 0;
		return 0;
	}
	return now;
}

/* The current time if the packet is followed, else 0. */
static __always_inline __u64 watched_now(__u64 id)
{
	__u64 now = watched_recently();
	return now ? watched_at(id, now) : 0;
}

/* The skb is gone (its address may come back as another packet): no longer followed. Whether it was. */
static __always_inline bool unwatch(__u64 id)
{
	__u64 now = watched_recently();
	if (!now)
		return false;
	struct watch_set *s = watch_set_of(id);
	struct watch_way *w = s ? way_of(s, id) : 0;
	if (!w)
		return false;
	w->id = 0;
	return now - w->since <= WGBPF_WATCH_TTL_NS;
}

/* Follows the packet from now on: in its own way if it has one (expired: a reused address), else in a
 * vacant one. Two CPUs may race for one way: one of the two packets is then not followed, as if
 * evicted. Returns the time. */
static __always_inline __u64 watch(__u64 id)
{
	__u64 now = bpf_ktime_get_ns();
	struct watch_set *s = watch_set_of(id);
	if (!s)
		return now;
	struct watch_way *w = way_of(s, id);
	if (w && now - w->since <= WGBPF_WATCH_TTL_NS)
		return now; /* already followed: the first sighting's time stays */
	if (!w)
		w = vacant_way(s, now);
	w->since = now;
	w->id = id;
	__u32 zero = 0;
	__u64 *last = bpf_map_lookup_elem(&watch_clock, &zero);
	if (last && now - *last > WGBPF_WATCH_CLOCK_SLACK_NS)
		*last = now;
	return now;
}

/* Where a packet's IP header is, and its ethertype (host order). */
struct l3_ref {
	const unsigned char *l3;
	__u16 protocol;
};

static __always_inline struct l3_ref l3_of(const struct sk_buff *skb)
{
	struct l3_ref r = {skb->head + skb->network_header, bpf_ntohs(skb->protocol)};
	return r;
}

static __always_inline struct l3_ref l3_of_probed(const struct sk_buff *skb)
{
	struct l3_ref r = {BPF_CORE_READ(skb, head) + BPF_CORE_READ(skb, network_header),
			   bpf_ntohs(BPF_CORE_READ(skb, protocol))};
	return r;
}

/* Ports (or ICMP type and code) and the first UDP payload bytes, from the transport header's bytes. */
static __always_inline void parse_l4(struct wgbpf_packet *p, const __u8 *l4)
{
	if (p->proto == 6 || p->proto == 17 || p->proto == 132) {
		p->sport = (__u16)l4[0] << 8 | l4[1];
		p->dport = (__u16)l4[2] << 8 | l4[3];
		p->flags |= WGBPF_PKT_F_L4;
		if (p->proto == 17) {
			__builtin_memcpy(p->udp_payload, l4 + 8, sizeof(p->udp_payload));
			p->flags |= WGBPF_PKT_F_PAYLOAD;
		}
	} else if (p->proto == 1 || p->proto == 58) {
		p->dport = (__u16)l4[0] << 8 | l4[1];
		p->flags |= WGBPF_PKT_F_L4;
		/* "Too big" errors carry the MTU: the bytes after type, code and checksum. */
		if ((p->proto == 1 && l4[0] == 3 && l4[1] == 4) || (p->proto == 58 && l4[0] == 2)) {
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
	if (r.protocol == 0x0800) {
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
	} else if (r.protocol == 0x86dd) {
		bool whole = !bpf_probe_read_kernel(&h, sizeof(h), r.l3);
		if (!whole && bpf_probe_read_kernel(&h.ip6, sizeof(h.ip6), r.l3))
			return;
		p->family = WGBPF_FAMILY_IPV6;
		p->proto = h.ip6.nexthdr; /* extension headers are not walked */
		p->len = bpf_ntohs(h.ip6.payload_len) + 40;
		p->l3_len = 40;
		__builtin_memcpy(p->src, &h.ip6.saddr, 16);
		__builtin_memcpy(p->dst, &h.ip6.daddr, 16);
		if (whole && p->proto == 44) { /* a fragment header first (RFC 8200 4.5): its transport, id, place */
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

/* The namespaces chosen by the user (none: every one). The cheapest rejection. */
static __always_inline bool netns_watched(const struct wgbpf_filter *f, __u32 netns)
{
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
	__u32 src[4];
	__u32 dst[4];
};

/* The IP header's protocol and addresses and the transport ports, in one read (two with IPv4 options):
 * enough for the filter's port and address tests. */
static __always_inline void read_flow_head(struct l3_ref r, struct flow_head *h)
{
	h->family = 0;
	if (r.protocol == 0x0800) {
		__u32 w[6]; /* 20-byte header, then the ports */
		if (bpf_probe_read_kernel(w, sizeof(w), r.l3))
			return;
		const __u8 *b = (const __u8 *)w;
		__u32 ihl = (b[0] & 0xf) * 4;
		h->family = WGBPF_FAMILY_IPV4;
		h->proto = b[9];
		h->src[0] = w[3];
		h->dst[0] = w[4];
		if ((w[1] >> 16) & bpf_htons(0x1fff)) /* a later fragment: no ports */
			return;
		__u32 ports = w[5];
		if (ihl != 20 && bpf_probe_read_kernel(&ports, sizeof(ports), r.l3 + ihl))
			return;
		h->sport = bpf_ntohs(ports & 0xffff);
		h->dport = bpf_ntohs(ports >> 16);
	} else if (r.protocol == 0x86dd) {
		__u32 w[11]; /* 40-byte header, then the ports; extension headers are not walked */
		if (bpf_probe_read_kernel(w, sizeof(w), r.l3))
			return;
		h->family = WGBPF_FAMILY_IPV6;
		h->proto = ((const __u8 *)w)[6];
		__builtin_memcpy(h->src, &w[2], 16);
		__builtin_memcpy(h->dst, &w[6], 16);
		h->sport = bpf_ntohs(w[10] & 0xffff);
		h->dport = bpf_ntohs(w[10] >> 16);
	}
}

/* Whether to report this packet: already watched, or chosen by the filter now (and from then on
 * watched). Cheapest tests first, the whole packet is read only for what is reported: interfaces
 * and marks need no read, the watched table one cache line, the listen port and addresses one read of
 * the IP header.
 * Returns the time when the packet is wanted (the event's time), else 0. */
static __always_inline __u64 want_packet(struct l3_ref r, struct lazy_id *pid, __u32 netns, __s32 iif, __s32 oif,
					 __u32 mark)
{
	if (filter_matches_cheaply(&filter, netns, iif, oif, mark))
		return watch(id_of(pid));
	__u64 now = watched_recently(); /* the id only when the table may hold it */
	if (now && watched_at(id_of(pid), now))
		return now;
	if (!filter.n_addrs && !filter.n_ports)
		return 0;
	struct flow_head h = {};
	read_flow_head(r, &h);
	if (!filter_matches_port(&filter, h.proto, h.sport, h.dport) &&
	    !filter_matches_address(&filter, (const __u8 *)h.src, (const __u8 *)h.dst, h.family))
		return 0;
	return watch(id_of(pid));
}

#endif
