/* Records to user space: the one ring buffer every object shares, its loss counters, wake-ups, and the one reserve / fill / submit path. */
#ifndef WGBPF_EVENTS_BPF_H
#define WGBPF_EVENTS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "wgbpf/abi/events.h"

/* One ring buffer for every object (user space shares the fd): one stream, ordered by reservation, so
 * e.g. a rule outcome arrives right after the table lookups it explains. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

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

/* The one way a record leaves: reserve it (a full ring buffer counts a loss for `module`, so that nothing
 * is lost silently), fill its header, and the caller fills the rest and calls submit_event(). `size` must
 * be a constant (sizeof the record). */
static __always_inline void *reserve_event(__u32 size, __u16 type, __u16 version, __u32 module, __u32 netns, __u64 t_ns)
{
	struct wgbpf_event_header *h = bpf_ringbuf_reserve(&events, size, 0);
	if (!h) {
		count_loss(module);
		return NULL;
	}
	fill_header(h, type, version, size, netns, t_ns);
	return h;
}

static __always_inline void submit_event(void *record, __u32 size)
{
	bpf_ringbuf_submit(record, wakeup_flags(&events, size));
}

#endif
