#pragma once
// Drains a BPF ring buffer. The programs wake the consumer only when the buffer fills up, so each
// poll waits up to a timeout and then drains whatever is there: few wake-ups, bounded latency.
#include <cstddef>
#include <functional>
#include <memory>
#include <span>

#include "wgbpf/bpf/libbpf_raii.hpp"
#include "wgbpf/common/result.hpp"

namespace wgbpf {

class RingConsumer {
public:
    using Handler = std::function<void(std::span<const std::byte>)>;

    static Result<std::unique_ptr<RingConsumer>> open(int map_fd, Handler handler);
    // Waits up to timeout_ms for a wake-up, then drains. Returns the records consumed, or an error.
    Result<int> poll(int timeout_ms);
    int epoll_fd() const;

private:
    explicit RingConsumer(Handler handler) : handler_(std::move(handler)) {}
    static int on_record(void* self, void* data, size_t size);
    Handler handler_;
    RingBufferPtr rb_;
};

} // namespace wgbpf
