#pragma once
// The steps every probe object takes to load: key its packet ids, share the common maps (one ring
// buffer, loss counters, watched packets and their clock), place the user's expression, load, and hand its maps to the next object
// if it made them.
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "common/result.hpp"
#include "loader/filter_injection.hpp"
#include "loader/libbpf_raii.hpp"
#include "loader/shared_maps.hpp"
#include "wgbpf/abi/events.h"

namespace wgbpf {

template <typename Skel>
Result<void> load_shared(Skel* skel, int (*load)(Skel*), SharedMaps& maps, uint32_t ringbuf_bytes,
                         const std::string& what) {
    skel->rodata->packet_id_key[0] = packet_id_key()[0];
    skel->rodata->packet_id_key[1] = packet_id_key()[1];
    const SharedMaps::Of own{skel->maps.events, skel->maps.losses, skel->maps.watched, skel->maps.watch_clock,
                             skel->maps.hook_contexts, skel->maps.tunnel_expects};
    if (auto r = maps.reuse_in(own, ringbuf_bytes); !r) return r;
    if (auto r = inject_packet_filter(skel->obj, maps.packet_filter); !r) return r;
    if (int err = load(skel))
        return Error{"the kernel refused the " + what + " programs: " + std::strerror(err < 0 ? -err : err) +
                     " (run with -v for the verifier log)"};
    return maps.adopt_from(own);
}

// What a probe object's errors call it: each the whole text before ": <the kernel's reason>".
struct ObjectTexts {
    std::string open_failed;   // "cannot open the drop BPF object"
    std::string programs;      // load_shared's `what`: "the kernel refused the <programs> programs"
    std::string attach_failed; // "cannot attach to kfree_skb"
};

// The one way a probe object starts: open, choose its programs (autoload), load with the shared maps, set its
// watch filter (nullptr: the object picks no packets itself), attach. Objects that attach link by link (the
// netfilter brackets, WireGuard's fallbacks) use load_shared directly.
template <typename Skel, void (*Destroy)(Skel*)>
Result<SkeletonPtr<Skel, Destroy>> start_object(Skel* (*open)(), int (*load)(Skel*), int (*attach)(Skel*),
                                                SharedMaps& maps, uint32_t ringbuf_bytes, const ObjectTexts& texts,
                                                const wgbpf_filter* filter,
                                                const std::function<void(Skel&)>& choose_programs = {}) {
    SkeletonPtr<Skel, Destroy> skel(open());
    if (!skel) {
        int err = errno;
        return Error{texts.open_failed + ": " + std::strerror(err)};
    }
    if (choose_programs) choose_programs(*skel);
    if (auto r = load_shared(skel.get(), load, maps, ringbuf_bytes, texts.programs); !r) return r;
    if (filter) skel->bss->filter = *filter;
    if (int err = attach(skel.get())) return Error{texts.attach_failed + ": " + std::strerror(err < 0 ? -err : err)};
    return skel;
}

} // namespace wgbpf
