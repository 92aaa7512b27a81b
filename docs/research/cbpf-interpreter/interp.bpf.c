// Feasibility: a classic-BPF interpreter run with bpf_loop over a filter in .bss, on a window of the packet.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define MAX_INSNS 64
#define WINDOW 256

struct cbpf_insn { __u16 code; __u8 jt; __u8 jf; __u32 k; };

struct cbpf_prog { __u32 len; struct cbpf_insn insns[MAX_INSNS]; } filter_prog = {};

struct run {
	__u32 a, x, pc, result, len, done;
	__u32 mem[16];
	__u8 buf[WINDOW + 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct run);
} runs SEC(".maps");

__u64 matched = 0, seen = 0;

static __always_inline __u32 load(struct run *r, __u32 off, __u32 size, bool *oob)
{
	if (off > WINDOW || off + size > r->len) { *oob = true; return 0; }
	barrier_var(off);
	off &= WINDOW - 1; /* a no-op after the check above; tells the verifier the range within buf */
	__u8 *p = r->buf + off;
	if (size == 1) return p[0];
	if (size == 2) return (__u32)p[0] << 8 | p[1];
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

struct loop_ctx { struct run *r; };

static long step(__u64 i, void *ctx)
{
	struct run *r = ((struct loop_ctx *)ctx)->r;
	__u32 pc = r->pc;
	if (pc >= MAX_INSNS || pc >= filter_prog.len) { r->result = 0; return 1; }
	struct cbpf_insn in = filter_prog.insns[pc & (MAX_INSNS - 1)];
	__u16 cls = in.code & 0x07;
	bool oob = false;
	r->pc = pc + 1;
	switch (cls) {
	case 0x00: /* LD */
	case 0x01: { /* LDX */
		__u32 mode = in.code & 0xe0, size = in.code & 0x18, v = 0;
		__u32 n = size == 0x10 ? 1 : size == 0x08 ? 2 : 4;
		if (mode == 0x00) v = in.k;                          /* IMM */
		else if (mode == 0x20) v = load(r, in.k, n, &oob);   /* ABS */
		else if (mode == 0x40) v = load(r, r->x + in.k, n, &oob); /* IND */
		else if (mode == 0x60) v = r->mem[in.k & 15];        /* MEM */
		else if (mode == 0x80) v = r->len;                   /* LEN */
		else if (mode == 0xa0) v = (load(r, in.k, 1, &oob) & 0xf) << 2; /* MSH */
		if (oob) { r->result = 0; return 1; }
		if (cls == 0x00) r->a = v; else r->x = v;
		return 0;
	}
	case 0x02: r->mem[in.k & 15] = r->a; return 0; /* ST */
	case 0x03: r->mem[in.k & 15] = r->x; return 0; /* STX */
	case 0x04: { /* ALU */
		__u32 src = (in.code & 0x08) ? r->x : in.k, a = r->a;
		switch (in.code & 0xf0) {
		case 0x00: a += src; break;
		case 0x10: a -= src; break;
		case 0x20: a *= src; break;
		case 0x30: if (!src) { r->result = 0; return 1; } a /= src; break;
		case 0x40: a |= src; break;
		case 0x50: a &= src; break;
		case 0x60: a = src >= 32 ? 0 : a << src; break;
		case 0x70: a = src >= 32 ? 0 : a >> src; break;
		case 0x80: a = -a; break;
		case 0x90: if (!src) { r->result = 0; return 1; } a %= src; break;
		case 0xa0: a ^= src; break;
		default: r->result = 0; return 1;
		}
		r->a = a;
		return 0;
	}
	case 0x05: { /* JMP */
		__u32 src = (in.code & 0x08) ? r->x : in.k;
		bool t;
		switch (in.code & 0xf0) {
		case 0x00: r->pc = pc + 1 + in.k; return 0; /* JA (forward only in libpcap's output) */
		case 0x10: t = r->a == src; break;
		case 0x20: t = r->a > src; break;
		case 0x30: t = r->a >= src; break;
		case 0x40: t = (r->a & src) != 0; break;
		default: r->result = 0; return 1;
		}
		r->pc = pc + 1 + (t ? in.jt : in.jf);
		return 0;
	}
	case 0x06: r->result = (in.code & 0x18) == 0x10 ? r->a : in.k; return 1; /* RET A | K */
	case 0x07: if (in.code & 0x80) r->a = r->x; else r->x = r->a; return 0; /* TXA / TAX */
	}
	r->result = 0;
	return 1;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(proto_rx, struct sk_buff *skb)
{
	__u32 zero = 0;
	struct run *r = bpf_map_lookup_elem(&runs, &zero);
	if (!r || !filter_prog.len)
		return 0;
	const unsigned char *l3 = skb->head + skb->network_header;
	__u32 len = skb->len - (__u32)(l3 - skb->data);
	r->len = len < WINDOW ? len : WINDOW;
	bpf_probe_read_kernel(r->buf, WINDOW, l3);
	r->a = r->x = r->pc = r->result = 0;
	__builtin_memset(r->mem, 0, sizeof(r->mem));
	struct loop_ctx c = {r};
	bpf_loop(MAX_INSNS, step, &c, 0);
	__sync_fetch_and_add(&seen, 1);
	if (r->result)
		__sync_fetch_and_add(&matched, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
