#pragma once
// RAII owners for libbpf objects: every skeleton, link and ring buffer is freed exactly once,
// including on error paths and exceptions. BPF links die with the process (no pinning), so nothing
// wgbpf attaches outlives it.
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <memory>

namespace wgbpf {

struct RingBufferDeleter {
    void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};
using RingBufferPtr = std::unique_ptr<ring_buffer, RingBufferDeleter>;

struct LinkDeleter {
    void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

struct BtfDeleter {
    void operator()(btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<btf, BtfDeleter>;

// A bpftool-generated skeleton `Skel` with its `Skel__destroy` function.
template <typename Skel, void (*Destroy)(Skel*)>
struct SkeletonDeleter {
    void operator()(Skel* s) const { Destroy(s); }
};
template <typename Skel, void (*Destroy)(Skel*)>
using SkeletonPtr = std::unique_ptr<Skel, SkeletonDeleter<Skel, Destroy>>;

} // namespace wgbpf
