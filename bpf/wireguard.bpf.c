/* Kernel WireGuard module: the peer WireGuard's cryptokey routing chose for each watched packet, and the
 * verdicts it keeps to itself (it frees what it rejects as consumed, with no drop reason: kernel-notes §4).
 * wg_xmit() asks wg_allowedips_lookup_dst(table, skb) for the inner packet's peer, then encrypts the
 * same skb in place into the outer packet; after decrypting in place, the receive path asks
 * wg_allowedips_lookup_src(table, skb) which peer may send from the inner source, and drops the packet
 * when that is not the peer whose key decrypted it. One event per lookup ties a packet id to a peer: user
 * space links inner and outer packets by that id, exactly. Handshake messages are judged by
 * wg_cookie_validate_packet (MAC1, cookies under load) and wg_noise_handshake_consume_{initiation,response}
 * (NULL: refused); both run in the handshake worker thread, which may sleep in between (the consume
 * functions take rwsems): what one message's check left for its consume call is kept per thread.
 * Two flavours: fexit (arguments and return in one program) and kprobe + kretprobe (arguments kept per
 * thread and function in between: a softirq's lookup can nest inside the worker's call). */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* WireGuard's types live in the module's BTF, not in vmlinux.h: only the fields read here, relocated
 * by libbpf against /sys/kernel/btf/wireguard. */
struct wg_device {
	struct net_device *dev;
} __attribute__((preserve_access_index));

struct noise_handshake {
	__u8 remote_static[32];
	__u64 last_initiation_consumption; /* ktime_get_coarse_boottime_ns() of the last initiation accepted */
} __attribute__((preserve_access_index));

struct endpoint {
	union {
		struct sockaddr addr;
	};
} __attribute__((preserve_access_index));

struct noise_symmetric_key {
	__u64 birthdate; /* ktime_get_coarse_boottime_ns() */
	bool is_valid;
} __attribute__((preserve_access_index));

struct index_hashtable_entry {
	struct wg_peer *peer;
} __attribute__((preserve_access_index));

struct noise_keypair {
	struct index_hashtable_entry entry;
	struct noise_symmetric_key sending;
} __attribute__((preserve_access_index));

struct noise_keypairs {
	struct noise_keypair *current_keypair;
} __attribute__((preserve_access_index));

struct wg_peer {
	struct wg_device *device;
	struct sk_buff_head staged_packet_queue;
	bool is_dead;
	struct noise_keypairs keypairs;
	struct endpoint endpoint;
	struct noise_handshake handshake;
	unsigned int timer_handshake_attempts;
} __attribute__((preserve_access_index));

/* What WireGuard keeps in skb->cb of a packet it received (PACKET_CB). */
struct packet_cb {
	struct noise_keypair *keypair;
} __attribute__((preserve_access_index));

struct cookie_checker {
	struct wg_device *device;
} __attribute__((preserve_access_index));

enum { WG_INVALID_MAC = 0, WG_VALID_MAC_BUT_NO_COOKIE = 1, WG_VALID_MAC_WITH_COOKIE_BUT_RATELIMITED = 2 };

/* WireGuard's constants (drivers/net/wireguard/messages.h). */
#define WG_REJECT_AFTER_TIME_NS (180ULL * 1000000000ULL)
#define WG_INITIATION_GAP_NS	(1000000000ULL / 50) /* INITIATIONS_PER_SECOND */
#define WG_MAX_TIMER_HANDSHAKES (90 / 5)	     /* REKEY_ATTEMPT_TIME / REKEY_TIMEOUT */
/* WireGuard compares against ktime_get_coarse_boottime_ns(), which lags the clock read here by up to a tick
 * (10 ms at HZ 100): within this margin of a limit, the verdict is not claimed. */
#define WG_COARSE_MARGIN_NS	(10ULL * 1000000ULL)

/* The peer whose keypair decrypted a received packet. */
static __always_inline const struct wg_peer *sending_peer(const struct sk_buff *skb)
{
	const struct packet_cb *cb = (const void *)((__u64)skb + bpf_core_field_offset(struct sk_buff, cb));
	return BPF_CORE_READ(cb, keypair, entry.peer);
}

