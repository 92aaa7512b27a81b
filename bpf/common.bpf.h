/* Helpers shared by wgbpf's BPF programs, one concern per header, in layers (a header uses only those above):
 *   maps.bpf.h     map definitions written once (per-CPU scratch)
 *   events.bpf.h   the ring buffer, loss counters, wake-ups, reserve_event() / submit_event()
 *   netns.bpf.h    namespace identity
 *   watched.bpf.h  packet ids, the watched table, the output hook's context
 *   packet.bpf.h   reading IP / transport headers and conntrack
 *   filter.bpf.h   the user's filter and want_packet()
 * Kernel constants the programs compare with are named, from the kernel's enums where vmlinux.h has them. */
#ifndef WGBPF_COMMON_BPF_H
#define WGBPF_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "wgbpf/abi/events.h"

/* errno values (not in vmlinux.h): what fib lookups return, as the kernel's fib_table_lookup does. */
#define WGBPF_EAGAIN	       11
#define WGBPF_EACCES	       13
#define WGBPF_EINVAL	       22
#define WGBPF_EHOSTUNREACH     113
/* AF_INET / AF_INET6 (macros in the kernel, so not in vmlinux.h) */
#define WGBPF_AF_INET	       2
#define WGBPF_AF_INET6	       10
#define WGBPF_LOOPBACK_IFINDEX 1

#include "maps.bpf.h"
#include "events.bpf.h"
#include "netns.bpf.h"
#include "watched.bpf.h"
#include "packet.bpf.h"
#include "filter.bpf.h"

#endif
