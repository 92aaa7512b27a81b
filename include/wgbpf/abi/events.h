/* The event ABI shared by the BPF programs (clang -target bpf) and the C++ loader.
 * Fixed-width fields, explicit padding, sizes checked by both compilers. Every record starts with
 * wgbpf_event_header; the decoder rejects (and counts) records whose type, version or size it does
 * not know. Change a layout => bump its version. */
#ifndef WGBPF_ABI_EVENTS_H
#define WGBPF_ABI_EVENTS_H

#ifdef __bpf__
/* vmlinux.h already defines __u8 ... __u64 */
#else
#include <linux/types.h>
#endif

/* Each record type has its own version (the header's `version`): a change to one record is that record's. */
#define WGBPF_ROUTE_LOOKUP_VERSION 1
#define WGBPF_RULE_RESULT_VERSION 1
#define WGBPF_NF_BRACKET_VERSION 1
#define WGBPF_NF_CHAIN_VERSION 1
#define WGBPF_DROP_VERSION 1
#define WGBPF_DEVICE_VERSION 1
#define WGBPF_DEVICE_CAPTURE_VERSION 1

enum wgbpf_event_type {
	WGBPF_EV_ROUTE_LOOKUP = 1, /* one fib table lookup (tracepoint fib{,6}_table_lookup) */
	WGBPF_EV_RULE_RESULT = 2,  /* exact rule outcome from fexit on the fib rule functions */
	WGBPF_EV_NF_BRACKET = 3,   /* a packet passed one of wgbpf's netfilter hooks placed around nft chains */
	WGBPF_EV_NF_CHAIN = 4,     /* one base chain run, exact (fentry/fexit nft_do_chain) */
	WGBPF_EV_DROP = 5,         /* a watched packet freed with a drop reason (skb:kfree_skb) */
	WGBPF_EV_DEVICE = 6,       /* a watched packet received on / handed to a device */
	WGBPF_EV_WIREGUARD = 7,    /* kernel WireGuard chose the peer of a packet it encrypts / decrypted */
	WGBPF_EV_DEVICE_CAPTURE = 8, /* a device record with the packet's first bytes (--pcapng, --snaplen) */
};

/* Probe modules, for per-module loss counters (index into the `losses` map). */
enum wgbpf_module {
	WGBPF_MOD_ROUTE = 0,
	WGBPF_MOD_NETFILTER = 1,
	WGBPF_MOD_DROP = 2,
	WGBPF_MOD_DEVICE = 3,
	WGBPF_MOD_WIREGUARD = 4,
	WGBPF_MOD_COUNT = 8,
	/* Not a module: the losses map's slot counting the times the expression could not decide on a packet
	 * (it read bytes past what wgbpf sees). */
	WGBPF_COUNT_UNDECIDED = 7,
};

struct wgbpf_event_header {
	__u16 type;    /* enum wgbpf_event_type */
	__u16 version; /* layout version of this type */
	__u32 size;    /* sizeof the whole record */
	__u64 t_ns;    /* bpf_ktime_get_ns() */
	__u32 cpu;
	__u32 netns;   /* network namespace inode (net->ns.inum), 0 when unknown */
	__u32 tgid;    /* current task, meaningful for process-context lookups */
	__u32 pad0;
};

#define WGBPF_FAMILY_IPV4 4
#define WGBPF_FAMILY_IPV6 6

/* Why BPF believes a lookup happens: decided on the CPU where it runs. */
enum wgbpf_route_direction {
	WGBPF_DIR_OUTPUT = 0,  /* locally generated (flowi iif == loopback) */
	WGBPF_DIR_INPUT = 1,   /* a received packet's route (flowi iif == receiving device) */
	WGBPF_DIR_REVERSE = 2, /* rp_filter / source validation for the packet just received on this CPU */
};

/* Lookup result classes; the raw errno is kept too. */
#define WGBPF_LOOKUP_F_NH 0x1      /* a nexthop device was returned */
#define WGBPF_LOOKUP_F_GW 0x2      /* the nexthop has a gateway */
/* 0x4 was "looked up while receiving": rx_packet != 0 says the same. */
#define WGBPF_LOOKUP_F_REROUTE 0x8 /* output lookup made for a packet already in the output hook (a chain changed
				    * its mark or addresses: ip_route_me_harder); rx_packet names that packet */