/* Whether wg_packet_send_staged_packets will find a session to encrypt with (send.c): a current keypair whose
 * sending key is valid and younger than REJECT_AFTER_TIME. Without one the packet waits in the peer's staged
 * queue for a handshake. A key within a tick of expiring, by WireGuard's coarse clock, is not told either way. */
enum { SESSION_NONE, SESSION_USABLE, SESSION_UNSURE };

static __always_inline __u8 session_of(const struct wg_peer *peer)
{
	const struct noise_keypair *kp = BPF_CORE_READ(peer, keypairs.current_keypair);
	if (!kp || !BPF_CORE_READ(kp, sending.is_valid))
		return SESSION_NONE;
	__u64 expires = BPF_CORE_READ(kp, sending.birthdate) + WG_REJECT_AFTER_TIME_NS;
	__u64 now = bpf_ktime_get_boot_ns();
	if (expires > now + WG_COARSE_MARGIN_NS)
		return SESSION_USABLE;
	return expires + WG_COARSE_MARGIN_NS <= now ? SESSION_NONE : SESSION_UNSURE;
}

/* What wg_xmit does after its lookup: no peer, or a peer without an endpoint, ends the packet; a peer without
 * a session queues it for a handshake. */
static __always_inline __u8 send_verdict(const struct wg_peer *peer)
{
	if (!peer)
		return WGBPF_WGV_NO_PEER;
	__u16 family = BPF_CORE_READ(peer, endpoint.addr.sa_family);
	if (family != WGBPF_AF_INET && family != WGBPF_AF_INET6)
		return WGBPF_WGV_NO_ENDPOINT;
	__u8 session = session_of(peer);
	return session == SESSION_USABLE ? WGBPF_WGV_OK
	       : session == SESSION_NONE ? WGBPF_WGV_NO_SESSION
					 : WGBPF_WGV_SESSION_UNSURE;
}

/* Shared by both flavours, so it reads with probe reads (kprobes see plain addresses); `id` is the
 * packet id, computed by each flavour its own way. Not on a hot path: once per tunnelled packet. */
static __always_inline bool peer_event_of(struct sk_buff *skb, __u64 id, const struct wg_peer *peer, __u8 action,
					  __u8 verdict, __u8 message, const struct wg_device *wg, bool always,
					  __u32 queued)
{
	const struct net_device *dev = BPF_CORE_READ(skb, dev);
	__u32 netns = dev_netns_probed(dev);
	if (!always && !netns_watched(&filter, netns))
		return false;
	/* The WireGuard interface, in its own namespace (which a handshake's skb, still on the uplink, may
	 * not be in: the interface can be moved out of the namespace its socket lives in). */
	const struct net_device *wg_dev = wg ? BPF_CORE_READ(wg, dev) : peer ? BPF_CORE_READ(peer, device, dev) : dev;
	__s32 ifindex = BPF_CORE_READ(wg_dev, ifindex);
	__u32 wg_netns = dev_netns_probed(wg_dev);
	struct l3_ref l3 = l3_of_probed(skb);
	struct lazy_id pid = {0, id}; /* each flavour computed it its own way */
	__u64 now = always ? bpf_ktime_get_ns()
			   : want_packet(l3, &pid, wg_netns, ifindex, ifindex, BPF_CORE_READ(skb, mark), false);
	if (!now)
		return false;
	/* The interface's namespace: where its ifindex means something (the header's netns of every other record
	 * is the packet's; here the two differ only for a handshake whose interface was moved away). */
	struct wgbpf_wireguard *e = reserve_event(sizeof(*e), WGBPF_EV_WIREGUARD, WGBPF_WIREGUARD_VERSION,
						  WGBPF_MOD_WIREGUARD, wg_netns ? wg_netns : netns, now);
	if (!e)
		return false;
	read_packet(l3, id, &e->pkt);
	e->ifindex = ifindex;
	e->action = action;
	e->found = peer != 0;
	e->verdict = verdict;
	e->message = message;
	e->queued = queued;
	e->pad1 = 0;
	__builtin_memset(e->peer_key, 0, sizeof(e->peer_key));
	if (peer)
		bpf_probe_read_kernel(e->peer_key, sizeof(e->peer_key), &peer->handshake.remote_static);
	submit_event(e, sizeof(*e));
	return true;
}

