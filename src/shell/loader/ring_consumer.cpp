#include "loader/ring_consumer.hpp"
#include "common/clock.hpp"

#include <cerrno>
#include <cstring>

namespace wgbpf {

Result<std::unique_ptr<RingConsumer>> RingConsumer::open(int map_fd, Handler handler) {
    std::unique_ptr<RingConsumer> c(new RingConsumer(std::move(handler)));
    c->rb_.reset(ring_buffer__new(map_fd, &RingConsumer::on_record, c.get(), nullptr));
    if (!c->rb_) return Error{std::string("cannot open the ring buffer: ") + std::strerror(errno)};
    return c;
}

// Returned by the callback to end a batch: libbpf stops there, with the record just handled consumed.
constexpr int kBatchFull = -ECANCELED;

int RingConsumer::on_record(void* self, void* data, size_t size) {
    auto* c = static_cast<RingConsumer*>(self);
    if (c->handled_ == 0) c->batch_start_ns_ = clock_ns(); // the batch's time, not the wait before it
    c->handler_({static_cast<const std::byte*>(data), size});
    ++c->handled_;
    c->full_ = c->handled_ >= kBatch || (c->handled_ % 64 == 0 && clock_ns() - c->batch_start_ns_ >= kBatchBudgetNs);
    return c->full_ ? kBatchFull : 0;
}

Result<int> RingConsumer::poll(int timeout_ms) {
    handled_ = 0;
    full_ = false;
    int woken = ring_buffer__poll(rb_.get(), more_ ? 0 : timeout_ms);
    if (woken < 0 && woken != -EINTR && woken != kBatchFull)
        return Error{std::string("ring buffer poll: ") + std::strerror(-woken)};
    if (woken != kBatchFull) {
        int drained = ring_buffer__consume(rb_.get());
        if (drained < 0 && drained != kBatchFull)
            return Error{std::string("ring buffer consume: ") + std::strerror(-drained)};
    }
    more_ = full_;
    return handled_;
}

int RingConsumer::epoll_fd() const { return ring_buffer__epoll_fd(rb_.get()); }

} // namespace wgbpf
