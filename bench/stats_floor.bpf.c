/* The statistics' own cost: with kernel.bpf_stats_enabled=1 the kernel times every program run with
 * two clock reads, and that time is part of each program's run_time_ns. An empty program on a
 * tracepoint every tunnel packet passes measures that floor in the same run as wgbpf's programs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(stats_floor, struct sk_buff *skb)
{
	return 0;
}
