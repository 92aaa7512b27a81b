#include "wgbpf/bpf/ring_consumer.hpp"

#include <cerrno>
#include <cstring>

namespace wgbpf {

Result<std::unique_ptr<RingConsumer>> RingConsumer::open(int map_fd, Handler handler) {
    std::unique_ptr<RingConsumer> c(new RingConsumer(std::move(handler)));
    c->rb_.reset(ring_buffer__new(map_fd, &RingConsumer::on_record, c.get(), nullptr));
    if (!c->rb_) return Error{std::string("cannot open the ring buffer: ") + std::strerror(errno)};
    return c;
}

int RingConsumer::on_record(void* self, void* data, size_t size) {
    static_cast<RingConsumer*>(self)->handler_({static_cast<const std::byte*>(data), size});
    return 0;
}

Result<int> RingConsumer::poll(int timeout_ms) {
    int woken = ring_buffer__poll(rb_.get(), timeout_ms);
    if (woken < 0 && woken != -EINTR) return Error{std::string("ring buffer poll: ") + std::strerror(-woken)};
    int drained = ring_buffer__consume(rb_.get());
    if (drained < 0) return Error{std::string("ring buffer consume: ") + std::strerror(-drained)};
    return (woken > 0 ? woken : 0) + drained;
}

int RingConsumer::epoll_fd() const { return ring_buffer__epoll_fd(rb_.get()); }

} // namespace wgbpf
