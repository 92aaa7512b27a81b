/* Packets followed across programs: keyed packet ids, the watched table with its clock, and the output hook's context. */
#ifndef WGBPF_WATCHED_BPF_H
#define WGBPF_WATCHED_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "wgbpf/abi/events.h"
#include "wgbpf/abi/siphash.h"
#include "maps.bpf.h"

/* Packets already chosen by the filter, by packet id, with the time first seen: later observations of
 * the same packet follow it even when their own fields no longer match (a mark set, a device left), and
 * its drop is reported. Entries older than WGBPF_WATCH_TTL_NS are treated as a reused skb address.
 * Shared by all objects.
 * A 4-way set-associative table in an array, not an LRU hash: its lookups and inserts are plain loads and
 * stores in one cache line, inlined by the verifier. An LRU hash costs a helper call and a hash per
 * lookup, a lock per insert, and once full (skbs that sockets free without a traced free never leave)
 * an eviction batch per insert: ~400 ns at a packet's first sighting. A full set gives up its oldest. */
#define WGBPF_WATCH_TTL_NS (2ULL * 1000 * 1000 * 1000)
#define WGBPF_WATCH_WAYS   4
#define WGBPF_WATCH_SETS   16384 /* x 4 ways: 65536 packets, 1 MiB */

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
	__u64 packet;	/* 0: none */
	__u64 pid_tgid; /* the task sending it */
	__u64 t_ns;
	__u8 dst[16]; /* its destination: the re-route's flow has it */
};

WGBPF_PERCPU_SCRATCH(hook_contexts, struct hook_context);

static __always_inline struct hook_context *this_cpu_hook(void)
{
	return one_entry(hook_contexts);
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
	__u64 *last = one_entry(watch_clock);
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
static __always_inline bool unwatch_at(__u64 id, __u64 now)
{
	struct watch_set *s = watch_set_of(id);
	struct watch_way *w = s ? way_of(s, id) : 0;
	if (!w)
		return false;
	w->id = 0;
	return now - w->since <= WGBPF_WATCH_TTL_NS;
}

/* The same for an skb (BTF pointer): its id hashed only when the table may hold it. */
static __always_inline bool unwatch_skb(const struct sk_buff *skb)
{
	__u64 now = watched_recently();
	return now && unwatch_at(packet_id(skb), now);
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
	__u64 *last = one_entry(watch_clock);
	if (last && now - *last > WGBPF_WATCH_CLOCK_SLACK_NS)
		*last = now;
	return now;
}

#endif
