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

/* Wake the consumer only when the buffer fills up; otherwise it polls on a timer (fewer wake-ups per packet). */
#define WGBPF_WAKEUP_BYTES (256 * 1024)

static __always_inline __u64 wakeup_flags(void *ringbuf)
{
	return bpf_ringbuf_query(ringbuf, BPF_RB_AVAIL_DATA) >= WGBPF_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
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

#endif
