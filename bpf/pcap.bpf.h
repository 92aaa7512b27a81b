/* tcpdump-syntax filters: libpcap's program for raw IP, translated to eBPF by user space
 * (src/core/filter/classic_to_ebpf.cpp) and written over the placeholder below before load
 * (src/shell/loader/filter_injection.cpp). Without a filter the placeholder stays as compiled and is never run. */
#ifndef WGBPF_PCAP_BPF_H
#define WGBPF_PCAP_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "wgbpf/abi/events.h"
#include "maps.bpf.h"
#include "packet.bpf.h"

/* The packet's first bytes from its network header, and classic BPF's scratch memory: 200 bytes, too many for
 * the stack. */
WGBPF_PERCPU_SCRATCH(pcap_windows, struct wgbpf_pcap_window);

#define WGBPF_STR_(x) #x
#define WGBPF_STR(x)  WGBPF_STR_(x)

/* The filter's answer (WGBPF_PCAP_*) for `captured` bytes of `w`. The placeholder: a marker, then `goto +0`
 * slots that user space overwrites; the verifier removes the slots left unused. r1-r5 are the code's. */
static __always_inline __u64 pcap_run(struct wgbpf_pcap_window *w, __u64 captured)
{
	register struct wgbpf_pcap_window *window asm("r1") = w;
	register __u64 length asm("r2") = captured;
	register __u64 answer asm("r0");
	asm volatile("r0 = " WGBPF_STR(WGBPF_PCAP_MARKER) "\n"
		     ".rept " WGBPF_STR(WGBPF_PCAP_SLOTS) " - 1\n"
		     "goto +0\n"
		     ".endr\n"
		     : "=r"(answer), "+r"(window), "+r"(length)
		     :
		     : "r3", "r4", "r5", "memory");
	return answer;
}

/* The packet's length as its IP header says (classic BPF's `len`); 0: not an IP header. */
static __always_inline __u32 ip_length(const __u8 *b)
{
	__u8 version = b[0] >> 4;
	if (version == 4)
		return (__u32)b[2] << 8 | b[3];
	if (version == 6) {
		__u32 payload = (__u32)b[4] << 8 | b[5];
		return payload ? payload + 40 : 0; /* 0: a jumbogram (BIG TCP): the header does not say */
	}
	return 0;
}

/* The expression's answer (WGBPF_PCAP_*) for a window read_window() (filter.bpf.h) filled. */
static __always_inline __u64 pcap_answer(struct wgbpf_pcap_window *w, __u32 got, struct l3_ref r)
{
	/* Past the linear part the window holds other memory (the packet goes on in page fragments): not seen. */
	__u32 readable = r.linear < got ? r.linear : got;
	__u32 wire = ip_length(w->bytes);
	if (!wire)
		wire = WGBPF_PCAP_LEN_UNKNOWN; /* the header does not give it (BIG TCP) */
	w->wire_len = wire;
	return pcap_run(w, wire < readable ? wire : readable);
}

/* Whether the filter picks a flow a route lookup carries before its packet exists: an IP header and the
 * ports (or ICMP type and code) made from its fields. Other header fields read as 0; bytes past the ports
 * are not known (UNDECIDED). */
static __always_inline __u64 pcap_matches_flow(__u8 family, __u8 proto, __u8 dscp, const __u8 *src, const __u8 *dst,
					       __u16 sport, __u16 dport)
{
	struct wgbpf_pcap_window *w = one_entry(pcap_windows);
	if (!w)
		return WGBPF_PCAP_NO_MATCH;
	__builtin_memset(w->bytes, 0, 48);
	__u32 l4;
	if (family == WGBPF_FAMILY_IPV4) {
		w->bytes[0] = 0x45;
		w->bytes[1] = dscp << 2;
		w->bytes[9] = proto;
		__builtin_memcpy(&w->bytes[12], src, 4);
		__builtin_memcpy(&w->bytes[16], dst, 4);
		l4 = 20;
	} else if (family == WGBPF_FAMILY_IPV6) {
		w->bytes[0] = 0x60 | dscp >> 2;
		w->bytes[1] = (dscp & 3) << 6;
		w->bytes[6] = proto;
		__builtin_memcpy(&w->bytes[8], src, 16);
		__builtin_memcpy(&w->bytes[24], dst, 16);
		l4 = 40;
	} else {
		return WGBPF_PCAP_NO_MATCH;
	}
	/* flowi's ports, or ICMP type and code in the destination port's bytes; nothing else of the transport */
	__u8 *t = &w->bytes[l4 & 63];
	__u32 known = l4;
	if (proto == IPPROTO_ICMP || proto == WGBPF_IPPROTO_ICMPV6) {
		t[0] = dport >> 8;
		t[1] = dport & 0xff;
		known = l4 + 2;
	} else if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
		t[0] = sport >> 8;
		t[1] = sport & 0xff;
		t[2] = dport >> 8;
		t[3] = dport & 0xff;
		known = l4 + 4;
	}
	w->wire_len = WGBPF_PCAP_LEN_UNKNOWN; /* what is past the known bytes, and the length, are not known */
	return pcap_run(w, known);
}

#endif