struct wgbpf_route_lookup {
	struct wgbpf_event_header hdr;
	__u32 table;      /* tb_id */
	__s32 err;        /* 0 hit, -EAGAIN miss, -EHOSTUNREACH/-EACCES/-EINVAL reject routes */
	__u32 mark;       /* flowi mark */
	__s32 iif;        /* flowi iif (1 = loopback: output or reverse) */
	__s32 oif;        /* flowi oif (0 = any) */
	__u32 uid;        /* flowi uid */
	__u32 nh_ifindex; /* result device, when WGBPF_LOOKUP_F_NH */
	__u8 family;      /* WGBPF_FAMILY_* */
	__u8 proto;       /* flowi proto (0 when the kernel did not dissect the packet) */
	__u8 direction;   /* enum wgbpf_route_direction */
	__u8 flags;       /* WGBPF_LOOKUP_F_* */
	__u16 sport;      /* host byte order, 0 when unknown */
	__u16 dport;
	__u8 dscp;
	__u8 scope;
	__u16 pad1;
	__u64 rx_packet;  /* input/reverse lookups: id of the packet being received on this CPU; output lookups
			   * with WGBPF_LOOKUP_F_REROUTE: id of the packet re-routed; else 0 */
	__u8 src[16];     /* IPv4 in the first 4 bytes, network order */
	__u8 dst[16];
	__u8 gw[16];
};

/* Exact rule decision from fexit probes (kernels that allow them). */
#define WGBPF_RULE_SUPPRESSED 1 /* fib{4,6}_rule_suppress returned true for this rule */
#define WGBPF_RULE_DECIDED 2    /* fib_rules_lookup returned with this rule */

struct wgbpf_rule_result {
	struct wgbpf_event_header hdr;
	__u32 pref;
	__u32 table;
	__s32 err;
	__u32 what;          /* WGBPF_RULE_* */
	__s32 prefixlen;     /* result prefix length (suppress), -1 unknown */
	__s32 suppress_prefixlen;
	__u8 family;
	__u8 pad[7];
};

/* What a reader needs to recognise a packet, read from its headers at the observation point. */
#define WGBPF_PKT_F_L4 0x1      /* sport/dport (or ICMP type/code in dport) were read */
#define WGBPF_PKT_F_PAYLOAD 0x2 /* udp_payload holds the first bytes of a UDP payload */
#define WGBPF_PKT_F_DF 0x4      /* IPv4: don't fragment */
#define WGBPF_PKT_F_MF 0x8      /* a fragment with more after it (IPv4 MF, IPv6 fragment header M) */
#define WGBPF_PKT_F_LATER_FRAG 0x10 /* a fragment other than the first (offset > 0): no transport header */

struct wgbpf_packet {
	__u64 id;        /* keyed hash of the skb address (never the address itself) */
	__u8 family;     /* WGBPF_FAMILY_*, 0 when not IP */
	__u8 proto;
	__u16 len;       /* IP total length / IPv6 payload length + 40 */
	__u16 sport;     /* host order */
	__u16 dport;     /* host order; ICMP: type << 8 | code */
	__u16 ip_id;     /* IPv4 identification, host order */
	__u8 flags;      /* WGBPF_PKT_F_* */
	__u8 l3_len;     /* IP header length in bytes (IPv4 ihl * 4; 40 for IPv6, 48 with a fragment header) */
	__s32 iif;       /* ifindex, 0 when none */
	__s32 oif;
	__u8 src[16];
	__u8 dst[16];
	/* First 16 bytes of a UDP payload: a WireGuard message's type, receiver index and counter
	 * (shared/docs kernel-notes §6). Decoded in user space, only for WireGuard's ports. ICMP fragmentation
	 * needed / ICMPv6 packet too big: the 16 bytes after the checksum (the MTU, then the quoted header). */
	__u8 udp_payload[16];
};

/* Conntrack state as the kernel stores it with the skb (enum ip_conntrack_info), plus "none". */
#define WGBPF_CT_NONE 0xff

struct wgbpf_nf_bracket {
	struct wgbpf_event_header hdr;
	struct wgbpf_packet pkt;
	__u32 bracket;   /* index of the hook that fired, in user space's placement for this namespace */
	__u8 hook;       /* NF_INET_* */
	__u8 pf;         /* NFPROTO_IPV4 / NFPROTO_IPV6 */
	__u8 ct_state;   /* enum ip_conntrack_info, WGBPF_CT_NONE without conntrack */
	__u8 pad0;
	__u32 mark;
	__u32 ct_mark;
	__u32 generation; /* placement generation: brackets move when the ruleset changes */
	__u32 pad1;
};

