/* A packet at a netfilter hook, as both netfilter flavours (nf_chain: fentry/fexit nft_do_chain;
 * nf_bracket: netfilter links) see it: the hook's devices and the packet's mark decide, with the filter,
 * whether it is reported, and the same fields go into the record. */
#ifndef WGBPF_NF_HOOK_BPF_H
#define WGBPF_NF_HOOK_BPF_H

#include "common.bpf.h"

/* Netfilter verdicts (uapi linux/netfilter.h: macros, so not in vmlinux.h's BTF). */
#ifndef NF_ACCEPT
#define NF_DROP	  0
#define NF_ACCEPT 1
#endif

struct hook_packet {
	struct l3_ref l3;
	__u64 id;
	__s32 iif;
	__s32 oif;
	__u32 mark;
};

/* The time when the packet at this hook is wanted (want_packet), else 0; `h` is filled either way (its id
 * only for a wanted packet). */
static __always_inline __u64 want_hook_packet(struct sk_buff *skb, const struct nf_hook_state *state,
					      struct hook_packet *h)
{
	struct net_device *in = state->in, *out = state->out;
	h->iif = in ? in->ifindex : 0;
	h->oif = out ? out->ifindex : 0;
	h->mark = skb->mark;
	h->l3 = l3_of(skb);
	struct lazy_id pid = lazy_packet_id(skb);
	/* sent here: the output hook, or a packet that never came in (skb_iif is set on receive, kept when forwarded) */
	bool sent_here = state->hook == NF_INET_LOCAL_OUT || (state->hook == NF_INET_POST_ROUTING && !skb->skb_iif);
	__u64 now = want_packet(h->l3, &pid, net_inum(state->net), h->iif, h->oif, h->mark, sent_here);
	h->id = now ? id_of(&pid) : 0;
	return now;
}

/* The record's packet fields with the hook's devices, and the conntrack mark and state. */
static __always_inline void read_hook_packet(struct sk_buff *skb, const struct hook_packet *h, struct wgbpf_packet *p,
					     __u32 *ct_mark, __u8 *ct_state)
{
	read_packet(h->l3, h->id, p);
	p->iif = h->iif;
	p->oif = h->oif;
	read_ct(skb, ct_mark, ct_state);
}

#endif
