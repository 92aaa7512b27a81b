/* Exact netfilter flavour (kernels that allow fentry/fexit): every nft base chain run, from
 * nft_do_chain(pkt, priv): the chain (priv) and table by handle, the verdict (return value), and
 * mark / conntrack mark before and after. The skb is read on entry: since 6.7 a drop frees it inside. */
#include "nf_hook.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* nft_do_chain can nest (a chain's action sends another packet through the hooks on this CPU). */
#define MAX_DEPTH 4

struct chain_entry {
	struct wgbpf_packet pkt;
	__u64 t_entry; /* the step's time is when the chain started: a drop inside it comes after */
	__u32 mark;
	__u32 ct_mark;
	__u8 ct_state;
	__u8 watched;
	__u8 pad[6];
};

struct chain_stack {
	__u32 depth;
	__u32 pad;
	struct chain_entry entries[MAX_DEPTH];
};

WGBPF_PERCPU_SCRATCH(chain_stacks, struct chain_stack);

static __always_inline struct chain_stack *this_cpu_stack(void)
{
	return one_entry(chain_stacks);
}

SEC("fentry/nft_do_chain")
int BPF_PROG(nf_chain_enter, struct nft_pktinfo *pkt, void *priv)
{
	struct chain_stack *st = this_cpu_stack();
	if (!st)
		return 0;
	__u32 d = st->depth;
	st->depth = d + 1;
	if (d >= MAX_DEPTH)
		return 0;
	struct chain_entry *ce = &st->entries[d];
	struct sk_buff *skb = pkt->skb;
	const struct nf_hook_state *state = pkt->state;
	ce->watched = 0;
	if (state && state->hook == 4 /* NF_INET_POST_ROUTING */)
		leave_output_hook(); /* no re-route after the output hook */
	if (!skb || !state || !netns_watched(&filter, net_inum(state->net)))
		return 0;
	struct hook_packet h;
	__u64 now = want_hook_packet(skb, state, &h);
	if (!now)
		return 0;
	/* Read on entry: a drop frees the skb inside the chain. */
	read_hook_packet(skb, &h, &ce->pkt, &ce->ct_mark, &ce->ct_state);
	ce->mark = h.mark;
	ce->t_entry = now;
	ce->watched = 1;
	return 0;
}

SEC("fexit/nft_do_chain")
int BPF_PROG(nf_chain_exit, struct nft_pktinfo *pkt, void *priv, unsigned int ret)
{
	struct chain_stack *st = this_cpu_stack();
	if (!st || st->depth == 0)
		return 0;
	__u32 d = --st->depth;
	if (d >= MAX_DEPTH)
		return 0;
	struct chain_entry *ce = &st->entries[d];
	if (!ce->watched)
		return 0;
	const struct nf_hook_state *state = pkt->state;
	const struct nft_chain *chain = priv;
	const struct nft_table *table = BPF_CORE_READ(chain, table);
	struct wgbpf_nf_chain *e = reserve_event(sizeof(*e), WGBPF_EV_NF_CHAIN, WGBPF_NF_CHAIN_VERSION,
						 WGBPF_MOD_NETFILTER, state ? net_inum(state->net) : 0, ce->t_entry);
	if (!e)
		return 0;
	e->pkt = ce->pkt;
	e->table_handle = BPF_CORE_READ(table, handle);
	e->chain_handle = BPF_CORE_READ(chain, handle);
	e->hook = state ? state->hook : 0;
	e->pf = state ? state->pf : 0;
	e->table_family = BPF_CORE_READ_BITFIELD_PROBED(table, family);
	e->ct_state_before = ce->ct_state;
	__builtin_memset(e->pad0, 0, sizeof(e->pad0));
	e->verdict = ret;
	e->mark_before = ce->mark;
	e->ct_mark_before = ce->ct_mark;
	e->pad1 = 0;
	if ((ret & 0xff) == NF_ACCEPT) { /* the skb is still ours to read */
		struct sk_buff *skb = pkt->skb;
		e->mark_after = skb->mark;
		read_ct(skb, &e->ct_mark_after, &e->ct_state_after);
		/* A route chain's change re-routes the packet right after this returns (ip_route_me_harder). */
		if (e->hook == 3 /* NF_INET_LOCAL_OUT */)
			enter_output_hook(ce->pkt.id, ce->t_entry, ce->pkt.dst);
	} else {
		e->mark_after = ce->mark;
		e->ct_mark_after = ce->ct_mark;
		e->ct_state_after = ce->ct_state;
	}
	submit_event(e, sizeof(*e));
	return 0;
}
