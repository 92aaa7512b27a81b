#pragma once
// `--metrics ADDR:PORT`: the counters of metrics/path_metrics served over HTTP for Prometheus to scrape
// (prometheus-cpp's Exposer, civetweb inside), at /metrics.
#include <memory>
#include <string>

#include "metrics/path_metrics.hpp"

namespace prometheus {
class Exposer;
}

namespace wgbpf {

class MetricsServer {
public:
    // Throws FatalError when the address cannot be served (in use, not ours).
    explicit MetricsServer(const std::string& address);
    ~MetricsServer();
    PathMetrics& metrics() { return metrics_; }

private:
    PathMetrics metrics_;
    std::unique_ptr<prometheus::Exposer> exposer_;
};

// "ADDR:PORT" as --metrics takes it ("127.0.0.1:9101", "[::1]:9101", ":9101" for every address): "" when it is
// one, else what is wrong.
std::string metrics_address_problem(const std::string& address);

} // namespace wgbpf
