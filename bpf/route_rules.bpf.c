/* Exact rule outcomes (where fentry/fexit are allowed): which rule's result was rejected by
 * suppress_prefixlength/ifgroup, and which rule decided. Complements route.bpf.c's table lookups;
 * without it user space infers the same from the ruleset. Filtered by namespace only: these fire once
 * per rule walk, and the walk's table lookups carry the full filter. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline void emit_rule(const struct fib_rule *rule, __u8 family, __u32 what, __s32 err, __s32 prefixlen)
{
	/* probe reads: the deciding rule comes from a probe read too (arg->rule), not from BTF */
	const struct net *net = BPF_CORE_READ(rule, fr_net);
	__u32 netns = net ? BPF_CORE_READ(net, ns.inum) : 0;
	if (!netns_watched(&filter, netns))
		return;
	struct wgbpf_rule_result *e = reserve_event(sizeof(*e), WGBPF_EV_RULE_RESULT, WGBPF_RULE_RESULT_VERSION,
						    WGBPF_MOD_ROUTE, netns, bpf_ktime_get_ns());
	if (!e)
		return;
	e->pref = BPF_CORE_READ(rule, pref);
	e->table = BPF_CORE_READ(rule, table);
	e->err = err;
	e->what = what;
	e->prefixlen = prefixlen;
	e->suppress_prefixlen = BPF_CORE_READ(rule, suppress_prefixlen);
	e->family = family;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	submit_event(e, sizeof(*e));
}

static __always_inline __s32 fib4_prefixlen(const struct fib_lookup_arg *arg)
{
	const struct fib_result *res = BPF_CORE_READ(arg, result);
	return res ? BPF_CORE_READ(res, prefixlen) : -1;
}

static __always_inline __s32 fib6_prefixlen(const struct fib_lookup_arg *arg)
{
	const struct fib6_result *res = BPF_CORE_READ(arg, result);
	const struct fib6_info *f6i = res ? BPF_CORE_READ(res, f6i) : NULL;
	return f6i ? BPF_CORE_READ(f6i, fib6_dst.plen) : -1;
}

/* fib{4,6}_rule_suppress gained a `flags` argument in 5.16: user space loads the variant that
 * matches the kernel's BTF argument count (CO-RE cannot move arguments).
 * The return value is a bool: only the low byte of the saved return register is defined (x86-64
 * returns it in %al; stock 6.12 returns false with an address left in the rest of %rax). Read it as
 * __u8, never as bool: BPF_PROG's bool conversion tests all 64 bits and calls every rule suppressed. */
SEC("fexit/fib4_rule_suppress")
int BPF_PROG(rules_fib4_suppress3, struct fib_rule *rule, int flags, struct fib_lookup_arg *arg, __u8 ret)
{
	if (ret)
		emit_rule(rule, WGBPF_FAMILY_IPV4, WGBPF_RULE_SUPPRESSED, 0, fib4_prefixlen(arg));
	return 0;
}

SEC("fexit/fib4_rule_suppress")
int BPF_PROG(rules_fib4_suppress2, struct fib_rule *rule, struct fib_lookup_arg *arg, __u8 ret)
{
	if (ret)
		emit_rule(rule, WGBPF_FAMILY_IPV4, WGBPF_RULE_SUPPRESSED, 0, fib4_prefixlen(arg));
	return 0;
}

SEC("fexit/fib6_rule_suppress")
int BPF_PROG(rules_fib6_suppress3, struct fib_rule *rule, int flags, struct fib_lookup_arg *arg, __u8 ret)
{
	if (ret)
		emit_rule(rule, WGBPF_FAMILY_IPV6, WGBPF_RULE_SUPPRESSED, 0, fib6_prefixlen(arg));
	return 0;
}

SEC("fexit/fib6_rule_suppress")
int BPF_PROG(rules_fib6_suppress2, struct fib_rule *rule, struct fib_lookup_arg *arg, __u8 ret)
{
	if (ret)
		emit_rule(rule, WGBPF_FAMILY_IPV6, WGBPF_RULE_SUPPRESSED, 0, fib6_prefixlen(arg));
	return 0;
}

/* The deciding rule (arg->rule is set only on success). */
SEC("fexit/fib_rules_lookup")
int BPF_PROG(rules_lookup_exit, struct fib_rules_ops *ops, struct flowi *fl, int flags, struct fib_lookup_arg *arg,
	     int ret)
{
	struct fib_rule *rule = BPF_CORE_READ(arg, rule);
	int family = BPF_CORE_READ(ops, family);
	if (!rule || (family != WGBPF_AF_INET && family != WGBPF_AF_INET6))
		return 0;
	emit_rule(rule, family == WGBPF_AF_INET ? WGBPF_FAMILY_IPV4 : WGBPF_FAMILY_IPV6, WGBPF_RULE_DECIDED, ret, -1);
	return 0;
}