struct wgbpf_nf_chain {
	struct wgbpf_event_header hdr;
	struct wgbpf_packet pkt;
	__u64 table_handle; /* nft handles: user space names them from the ruleset */
	__u64 chain_handle;
	__u8 hook;
	__u8 pf;
	__u8 table_family;  /* NFPROTO_* of the table (inet = 1) */
	__u8 ct_state_before;
	__u8 ct_state_after;
	__u8 pad0[3];
	__u32 verdict;      /* nft_do_chain's return value */
	__u32 mark_before;
	__u32 mark_after;
	__u32 ct_mark_before;
	__u32 ct_mark_after;
	__u32 pad1;
};

struct wgbpf_drop {
	struct wgbpf_event_header hdr;
	struct wgbpf_packet pkt;
	__u64 location;   /* resolved to a symbol by user space, never shown as an address */
	__u32 reason;     /* enum skb_drop_reason of the running kernel (named from its BTF) */
	__u32 pad0;
};

#define WGBPF_DEV_INGRESS 0 /* netif_receive_skb */
#define WGBPF_DEV_EGRESS 1  /* net_dev_start_xmit */
/* Received on a device that made the buffer just now (a NIC's driver, a TUN or TAP device's reader): the start of a
 * packet's life, whatever came before under the same id (a packet freed without a traced free). */
#define WGBPF_DEV_F_NEW_BUFFER 1

struct wgbpf_device {
	struct wgbpf_event_header hdr;
	struct wgbpf_packet pkt;
	__s32 ifindex;
	__u8 direction; /* WGBPF_DEV_* */
	__u8 flags;     /* WGBPF_DEV_F_* (0 in recordings made before there were any) */
	__u8 pad[2];
};

/* The most bytes a device record carries with --snaplen: the headers a diagnosis needs (IP, UDP, WireGuard's
 * message header, an inner ICMP or TCP header), at a fixed record size. */
#define WGBPF_SNAPLEN_MAX 256

/* A device record with what tcpdump would have captured on that device from the IP header on: the first
 * `cap_len` bytes (at most the snaplen, the IP length and the buffer's linear part), the rest zero. */
struct wgbpf_device_capture {
	struct wgbpf_device dev;
	__u32 orig_len; /* the IP packet's length */
	__u16 cap_len;
	__u16 pad;
	__u8 bytes[WGBPF_SNAPLEN_MAX];
};

/* Kernel WireGuard encrypts and decrypts in place: the skb of an inner packet becomes its outer packet
 * (and back), so a peer lookup on a packet id links the two exactly. */
#define WGBPF_WG_ENCRYPT 1 /* wg_allowedips_lookup_dst in wg_xmit: this inner packet goes to this peer */
#define WGBPF_WG_DECRYPT 2 /* wg_allowedips_lookup_src after decryption: this inner packet came from this peer */
#define WGBPF_WG_HANDSHAKE 3 /* a received handshake message (the outer packet), and WireGuard's verdict on it */
#define WGBPF_WG_RECEIVE 4   /* a received data message (the outer packet) judged before its inner packet exists:
                              * refused (before decrypting, or it did not decrypt), or decrypted (OK) */
#define WGBPF_WG_PURGE 5     /* wg_packet_purge_staged_packets: the packets queued for a peer's handshake dropped
                              * (no packet: pkt is zero; queued: how many; verdict: the cause, OK when not known) */

/* WireGuard's own verdict (drivers/net/wireguard): a packet it frees as consumed, with no drop reason. */
#define WGBPF_WGV_OK 0
#define WGBPF_WGV_NO_PEER 1          /* encrypt: no peer's allowed IPs hold the destination (wg_xmit -ENOKEY) */
#define WGBPF_WGV_NO_ENDPOINT 2      /* encrypt: the peer has no endpoint (wg_xmit -EDESTADDRREQ) */
#define WGBPF_WGV_SRC_NOT_ALLOWED 3  /* decrypt: the source is not in the allowed IPs of the peer whose key
                                      * decrypted it (peer_key: that peer); rx_frame_errors */
#define WGBPF_WGV_BAD_MAC 4          /* handshake: MAC1 invalid (another public key for this interface) */
#define WGBPF_WGV_RATELIMITED 5      /* handshake: under load, valid cookie, but over the rate limit */
#define WGBPF_WGV_COOKIE_SENT 6      /* handshake: under load without a cookie: a cookie reply went back */
#define WGBPF_WGV_REJECTED 7         /* handshake: the Noise message was refused (consume returned NULL) */
#define WGBPF_WGV_UNKNOWN_INDEX 8    /* receive: no session has its receiver index (data: no keypair; response:
                                      * no initiation waits for it) */
#define WGBPF_WGV_UNKNOWN_KEY 9      /* handshake initiation: the sender's public key is not a peer */
#define WGBPF_WGV_INVALID 10         /* receive: decrypt_packet refused a data message (authentication failed:
                                      * corrupted or forged, or its session's keys expired) */
