/* Map definitions every object repeats, written once (the style of bcc libbpf-tools' maps.bpf.h). */
#ifndef WGBPF_MAPS_BPF_H
#define WGBPF_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* A per-CPU array of one value: state kept between two programs of one CPU (an entry and its exit), or a
 * record too big for the 512-byte BPF stack. */
#define WGBPF_PERCPU_SCRATCH(name, value_type)                                                                         \
	struct {                                                                                                       \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                                               \
		__uint(max_entries, 1);                                                                                \
		__type(key, __u32);                                                                                    \
		__type(value, value_type);                                                                             \
	} name SEC(".maps")

/* The value of a map of one entry (a WGBPF_PERCPU_SCRATCH map: this CPU's); NULL only if the map is broken. */
#define one_entry(map)                                                                                                 \
	({                                                                                                             \
		__u32 zero__ = 0;                                                                                      \
		bpf_map_lookup_elem(&(map), &zero__);                                                                  \
	})

#endif