/* A WireGuard verdict on a packet the filter chose (its namespace watched, its interface or the packet). */
static __always_inline void peer_event(struct sk_buff *skb, __u64 id, const struct wg_peer *peer, __u8 action,
				       __u8 verdict, __u8 message, const struct wg_device *wg)
{
	peer_event_of(skb, id, peer, action, verdict, message, wg, false, 0);
}

/* Data messages whose "decrypted" was sent, until their inner packet reaches the allowed-IPs check: that
 * lookup is then sent whatever the filter says (user space infers a silent drop from its absence). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u8);
} decrypted_ids SEC(".maps");

/* Both lookups' verdicts, from the returned peer. */
static __always_inline void dst_looked_up(struct sk_buff *skb, __u64 id, const struct wg_peer *peer)
{
	__u8 verdict = send_verdict(peer);
	/* The staged queue it joins (wg_xmit drops the oldest beyond MAX_STAGED_PACKETS before adding it). */
	__u32 queued = verdict == WGBPF_WGV_NO_SESSION ? BPF_CORE_READ(peer, staged_packet_queue.qlen) : 0;
	peer_event_of(skb, id, peer, WGBPF_WG_ENCRYPT, verdict, 0, 0, false, queued);
}

static __always_inline void src_looked_up(struct sk_buff *skb, __u64 id, const struct wg_peer *peer)
{
	bool owed = bpf_map_lookup_elem(&decrypted_ids, &id) != 0;
	if (owed)
		bpf_map_delete_elem(&decrypted_ids, &id);
	const struct wg_peer *sender = sending_peer(skb);
	if (sender && peer != sender)
		peer_event_of(skb, id, sender, WGBPF_WG_DECRYPT, WGBPF_WGV_SRC_NOT_ALLOWED, 0, 0, owed, 0);
	else
		peer_event_of(skb, id, peer, WGBPF_WG_DECRYPT, WGBPF_WGV_OK, 0, 0, owed, 0);
}

/* The handshake message being judged on this CPU: wg_cookie_validate_packet's skb, until the consume call
 * for the same message (skb->data) or the next message. */
struct handshake_slot {
	__u64 skb;
	__u64 data;
	__u64 wg;
	__u64 id;
	__u64 peer;	    /* the initiator, when wg_pubkey_hashtable_lookup found it inside the consume call */
	__u64 peer_seen_ns; /* then (boot clock), before the consume call's checks */
	__u64 last_at_seen; /* the peer's last_initiation_consumption then */
	__u8 cause; /* why the consume call will refuse it, when a lookup inside it said (WGBPF_WGV_UNKNOWN_*) */
};