#define WGBPF_WGV_NO_SESSION 11      /* encrypt: the peer has no usable session (no current keypair, or its
                                      * sending key invalid or expired): queued for a handshake (not a drop) */
#define WGBPF_WGV_FLOOD 12           /* handshake initiation: within 20 ms of the last one accepted from its peer */
#define WGBPF_WGV_TIMESTAMP 13       /* handshake initiation from a known peer, refused but not as a flood: its
                                      * timestamp is not newer than the last accepted, or it did not decrypt */
#define WGBPF_WGV_GAVE_UP 14         /* purge: the handshake did not complete after MAX_TIMER_HANDSHAKES retries */
#define WGBPF_WGV_PEER_REMOVED 15    /* purge: the peer was removed (or its interface deleted) */
#define WGBPF_WGV_DEVICE_DOWN 16     /* purge: the interface was brought down */
#define WGBPF_WGV_SESSION_UNSURE 17  /* encrypt: a peer whose key expires within a tick of now: queued or not, not told */

/* Version 2 added `queued` (a version 1 record is the first 152 bytes, queued 0). */
#define WGBPF_WIREGUARD_VERSION 2

struct wgbpf_wireguard {
	struct wgbpf_event_header hdr;
	struct wgbpf_packet pkt; /* the inner (cleartext) packet */
	__s32 ifindex;           /* the WireGuard device */
	__u8 action;             /* WGBPF_WG_* */
	__u8 found;              /* a peer is named (lookups, accepted handshakes, initiations refused as a flood or
	                          * for their timestamp, purges) */
	__u8 verdict;            /* WGBPF_WGV_* */
	__u8 message;            /* handshakes: WireGuard message type (1 initiation, 2 response) */
	__u8 peer_key[32];       /* the peer's public key, when found (SRC_NOT_ALLOWED: the sending peer) */
	__u32 queued;            /* encrypt: packets already in the peer's staged queue; purge: packets dropped */
	__u32 pad1;
};

/* Roles of the netfilter bracket slots in re-route attribution (nf_bracket.bpf.c's hook_role[]): a watched
 * packet enters the output hook at an ENTER bracket, and route lookups for it are its re-routes until the
 * LEAVE bracket (the last of the output hook). */
#define WGBPF_HOOK_ENTER 1
#define WGBPF_HOOK_LEAVE 2

/* Filter set by user space; BPF rejects cheapest-first: netns, then interfaces/marks/ports/addresses. */
#define WGBPF_FILTER_MAX_NETNS 16
#define WGBPF_FILTER_MAX_IFACES 16 /* one per namespace */
#define WGBPF_FILTER_MAX_MARKS 4
#define WGBPF_FILTER_MAX_PORTS 8
#define WGBPF_FILTER_MAX_ADDRS 16
#define WGBPF_FILTER_MAX_TUNNELS 4

struct wgbpf_filter {
	__u32 n_netns;      /* 0: any namespace */
	__u32 netns[WGBPF_FILTER_MAX_NETNS];
	__u32 n_ifaces;     /* 0: any interface (and marks/ports/addrs are ignored) */
	__s32 ifaces[WGBPF_FILTER_MAX_IFACES];
	__u32 iface_netns[WGBPF_FILTER_MAX_IFACES]; /* each interface's namespace: an ifindex is per namespace */
	__u32 n_marks;
	__u32 marks[WGBPF_FILTER_MAX_MARKS];   /* e.g. WireGuard fwmark: outer packets of the interface */
	__u32 n_ports;
	/* host order. UDP from or to one: a WireGuard interface's outer packets, any peer, in any watched
	 * namespace (the interface may have been moved out of the namespace its socket lives in) */
	__u16 listen_ports[WGBPF_FILTER_MAX_PORTS];
	__u32 n_addrs;
	__u8 addrs[WGBPF_FILTER_MAX_ADDRS][16]; /* e.g. peer endpoints (when the listen port is not known) */
	__u8 addr_family[WGBPF_FILTER_MAX_ADDRS]; /* WGBPF_FAMILY_* */
	/* A tcpdump-syntax expression was compiled into the programs' placeholders (bpf/pcap.bpf.h): the packets
	 * the places above choose must match it too (and be sampled, below). */
	__u8 pcap;
	__u8 n_tunnels;
	/* --sample N: 1 flow in N (by a keyed hash of its addresses, protocol and ports, both directions alike);
	 * 0 or 1: every flow. A WireGuard interface's outer packets are not sampled themselves: they follow their
	 * inner packets. */
	__u16 sample_every;
	/* User-space WireGuard interfaces (wireguard-go): their outer packets are new buffers the kernel does not
	 * tie to the inner ones. With an expression, the outer packets of a watched inner packet, and the inner
	 * packets of a watched outer one, are picked by port and length (bpf/tunnel_follow.bpf.h). */
	__s32 tunnel_ifaces[WGBPF_FILTER_MAX_TUNNELS];
	__u32 tunnel_netns[WGBPF_FILTER_MAX_TUNNELS];
	__u16 tunnel_ports[WGBPF_FILTER_MAX_TUNNELS]; /* host order */
	/* --snaplen / --pcapng: device records carry up to this many of the packet's bytes (wgbpf_device_capture);
	 * 0: none (plain device records) */
	__u16 snaplen;
	/* 0 while the probes attach, one module after another (nothing is picked: a packet seen by some of them
	 * only would have a story with holes); user space arms every module at once when all are attached. */
	__u8 armed;
	__u8 pad0;
};

