#include "metrics_server.hpp"

#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>

#include "common/result.hpp"

namespace wgbpf {

std::string metrics_address_problem(const std::string& address) {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) return "want ADDR:PORT (e.g. 127.0.0.1:9101), got '" + address + "'";
    const std::string port = address.substr(colon + 1), host = address.substr(0, colon);
    bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoul(port) < 1 || std::stoul(port) > 65535)
        return "the port must be a number from 1 to 65535, got '" + port + "'";
    if (host.find_first_of(" ,/") != std::string::npos) return "not an address: '" + host + "'";
    return "";
}

MetricsServer::MetricsServer(const std::string& address) {
    try {
        // ":9101" is every address: civetweb wants the port alone for that.
        exposer_ = std::make_unique<prometheus::Exposer>(address.starts_with(":") ? address.substr(1) : address, 1);
    } catch (const std::exception& e) {
        throw FatalError("cannot serve metrics on " + address + ": " + e.what() +
                         " (in use, or not an address of this namespace?)");
    }
    exposer_->RegisterCollectable(metrics_.registry());
    spdlog::info("metrics: http://{}/metrics", address);
}

MetricsServer::~MetricsServer() = default;

} // namespace wgbpf
