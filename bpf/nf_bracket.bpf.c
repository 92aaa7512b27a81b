/* Netfilter brackets: BPF netfilter links (6.4+) placed by user space just before and after the nft
 * base chains of each hook (src/core/netfilter/bracket_plan). Each records the packet's mark, conntrack
 * mark and state; user space attributes what changed between two brackets to the chains between them,
 * and a packet that never reaches the next bracket to the chain that dropped it.
 * The link does not tell a program its priority, so there is one program per bracket slot. */
#include "nf_hook.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Per watched namespace (user space writes it with the namespace's bracket plan, before attaching):
 * the plan's generation, bumped when brackets move, and per slot WGBPF_HOOK_ENTER for an output-hook
 * bracket with chains after it, WGBPF_HOOK_LEAVE for the last output-hook bracket: re-routes happen
 * between the two. One object serves every namespace: its programs are attached in each. */
struct bracket_plan_state {
	__u32 generation;
	__u8 hook_role[32];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WGBPF_FILTER_MAX_NETNS);
	__type(key, __u32); /* namespace inode */
	__type(value, struct bracket_plan_state);
} bracket_plans SEC(".maps");

/* Inlined in each slot's program: the filter's placeholder must be in a program's own code (filter_injection). */
static __always_inline int bracket(struct bpf_nf_ctx *ctx, __u32 slot)
{
	struct sk_buff *skb = ctx->skb;
	const struct nf_hook_state *state = ctx->state;
	if (!skb || !state)
		return NF_ACCEPT;
	__u32 netns = net_inum(state->net);
	const struct bracket_plan_state *plan = NULL;
	/* A watched packet in the output hook on this CPU: at the hook's last bracket its re-routes end. The
	 * plan is looked up only then, or for a watched packet: other packets cost one per-CPU read. */
	struct hook_context *hc = this_cpu_hook();
	if (hc && hc->packet) {
		plan = bpf_map_lookup_elem(&bracket_plans, &netns);
		if (plan && plan->hook_role[slot & 31] == WGBPF_HOOK_LEAVE)
			hc->packet = 0;
	}
	struct hook_packet h;
	__u64 now = want_hook_packet(skb, state, &h);
	if (!now)
		return NF_ACCEPT;
	if (!plan)
		plan = bpf_map_lookup_elem(&bracket_plans, &netns);
	if (!plan)
		return NF_ACCEPT; /* not a namespace wgbpf placed brackets in */
	struct wgbpf_nf_bracket *e = reserve_event(sizeof(*e), WGBPF_EV_NF_BRACKET, WGBPF_NF_BRACKET_VERSION,
						   WGBPF_MOD_NETFILTER, netns, now);
	if (!e)
		return NF_ACCEPT;
	read_hook_packet(skb, &h, &e->pkt, &e->ct_mark, &e->ct_state);
	e->bracket = slot;
	e->hook = state->hook;
	e->pf = state->pf;
	e->mark = h.mark;
	e->pad0 = 0;
	e->generation = plan->generation;
	e->pad1 = 0;
	if (plan->hook_role[slot & 31] == WGBPF_HOOK_ENTER)
		enter_output_hook(h.id, now, e->pkt.dst);
	submit_event(e, sizeof(*e));
	return NF_ACCEPT;
}

/* 32 programs, one per bracket slot (kMaxBrackets) */
/* clang-format off */
#define BRACKET(n) \
	SEC("netfilter") int nf_bracket_##n(struct bpf_nf_ctx *ctx) { return bracket(ctx, n); }

BRACKET(0) BRACKET(1) BRACKET(2) BRACKET(3) BRACKET(4) BRACKET(5) BRACKET(6) BRACKET(7)
BRACKET(8) BRACKET(9) BRACKET(10) BRACKET(11) BRACKET(12) BRACKET(13) BRACKET(14) BRACKET(15)
BRACKET(16) BRACKET(17) BRACKET(18) BRACKET(19) BRACKET(20) BRACKET(21) BRACKET(22) BRACKET(23)
BRACKET(24) BRACKET(25) BRACKET(26) BRACKET(27) BRACKET(28) BRACKET(29) BRACKET(30) BRACKET(31)
	/* clang-format on */
