/* Routing probe: every IPv4/IPv6 fib table lookup, with the flow that caused it and the result.
 * Tracepoints (tp_btf) only: runs on every kernel with BTF since 5.5, including ones that refuse fentry.
 * Rules have no tracepoint; user space attributes lookups to rules (or route_rules.bpf.c does, exactly). */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* What this CPU is receiving: set at netif_receive_skb, so that the input lookup and the reverse-path
 * (rp_filter) lookups that ip_route_input_slow() makes for that packet, in the same softirq on this CPU,
 * are tied to it and to its namespace. */
struct rx_context {
	__u64 packet; /* packet id of the skb being received */
	__u32 netns;
	__s32 ifindex;
	__u8 expect_reverse; /* an input lookup ran; a reverse lookup for the swapped flow may follow */
	__u8 family;
	__u8 proto;
	__u8 pad;
	__u8 src[16];
	__u8 dst[16];
};

WGBPF_PERCPU_SCRATCH(rx_contexts, struct rx_context);

static __always_inline struct rx_context *this_cpu_rx(void)
{
	return one_entry(rx_contexts);
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(route_rx_begin, struct sk_buff *skb)
{
	struct rx_context *rx = this_cpu_rx();
	if (!rx)
		return 0;
	struct net_device *dev = skb->dev;
	rx->packet = packet_id(skb);
	rx->netns = dev_netns(dev);
	rx->ifindex = dev ? dev->ifindex : 0;
	rx->expect_reverse = 0;
	return 0;
}

/* Flow fields common to both families, filled by the per-family readers. */
struct flow_view {
	__u8 family;
	__u8 proto;
	__u16 sport;
	__u16 dport;
	__u8 dscp;
	__u8 scope;
	__u32 mark;
	__s32 iif;
	__s32 oif;
	__u32 uid;
	__u8 src[16];
	__u8 dst[16];
};

/* The flow's interfaces, mark and addresses, or the result's device (the namespace is checked first). */
static __always_inline bool wanted_place(const struct flow_view *f, __u32 netns, __s32 nh_ifindex)
{
	if (filter_matches_cheaply(&filter, netns, f->iif, f->oif, f->mark) ||
	    filter_matches_port(&filter, f->proto, f->sport, f->dport) ||
	    filter_matches_address(&filter, f->src, f->dst, f->family))
		return true;
	for (int i = 0; i < WGBPF_FILTER_MAX_IFACES; i++) {
		if (i >= filter.n_ifaces)
			break;
		if (filter.ifaces[i] == nh_ifindex && filter.iface_netns[i] == netns)
			return true;
	}
	return false;
}

/* The places chosen, and the user's expression on the flow (an undecided answer keeps the lookup: its packet
 * may match on what the lookup does not carry). */
static __always_inline bool wanted(const struct flow_view *f, __u32 netns, __s32 nh_ifindex, __u8 direction)
{
	if (!wanted_place(f, netns, nh_ifindex))
		return false;
	/* Choosing among packets, a received packet's lookups (input, reverse) go with the packet, chosen at its
	 * arrival: their flow may lack its protocol and ports. An output lookup comes before its packet: judged by
	 * its flow. */
	if (selective() && direction != WGBPF_DIR_OUTPUT)
		return false;
	if (filter.sample_every > 1) {
		bool ports = f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP || f->proto == IPPROTO_SCTP;
		/* before a source address or port is chosen the flow hashes unlike its packet: kept, undecided */
		const __u32 *src = (const __u32 *)f->src;
		bool unchosen = !(src[0] | src[1] | src[2] | src[3]) || (ports && !f->sport);
		__u32 a[4] = {}, b[4] = {};
		__builtin_memcpy(a, f->src, 16);
		__builtin_memcpy(b, f->dst, 16);
		if (!unchosen && (filter_matches_port(&filter, f->proto, f->sport, f->dport) ||
				  !flow_sampled(f->proto, a, b, ports ? f->sport : 0, ports ? f->dport : 0)))
			return false;
	}
	return !filter.pcap ||
	       pcap_matches_flow(f->family, f->proto, f->dscp, f->src, f->dst, f->sport, f->dport) != WGBPF_PCAP_NO_MATCH;
}

/* Decides direction and namespace on this CPU, and keeps the receive context up to date. */
static __always_inline __u8 classify(const struct flow_view *f, __u32 *netns, __u64 *rx_packet)
{
	struct rx_context *rx = this_cpu_rx();
	if (f->iif != WGBPF_LOOPBACK_IFINDEX) {
		/* input route of the packet this CPU is receiving */
		if (rx && rx->ifindex == f->iif) {
			if (!*netns)
				*netns = rx->netns;
			*rx_packet = rx->packet;
			rx->expect_reverse = 1;
			rx->family = f->family;
			rx->proto = f->proto;
			__builtin_memcpy(rx->src, f->src, 16);
			__builtin_memcpy(rx->dst, f->dst, 16);
		}
		return WGBPF_DIR_INPUT;
	}
	if (rx && rx->expect_reverse) {
		/* __fib_validate_source(): saddr/daddr swapped, iif loopback, no oif, same proto */
		if (rx->family == f->family && f->oif == 0 && rx->proto == f->proto &&
		    addr_eq(rx->src, f->dst, f->family) && addr_eq(rx->dst, f->src, f->family)) {
			if (!*netns)
				*netns = rx->netns;
			*rx_packet = rx->packet;
			return WGBPF_DIR_REVERSE;
		}
		rx->expect_reverse = 0; /* another lookup ran on this CPU: the validation is over */
	}
	return WGBPF_DIR_OUTPUT;
}

/* An output lookup the kernel makes for the watched packet this task has in the output hook on this CPU
 * (same destination, soon after its chain began): its re-route. Sets `packet` to that packet's id. The context
 * ends with the hook (its last bracket or chain), at the device, or when the packet is dropped; the window only
 * bounds one left behind otherwise (a packet queued or stolen in the hook, or sent as other buffers). 10 ms, not 1:
 * a kernel under emulation (the VM suite's TCG) took 2 ms between a chain's start and its re-route; wider would
 * let a context left behind lend itself to the same task's next packet to the same host. */
#define WGBPF_REROUTE_WINDOW_NS (10ULL * 1000 * 1000)

static __always_inline bool rerouted_packet(const struct flow_view *f, __u64 *packet)
{
	struct hook_context *h = this_cpu_hook();
	if (!h || !h->packet || h->pid_tgid != bpf_get_current_pid_tgid() || !addr_eq(h->dst, f->dst, f->family))
		return false;
	if (bpf_ktime_get_ns() - h->t_ns > WGBPF_REROUTE_WINDOW_NS)
		return false;
	*packet = h->packet;
	return true;
}

/* The filter decides per rule walk, not per lookup: the inner packet's walk misses in local and has
 * main's result (dev c0) suppressed before table 51820 answers wg0, and only that last lookup names
 * the watched interface. So lookups of the current flow that do not match wait here (per CPU); when
 * one of the same flow matches they are sent first, and the rest of that flow's walk follows. */
#define WGBPF_STAGE_MAX 4

struct walk_stage {
	struct flow_view flow;
	__u32 netns;
	__u8 direction;
	__u8 matched; /* this flow already matched: send its lookups at once */
	__u8 n;
	__u8 pad;
	struct wgbpf_route_lookup staged[WGBPF_STAGE_MAX];
};

WGBPF_PERCPU_SCRATCH(walk_stages, struct walk_stage);

static __always_inline bool flow_eq(const struct flow_view *a, const struct flow_view *b)
{
	return a->family == b->family && a->proto == b->proto && a->sport == b->sport && a->dport == b->dport &&
	       a->mark == b->mark && a->iif == b->iif && a->oif == b->oif && addr_eq(a->src, b->src, a->family) &&
	       addr_eq(a->dst, b->dst, a->family);
}

static __always_inline void send(const struct wgbpf_route_lookup *e)
{
	if (bpf_ringbuf_output(&events, (void *)e, sizeof(*e), wakeup_flags(&events, sizeof(*e))))
		count_loss(WGBPF_MOD_ROUTE);
}

static __always_inline void fill_lookup(struct wgbpf_route_lookup *e, const struct flow_view *f, __u32 table, __s32 err,
					__u32 netns, const struct fib_nh_common *nhc, __s32 nh_ifindex, __u8 direction,
					__u64 rx_packet, __u8 flags)
{
	fill_header(&e->hdr, WGBPF_EV_ROUTE_LOOKUP, WGBPF_ROUTE_LOOKUP_VERSION, sizeof(*e), netns, bpf_ktime_get_ns());
	e->table = table;
	e->err = err;
	e->mark = f->mark;
	e->iif = f->iif;
	e->oif = f->oif;
	e->uid = f->uid;
	e->nh_ifindex = nh_ifindex;
	e->family = f->family;
	e->proto = f->proto;
	e->direction = direction;
	e->flags = flags;
	e->sport = f->sport;
	e->dport = f->dport;
	e->dscp = f->dscp;
	e->scope = f->scope;
	e->pad1 = 0;
	e->rx_packet = rx_packet;
	__builtin_memcpy(e->src, f->src, 16);
	__builtin_memcpy(e->dst, f->dst, 16);
	__builtin_memset(e->gw, 0, 16);
	if (nhc) {
		e->flags |= WGBPF_LOOKUP_F_NH;
		__u8 gw_family = nhc->nhc_gw_family;
		if (gw_family == WGBPF_AF_INET) {
			__u32 gw4 = nhc->nhc_gw.ipv4;
			__builtin_memcpy(e->gw, &gw4, 4);
			e->flags |= WGBPF_LOOKUP_F_GW;
		} else if (gw_family == WGBPF_AF_INET6) {
			/* a probe read: 6.1's verifier walks a union by its first member (ipv4) only */
			BPF_CORE_READ_INTO(&e->gw, nhc, nhc_gw.ipv6);
			e->flags |= WGBPF_LOOKUP_F_GW;
		}
	}
}

static __always_inline void emit(const struct flow_view *f, __u32 table, __s32 err, __u32 netns,
				 const struct fib_nh_common *nhc)
{
	__s32 nh_ifindex = 0;
	struct net_device *nh_dev = NULL;
	if (nhc) {
		nh_dev = nhc->nhc_dev;
		if (nh_dev)
			nh_ifindex = nh_dev->ifindex;
	}
	__u64 rx_packet = 0;
	if (!netns && f->iif == WGBPF_LOOPBACK_IFINDEX && nh_dev)
		netns = dev_netns(nh_dev); /* output hit: the device's namespace */
	__u8 direction = classify(f, &netns, &rx_packet);
	if (!netns)
		netns = task_netns();
	if (!netns_watched(&filter, netns))
		return; /* cheapest rejection: another namespace */
	__u8 flags = 0;
	if (direction == WGBPF_DIR_OUTPUT && rerouted_packet(f, &rx_packet))
		flags = WGBPF_LOOKUP_F_REROUTE;

	struct walk_stage *stage = one_entry(walk_stages);
	if (!stage)
		return;
	if (stage->netns != netns || stage->direction != direction || !flow_eq(&stage->flow, f)) {
		stage->flow = *f;
		stage->netns = netns;
		stage->direction = direction;
		stage->matched = 0;
		stage->n = 0;
	}
	/* A re-routed packet is watched already; so may be the received packet an input or reverse lookup is
	 * for (chosen at its arrival, e.g. by the listen port, which an input flow does not carry). */
	bool match = stage->matched || flags || wanted(f, netns, nh_ifindex, direction) ||
		     (rx_packet && watched_now(rx_packet));
	if (!match) {
		__u8 n = stage->n;
		if (n < WGBPF_STAGE_MAX) {
			fill_lookup(&stage->staged[n], f, table, err, netns, nhc, nh_ifindex, direction, rx_packet,
				    flags);
			stage->n = n + 1;
		}
		return;
	}
	for (int i = 0; i < WGBPF_STAGE_MAX; i++) {
		if (i >= stage->n)
			break;
		send(&stage->staged[i]);
	}
	stage->n = 0;
	stage->matched = 1;

	struct wgbpf_route_lookup *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_loss(WGBPF_MOD_ROUTE);
		return;
	}
	fill_lookup(e, f, table, err, netns, nhc, nh_ifindex, direction, rx_packet, flags);
	submit_event(e, sizeof(*e));
}