/* By thread (pid_tgid): the worker may sleep between the check and the consume call. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct handshake_slot);
} handshake_now SEC(".maps");

static __always_inline struct handshake_slot *handshake_slot(void)
{
	__u64 thread = bpf_get_current_pid_tgid();
	struct handshake_slot *slot = bpf_map_lookup_elem(&handshake_now, &thread);
	if (slot)
		return slot;
	struct handshake_slot fresh = {};
	bpf_map_update_elem(&handshake_now, &thread, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&handshake_now, &thread);
}

/* MAC1 (and the cookie under load) decide first (receive.c, wg_receive_handshake_packet). */
static __always_inline void mac_checked(struct sk_buff *skb, __u64 id, const struct cookie_checker *checker,
					bool check_cookie, int state)
{
	struct handshake_slot *slot = handshake_slot();
	if (!slot)
		return;
	const struct wg_device *wg = BPF_CORE_READ(checker, device);
	__u8 message = 0;
	bpf_probe_read_kernel(&message, 1, BPF_CORE_READ(skb, data));
	__u8 verdict = WGBPF_WGV_OK;
	if (state == WG_INVALID_MAC)
		verdict = WGBPF_WGV_BAD_MAC;
	else if (check_cookie && state == WG_VALID_MAC_WITH_COOKIE_BUT_RATELIMITED)
		verdict = WGBPF_WGV_RATELIMITED;
	else if (check_cookie && state == WG_VALID_MAC_BUT_NO_COOKIE)
		verdict = WGBPF_WGV_COOKIE_SENT; /* initiations and responses alike get a cookie reply */
	slot->skb = 0;
	if (verdict != WGBPF_WGV_OK) {
		peer_event(skb, id, 0, WGBPF_WG_HANDSHAKE, verdict, message, wg);
		return;
	}
	slot->skb = (__u64)skb;
	slot->data = (__u64)BPF_CORE_READ(skb, data);
	slot->wg = (__u64)wg;
	slot->id = id;
	slot->peer = 0;
	slot->cause = 0;
}

/* Inside a consume call: a lookup that failed names the cause (wg_pubkey_hashtable_lookup: the initiator's
 * key; wg_index_hashtable_lookup for a handshake: the response's receiver index). */
static __always_inline void handshake_cause(__u8 cause)
{
	__u64 thread = bpf_get_current_pid_tgid();
	struct handshake_slot *slot = bpf_map_lookup_elem(&handshake_now, &thread);
	if (slot && slot->skb && !slot->cause)
		slot->cause = cause;
}

/* The data message being received on this CPU (softirq: wg_packet_receive runs it to its keypair lookup). */
struct receive_slot {
	__u64 skb;
	__u64 wg;
};

WGBPF_PERCPU_SCRATCH(receiving, struct receive_slot);

static __always_inline void receive_begins(__u64 wg, __u64 skb)
{
	struct receive_slot *slot = one_entry(receiving);
	if (slot) {
		slot->skb = skb;
		slot->wg = wg;
	}
}

static __always_inline void receive_ends(void)
{
	struct receive_slot *slot = one_entry(receiving);
	if (slot)
		slot->skb = 0;
}

#define WG_INDEX_HANDSHAKE 1
#define WG_INDEX_KEYPAIR   2

/* wg_index_hashtable_lookup found nothing: for a data message (keypair), no session has its receiver index and
 * the packet is freed; for a handshake response, no initiation waits for it. */
static __always_inline void index_missing(__u32 type_mask)
{
	if (type_mask == WG_INDEX_HANDSHAKE) {
		handshake_cause(WGBPF_WGV_UNKNOWN_INDEX);
		return;
	}
	if (type_mask != WG_INDEX_KEYPAIR)
		return;
	struct receive_slot *slot = one_entry(receiving);
	if (!slot || !slot->skb)
		return;
	__u64 skb = slot->skb;
	slot->skb = 0;
	peer_event((struct sk_buff *)skb, packet_id_of_address(skb), 0, WGBPF_WG_RECEIVE, WGBPF_WGV_UNKNOWN_INDEX, 4,
		   (const struct wg_device *)slot->wg);
}

/* The initiator's key is a peer's: the consume call's refusal is then its timestamp or the flood limit. */
static __always_inline void initiator_found(const struct wg_peer *peer)
{
	__u64 thread = bpf_get_current_pid_tgid();
	struct handshake_slot *slot = bpf_map_lookup_elem(&handshake_now, &thread);
	if (slot && slot->skb) {
		slot->peer = (__u64)peer;
		slot->peer_seen_ns = bpf_ktime_get_boot_ns();
		slot->last_at_seen = BPF_CORE_READ(peer, handshake.last_initiation_consumption);
	}
}