/* tcpdump-syntax filters (bpf/pcap.bpf.h; src/core/filter): libpcap's classic BPF for raw IP, translated by
 * user space into eBPF and written, before load, over a placeholder of WGBPF_PCAP_SLOTS instructions that
 * starts with `r0 = WGBPF_PCAP_MARKER` and is otherwise `goto +0` (which the verifier removes). The code
 * reads the window in r1 (WGBPF_PCAP_WINDOW bytes from the network header, the captured length in r2) and
 * leaves in r0 one of WGBPF_PCAP_*; r3-r5 are its registers. */
#define WGBPF_PCAP_SLOTS 1024
#define WGBPF_PCAP_MARKER 0x7a7a7a7a
#define WGBPF_PCAP_WINDOW 128
#define WGBPF_PCAP_NO_MATCH 0
#define WGBPF_PCAP_MATCH 1
#define WGBPF_PCAP_UNDECIDED 2 /* needed bytes past the window that the packet has */
#define WGBPF_PCAP_LEN_UNKNOWN 0xffffffff /* wire_len when not known: `len` is undecided, every byte may exist */

struct wgbpf_pcap_window {
	__u8 bytes[WGBPF_PCAP_WINDOW];
	__u32 mem[16];  /* classic BPF's scratch memory M[] */
	__u32 wire_len; /* the packet's length from its IP header (classic BPF's `len`), or WGBPF_PCAP_LEN_UNKNOWN */
	__u32 pad;
};

#if defined(__cplusplus)
static_assert(sizeof(struct wgbpf_event_header) == 32, "event header ABI");
static_assert(sizeof(struct wgbpf_route_lookup) == 128, "route lookup ABI");
static_assert(sizeof(struct wgbpf_rule_result) == 64, "rule result ABI");
static_assert(sizeof(struct wgbpf_filter) == 564, "filter ABI");
static_assert(sizeof(struct wgbpf_pcap_window) == 200, "pcap window ABI");
static_assert(sizeof(struct wgbpf_packet) == 80, "packet ABI");
static_assert(sizeof(struct wgbpf_nf_bracket) == 136, "nf bracket ABI");
static_assert(sizeof(struct wgbpf_nf_chain) == 160, "nf chain ABI");
static_assert(sizeof(struct wgbpf_drop) == 128, "drop ABI");
static_assert(sizeof(struct wgbpf_device) == 120, "device ABI");
static_assert(sizeof(struct wgbpf_device_capture) == 384, "device capture ABI");
static_assert(sizeof(struct wgbpf_wireguard) == 160, "wireguard ABI");
#else
_Static_assert(sizeof(struct wgbpf_event_header) == 32, "event header ABI");
_Static_assert(sizeof(struct wgbpf_route_lookup) == 128, "route lookup ABI");
_Static_assert(sizeof(struct wgbpf_rule_result) == 64, "rule result ABI");
_Static_assert(sizeof(struct wgbpf_filter) == 564, "filter ABI");
_Static_assert(sizeof(struct wgbpf_pcap_window) == 200, "pcap window ABI");
_Static_assert(sizeof(struct wgbpf_packet) == 80, "packet ABI");
_Static_assert(sizeof(struct wgbpf_nf_bracket) == 136, "nf bracket ABI");
_Static_assert(sizeof(struct wgbpf_nf_chain) == 160, "nf chain ABI");
_Static_assert(sizeof(struct wgbpf_drop) == 128, "drop ABI");
_Static_assert(sizeof(struct wgbpf_device) == 120, "device ABI");
_Static_assert(sizeof(struct wgbpf_device_capture) == 384, "device capture ABI");
_Static_assert(sizeof(struct wgbpf_wireguard) == 160, "wireguard ABI");
#endif

#endif