/* 6.18 renamed flowic_tos to flowic_dscp. */
struct flowi_common___tos {
	__u8 flowic_tos;
} __attribute__((preserve_access_index));

static __always_inline void read_common(struct flow_view *f, const struct flowi_common *c)
{
	f->mark = c->flowic_mark;
	f->iif = c->flowic_iif;
	f->oif = c->flowic_oif;
	f->uid = c->flowic_uid.val;
	f->proto = c->flowic_proto;
	f->scope = c->flowic_scope;
	if (bpf_core_field_exists(c->flowic_dscp))
		f->dscp = c->flowic_dscp;
	else
		f->dscp = ((const struct flowi_common___tos *)c)->flowic_tos >> 2;
}

SEC("tp_btf/fib_table_lookup")
int BPF_PROG(route_fib4_lookup, u32 tb_id, const struct flowi4 *flp, const struct fib_nh_common *nhc, int err)
{
	struct flow_view f = {.family = WGBPF_FAMILY_IPV4};
	read_common(&f, &flp->__fl_common);
	__u32 saddr = flp->saddr, daddr = flp->daddr;
	__builtin_memcpy(f.src, &saddr, 4);
	__builtin_memcpy(f.dst, &daddr, 4);
	f.sport = bpf_ntohs(flp->uli.ports.sport);
	f.dport = bpf_ntohs(flp->uli.ports.dport);
	emit(&f, tb_id, err, 0, err == 0 ? nhc : NULL);
	return 0;
}