/* Why wg_noise_handshake_consume_initiation refused a known peer's initiation (noise.c): the last one it
 * accepted from that peer is under 20 ms old by WireGuard's coarse clock (a flood), or else the message's
 * timestamp is not newer than the last accepted (replayed, a clock gone back) or did not decrypt. The check
 * ran between the key lookup and this return, against a clock that lags this one by up to a tick; the last
 * acceptance only moves forward. So: a flood when the acceptance known before the check is under 20 ms old even
 * now; not a flood when the latest one is 20 ms plus two ticks (HZ 100) older than the key lookup; else not told.
 * (A peer removed meanwhile may be freed: the read is safe, its value then meaningless: vanishingly rare.) */
static __always_inline __u8 initiation_refusal(const struct handshake_slot *slot)
{
	const struct wg_peer *peer = (const struct wg_peer *)slot->peer;
	__u64 last_now = BPF_CORE_READ(peer, handshake.last_initiation_consumption);
	if (slot->last_at_seen && slot->last_at_seen + WG_INITIATION_GAP_NS > bpf_ktime_get_boot_ns())
		return WGBPF_WGV_FLOOD;
	if (last_now + WG_INITIATION_GAP_NS + 2 * WG_COARSE_MARGIN_NS <= slot->peer_seen_ns)
		return WGBPF_WGV_TIMESTAMP;
	return WGBPF_WGV_REJECTED;
}

/* The Noise message itself: a peer, or NULL when refused. */
static __always_inline void handshake_consumed(const void *message, const struct wg_peer *peer, __u8 type)
{
	struct handshake_slot *slot = handshake_slot();
	if (!slot || !slot->skb || slot->data != (__u64)message)
		return;
	__u64 skb = slot->skb;
	slot->skb = 0;
	__u8 verdict = peer			 ? WGBPF_WGV_OK
		       : slot->cause		 ? slot->cause
		       : type == 1 && slot->peer ? initiation_refusal(slot)
						 : WGBPF_WGV_REJECTED;
	/* A refused initiation whose sender's key is a peer's: that peer is named. */
	if (!peer && type == 1 && !slot->cause)
		peer = (const struct wg_peer *)slot->peer;
	peer_event((struct sk_buff *)skb, slot->id, peer, WGBPF_WG_HANDSHAKE, verdict, type,
		   (const struct wg_device *)slot->wg);
}

/* wg_packet_purge_staged_packets(peer) is about to drop every packet queued for the peer's handshake (each freed
 * with a plain kfree_skb, or QUEUE_PURGE). Its callers (timers.c, device.c, peer.c) leave the cause in the
 * peer: retries exhausted, the interface going down (wg_stop, __LINK_STATE_START already cleared), or the
 * peer's last reference gone after its removal. Not a packet: one record per purge that drops something. */
static __always_inline void staged_purged(const struct wg_peer *peer)
{
	__u32 queued = BPF_CORE_READ(peer, staged_packet_queue.qlen);
	if (!queued)
		return;
	const struct net_device *dev = BPF_CORE_READ(peer, device, dev);
	__u32 netns = dev_netns_probed(dev);
	__s32 ifindex = BPF_CORE_READ(dev, ifindex);
	if (!netns_watched(&filter, netns) || !filter_matches_cheaply(&filter, netns, ifindex, ifindex, 0))
		return;
	__u8 cause = WGBPF_WGV_OK;
	if (BPF_CORE_READ(peer, is_dead))
		cause = WGBPF_WGV_PEER_REMOVED;
	else if (!(BPF_CORE_READ(dev, state) & 1 /* 1 << __LINK_STATE_START */))
		cause = WGBPF_WGV_DEVICE_DOWN;
	else if (BPF_CORE_READ(peer, timer_handshake_attempts) > WG_MAX_TIMER_HANDSHAKES)
		cause = WGBPF_WGV_GAVE_UP;
	struct wgbpf_wireguard *e = reserve_event(sizeof(*e), WGBPF_EV_WIREGUARD, WGBPF_WIREGUARD_VERSION,
						  WGBPF_MOD_WIREGUARD, netns, bpf_ktime_get_ns());
	if (!e)
		return;
	__builtin_memset(&e->pkt, 0, sizeof(*e) - sizeof(e->hdr)); /* no packet here: every field after the header */
	e->ifindex = ifindex;
	e->action = WGBPF_WG_PURGE;
	e->found = 1;
	e->verdict = cause;
	e->queued = queued;
	bpf_probe_read_kernel(e->peer_key, sizeof(e->peer_key), &peer->handshake.remote_static);
	submit_event(e, sizeof(*e));
}

