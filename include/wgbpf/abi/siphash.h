/* SipHash-2-4 of one 64-bit word under a 128-bit key (as the kernel's siphash_1u64): packet ids from skb
 * addresses. Unlike an unkeyed mix, it is a keyed pseudo-random function: ids reveal nothing of the
 * addresses, not even how two of them differ. Plain C, for the BPF programs and the C++ tests alike. */
#ifndef WGBPF_ABI_SIPHASH_H
#define WGBPF_ABI_SIPHASH_H

#ifdef __bpf__
/* vmlinux.h already defines __u64 */
#else
#include <linux/types.h>
#endif

static inline __u64 wgbpf_rol64(__u64 word, unsigned int shift) { return (word << shift) | (word >> (64 - shift)); }

#define WGBPF_SIPROUND(v0, v1, v2, v3)                                                        \
	do {                                                                                  \
		v0 += v1; v1 = wgbpf_rol64(v1, 13); v1 ^= v0; v0 = wgbpf_rol64(v0, 32);         \
		v2 += v3; v3 = wgbpf_rol64(v3, 16); v3 ^= v2;                                   \
		v0 += v3; v3 = wgbpf_rol64(v3, 21); v3 ^= v0;                                   \
		v2 += v1; v1 = wgbpf_rol64(v1, 17); v1 ^= v2; v2 = wgbpf_rol64(v2, 32);         \
	} while (0)

static inline __u64 wgbpf_siphash_u64(__u64 message, __u64 key0, __u64 key1)
{
	__u64 v0 = 0x736f6d6570736575ULL ^ key0;
	__u64 v1 = 0x646f72616e646f6dULL ^ key1;
	__u64 v2 = 0x6c7967656e657261ULL ^ key0;
	__u64 v3 = 0x7465646279746573ULL ^ key1;
	__u64 last = 8ULL << 56; /* the length in the last block, no bytes left over */

	v3 ^= message;
	WGBPF_SIPROUND(v0, v1, v2, v3);
	WGBPF_SIPROUND(v0, v1, v2, v3);
	v0 ^= message;
	v3 ^= last;
	WGBPF_SIPROUND(v0, v1, v2, v3);
	WGBPF_SIPROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	WGBPF_SIPROUND(v0, v1, v2, v3);
	WGBPF_SIPROUND(v0, v1, v2, v3);
	WGBPF_SIPROUND(v0, v1, v2, v3);
	WGBPF_SIPROUND(v0, v1, v2, v3);
	return (v0 ^ v1) ^ (v2 ^ v3);
}

#endif
