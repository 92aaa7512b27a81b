#pragma once
// The steps every probe object takes to load: key its packet ids, share the common maps (one ring
// buffer, loss counters, watched packets and their clock), load, and hand its maps to the next object
// if it made them.
#include <cerrno>
#include <cstring>
#include <string>

#include "loader/shared_maps.hpp"
#include "common/result.hpp"

namespace wgbpf {

template <typename Skel>
Result<void> load_shared(Skel* skel, int (*load)(Skel*), SharedMaps& maps, uint32_t ringbuf_bytes,
                         const std::string& what) {
    skel->rodata->packet_id_key[0] = packet_id_key()[0];
    skel->rodata->packet_id_key[1] = packet_id_key()[1];
    const SharedMaps::Of own{skel->maps.events, skel->maps.losses, skel->maps.watched, skel->maps.watch_clock,
                             skel->maps.hook_contexts};
    if (auto r = maps.reuse_in(own, ringbuf_bytes); !r) return r;
    if (int err = load(skel))
        return Error{"the kernel refused the " + what + " programs: " + std::strerror(err < 0 ? -err : err) +
                     " (run with -v for the verifier log)"};
    return maps.adopt_from(own);
}

} // namespace wgbpf
