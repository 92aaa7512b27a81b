#pragma once
// Drains a BPF ring buffer. The programs wake the consumer only when the buffer fills up, so each
// poll waits up to a timeout and then drains what is there: few wake-ups, bounded latency. Each poll
// handles at most a batch of records, so that under a flood the caller still gets control back (to stop,
// to check for lost events, to flush) between batches; a poll after a full batch does not wait.
#include <cstddef>
#include <functional>
#include <memory>
#include <span>

#include "loader/libbpf_raii.hpp"
#include "common/result.hpp"

namespace wgbpf {

class RingConsumer {
public:
    using Handler = std::function<void(std::span<const std::byte>)>;

    static constexpr int kBatch = 8192;
    // A batch also ends after this much time: what a record costs depends on what is shown (timelines with
    // nftrace cost ~30 us each), and a Ctrl-C must not wait for a whole batch.
    static constexpr uint64_t kBatchBudgetNs = 20'000'000;

    static Result<std::unique_ptr<RingConsumer>> open(int map_fd, Handler handler);
    // Waits up to timeout_ms for a wake-up (not at all when the last batch was full), then drains at most
    // kBatch records, for at most kBatchBudgetNs. Returns the records consumed, or an error.
    Result<int> poll(int timeout_ms);
    int epoll_fd() const;
    bool more() const { return more_; } // the last batch ended early: records may be waiting

private:
    explicit RingConsumer(Handler handler) : handler_(std::move(handler)) {}
    static int on_record(void* self, void* data, size_t size);
    Handler handler_;
    RingBufferPtr rb_;
    int handled_ = 0; // records of this poll
    uint64_t batch_start_ns_ = 0;
    bool full_ = false; // this poll's batch ended early (count or time)
    bool more_ = false; // the last poll's batch ended early: records may be waiting
};

} // namespace wgbpf