/* decrypt_packet's verdict on a received data message: it did not decrypt (authentication failed, or the
 * keypair's keys expired), or it did. After it, wg_packet_rx_poll checks the replay counter and the inner
 * packet, and drops silently; what passes reaches wg_allowedips_lookup_src. User space pairs the two. A
 * keepalive (nothing inside) never reaches that lookup: not sent. */
static __always_inline void decrypt_judged(struct sk_buff *skb, __u64 id, const struct noise_keypair *keypair,
					   bool decrypted)
{
	if (decrypted && !BPF_CORE_READ(skb, len))
		return;
	const struct wg_peer *peer = keypair ? BPF_CORE_READ(keypair, entry.peer) : 0;
	bool sent = peer_event_of(skb, id, peer, WGBPF_WG_RECEIVE, decrypted ? WGBPF_WGV_OK : WGBPF_WGV_INVALID,
				  4 /* data */, 0, false, 0);
	if (sent && decrypted) {
		__u8 one = 1;
		bpf_map_update_elem(&decrypted_ids, &id, &one, BPF_ANY);
	}
}

SEC("fexit/decrypt_packet")
int BPF_PROG(wg_decrypt_exit, struct sk_buff *skb, struct noise_keypair *keypair, __u64 ret)
{
	decrypt_judged(skb, packet_id(skb), keypair, ret & 0xff); /* a bool: only its low byte is defined */
	return 0;
}

SEC("fexit/wg_allowedips_lookup_dst")
int BPF_PROG(wg_lookup_dst_exit, void *table, struct sk_buff *skb, struct wg_peer *peer)
{
	dst_looked_up(skb, packet_id(skb), peer);
	return 0;
}

SEC("fexit/wg_allowedips_lookup_src")
int BPF_PROG(wg_lookup_src_exit, void *table, struct sk_buff *skb, struct wg_peer *peer)
{
	src_looked_up(skb, packet_id(skb), peer);
	return 0;
}

SEC("fexit/wg_cookie_validate_packet")
int BPF_PROG(wg_cookie_validate_exit, struct cookie_checker *checker, struct sk_buff *skb, bool check_cookie, int state)
{
	mac_checked(skb, packet_id(skb), checker, check_cookie, state);
	return 0;
}

SEC("fexit/wg_noise_handshake_consume_initiation")
int BPF_PROG(wg_consume_initiation_exit, void *message, struct wg_device *wg, struct wg_peer *peer)
{
	handshake_consumed(message, peer, 1);
	return 0;
}

SEC("fexit/wg_noise_handshake_consume_response")
int BPF_PROG(wg_consume_response_exit, void *message, struct wg_device *wg, struct wg_peer *peer)
{
	handshake_consumed(message, peer, 2);
	return 0;
}

SEC("fentry/wg_packet_receive")
int BPF_PROG(wg_receive_entry, struct wg_device *wg, struct sk_buff *skb)
{
	receive_begins((__u64)wg, (__u64)skb);
	return 0;
}

SEC("fexit/wg_packet_receive")
int BPF_PROG(wg_receive_exit, struct wg_device *wg, struct sk_buff *skb)
{
	receive_ends();
	return 0;
}

SEC("fexit/wg_index_hashtable_lookup")
int BPF_PROG(wg_index_lookup_exit, void *table, int type_mask, __u32 index, void *peer_out, void *entry)
{
	if (!entry)
		index_missing(type_mask);
	return 0;
}

SEC("fexit/wg_pubkey_hashtable_lookup")
int BPF_PROG(wg_pubkey_lookup_exit, void *table, const __u8 *pubkey, struct wg_peer *peer)
{
	if (!peer)
		handshake_cause(WGBPF_WGV_UNKNOWN_KEY);
	else
		initiator_found(peer);
	return 0;
}