/* IPv6 reports no error code: a miss is the namespace's null entry, reject routes are route types. */
static __always_inline __s32 fib6_error(const struct net *net, const struct fib6_result *res)
{
	if (res->f6i == net->ipv6.fib6_null_entry)
		return -WGBPF_EAGAIN;
	switch (res->fib6_type) {
	case RTN_UNREACHABLE: return -WGBPF_EHOSTUNREACH;
	case RTN_BLACKHOLE: return -WGBPF_EINVAL;
	case RTN_PROHIBIT: return -WGBPF_EACCES;
	case RTN_THROW: return -WGBPF_EAGAIN; /* on to the next rule */
	default: return 0;
	}
}

SEC("tp_btf/fib6_table_lookup")
int BPF_PROG(route_fib6_lookup, const struct net *net, const struct fib6_result *res, struct fib6_table *table,
	     const struct flowi6 *flp)
{
	struct flow_view f = {.family = WGBPF_FAMILY_IPV6};
	read_common(&f, &flp->__fl_common);
	/* probe reads: in6_addr is a union, and 6.1's verifier walks a union by its first member only */
	BPF_CORE_READ_INTO(&f.src, flp, saddr);
	BPF_CORE_READ_INTO(&f.dst, flp, daddr);
	f.sport = bpf_ntohs(flp->uli.ports.sport);
	f.dport = bpf_ntohs(flp->uli.ports.dport);
	__s32 err = fib6_error(net, res);
	const struct fib_nh_common *nhc = NULL;
	if (err == 0) {
		struct fib6_nh *nh = res->nh;
		if (nh)
			nhc = &nh->nh_common;
	}
	emit(&f, table->tb6_id, err, net_inum(net), nhc);
	return 0;
}
