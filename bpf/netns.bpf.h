/* Network namespace identity (the inode user space knows it by), from a net, a device or the current task. */
#ifndef WGBPF_NETNS_BPF_H
#define WGBPF_NETNS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "wgbpf/abi/events.h"
#include <bpf/bpf_tracing.h>

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

#endif