SEC("fentry/wg_packet_purge_staged_packets")
int BPF_PROG(wg_purge_entry, struct wg_peer *peer)
{
	staged_purged(peer);
	return 0;
}

/* kprobe flavour: the arguments from the entry, for the return probe. The lookups run in softirq (or with
 * bottom halves off), where the task is whatever the CPU was running (every idle CPU's is pid 0): keyed by
 * CPU. The handshake functions run in a worker thread and may sleep (rwsems): keyed by thread. A softirq that
 * runs when the worker re-enables bottom halves inside a lookup can still take the worker's entry: the
 * worker's return then finds nothing (a cause lost, never one given to another packet). */
enum {
	FN_LOOKUP_DST,
	FN_LOOKUP_SRC,
	FN_COOKIE_VALIDATE,
	FN_CONSUME_INITIATION,
	FN_CONSUME_RESPONSE,
	FN_INDEX_LOOKUP,
	FN_DECRYPT, /* the decrypt worker: a thread */
};

struct call_key {
	__u64 thread;
	__u64 fn;
};

struct call_args {
	__u64 a0, a1, a2;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct call_key);
	__type(value, struct call_args);
} call_args SEC(".maps");

static __always_inline __u64 call_scope(__u64 fn)
{
	bool softirq = fn == FN_LOOKUP_DST || fn == FN_LOOKUP_SRC || fn == FN_INDEX_LOOKUP;
	return softirq ? (1ULL << 63) | bpf_get_smp_processor_id() : bpf_get_current_pid_tgid();
}

static __always_inline void remember_args(__u64 fn, __u64 a0, __u64 a1, __u64 a2)
{
	struct call_key key = {call_scope(fn), fn};
	struct call_args args = {a0, a1, a2};
	bpf_map_update_elem(&call_args, &key, &args, BPF_ANY);
}

/* The arguments remembered at entry, taken once (false when the entry was not seen). */
static __always_inline bool take_args(__u64 fn, struct call_args *out)
{
	struct call_key key = {call_scope(fn), fn};
	struct call_args *slot = bpf_map_lookup_elem(&call_args, &key);
	if (!slot)
		return false;
	*out = *slot;
	bpf_map_delete_elem(&call_args, &key);
	return out->a1 != 0;
}

SEC("kprobe/wg_allowedips_lookup_dst")
int BPF_KPROBE(wg_lookup_dst_entry, void *table, struct sk_buff *skb)
{
	remember_args(FN_LOOKUP_DST, 0, (__u64)skb, 0);
	return 0;
}

SEC("kretprobe/wg_allowedips_lookup_dst")
int BPF_KRETPROBE(wg_lookup_dst_return)
{
	struct call_args a;
	if (take_args(FN_LOOKUP_DST, &a))
		dst_looked_up((struct sk_buff *)a.a1, packet_id_of_address(a.a1),
			      (const struct wg_peer *)PT_REGS_RC(ctx));
	return 0;
}

SEC("kprobe/wg_allowedips_lookup_src")
int BPF_KPROBE(wg_lookup_src_entry, void *table, struct sk_buff *skb)
{
	remember_args(FN_LOOKUP_SRC, 0, (__u64)skb, 0);
	return 0;
}

SEC("kretprobe/wg_allowedips_lookup_src")
int BPF_KRETPROBE(wg_lookup_src_return)
{
	struct call_args a;
	if (take_args(FN_LOOKUP_SRC, &a))
		src_looked_up((struct sk_buff *)a.a1, packet_id_of_address(a.a1),
			      (const struct wg_peer *)PT_REGS_RC(ctx));
	return 0;
}

SEC("kprobe/wg_cookie_validate_packet")
int BPF_KPROBE(wg_cookie_validate_entry, struct cookie_checker *checker, struct sk_buff *skb, bool check_cookie)
{
	remember_args(FN_COOKIE_VALIDATE, (__u64)checker, (__u64)skb, check_cookie);
	return 0;
}

SEC("kretprobe/wg_cookie_validate_packet")
int BPF_KRETPROBE(wg_cookie_validate_return)
{
	struct call_args a;
	if (take_args(FN_COOKIE_VALIDATE, &a))
		mac_checked((struct sk_buff *)a.a1, packet_id_of_address(a.a1), (const struct cookie_checker *)a.a0,
			    a.a2 != 0, (int)PT_REGS_RC(ctx));
	return 0;
}

SEC("kprobe/wg_noise_handshake_consume_initiation")
int BPF_KPROBE(wg_consume_initiation_entry, void *message)
{
	remember_args(FN_CONSUME_INITIATION, 0, (__u64)message, 0);
	return 0;
}

SEC("kretprobe/wg_noise_handshake_consume_initiation")
int BPF_KRETPROBE(wg_consume_initiation_return)
{
	struct call_args a;
	if (take_args(FN_CONSUME_INITIATION, &a))
		handshake_consumed((const void *)a.a1, (const struct wg_peer *)PT_REGS_RC(ctx), 1);
	return 0;
}

SEC("kprobe/wg_noise_handshake_consume_response")
int BPF_KPROBE(wg_consume_response_entry, void *message)
{
	remember_args(FN_CONSUME_RESPONSE, 0, (__u64)message, 0);
	return 0;
}

SEC("kretprobe/wg_noise_handshake_consume_response")
int BPF_KRETPROBE(wg_consume_response_return)
{
	struct call_args a;
	if (take_args(FN_CONSUME_RESPONSE, &a))
		handshake_consumed((const void *)a.a1, (const struct wg_peer *)PT_REGS_RC(ctx), 2);
	return 0;
}

SEC("kprobe/wg_packet_receive")
int BPF_KPROBE(wg_receive_entry_k, struct wg_device *wg, struct sk_buff *skb)
{
	receive_begins((__u64)wg, (__u64)skb);
	return 0;
}

SEC("kretprobe/wg_packet_receive")
int BPF_KRETPROBE(wg_receive_return_k)
{
	receive_ends();
	return 0;
}

/* decrypt_packet is static: attached by user space as "wireguard:decrypt_packet" (another module may have one). */
SEC("kprobe")
int BPF_KPROBE(wg_decrypt_entry, struct sk_buff *skb, struct noise_keypair *keypair)
{
	remember_args(FN_DECRYPT, 0, (__u64)skb, (__u64)keypair);
	return 0;
}

SEC("kretprobe")
int BPF_KRETPROBE(wg_decrypt_return)
{
	struct call_args a;
	if (take_args(FN_DECRYPT, &a))
		decrypt_judged((struct sk_buff *)a.a1, packet_id_of_address(a.a1), (const struct noise_keypair *)a.a2,
			       PT_REGS_RC(ctx) & 0xff);
	return 0;
}

SEC("kprobe/wg_index_hashtable_lookup")
int BPF_KPROBE(wg_index_lookup_entry, void *table, int type_mask)
{
	remember_args(FN_INDEX_LOOKUP, 0, (__u64)type_mask | (1ULL << 32), 0); /* a1 never 0: taken once */
	return 0;
}

SEC("kretprobe/wg_index_hashtable_lookup")
int BPF_KRETPROBE(wg_index_lookup_return)
{
	struct call_args a;
	if (take_args(FN_INDEX_LOOKUP, &a) && !PT_REGS_RC(ctx))
		index_missing((__u32)a.a1);
	return 0;
}

SEC("kretprobe/wg_pubkey_hashtable_lookup")
int BPF_KRETPROBE(wg_pubkey_lookup_return)
{
	const struct wg_peer *peer = (const struct wg_peer *)PT_REGS_RC(ctx);
	if (!peer)
		handshake_cause(WGBPF_WGV_UNKNOWN_KEY);
	else
		initiator_found(peer);
	return 0;
}

SEC("kprobe/wg_packet_purge_staged_packets")
int BPF_KPROBE(wg_purge_entry_k, struct wg_peer *peer)
{
	staged_purged(peer);
	return 0;
}
