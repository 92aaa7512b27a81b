#include "config/route_index.hpp"

#include <cstring>

#include "config/netns_config.hpp"

namespace wgbpf {

std::array<uint8_t, 16> masked(const IpAddress& address, uint8_t length) {
    std::array<uint8_t, 16> out{};
    const unsigned full = std::min<unsigned>(length / 8, 16), rest = length % 8;
    std::memcpy(out.data(), address.bytes.data(), full);
    if (rest && full < 16) out[full] = uint8_t(address.bytes[full] & uint8_t(0xff << (8 - rest)));
    return out;
}

size_t RouteIndex::AddressHash::operator()(const std::array<uint8_t, 16>& a) const {
    uint64_t lo = 0, hi = 0;
    std::memcpy(&lo, a.data(), 8);
    std::memcpy(&hi, a.data() + 8, 8);
    return std::hash<uint64_t>{}(lo * 0x9e3779b97f4a7c15ull ^ hi);
}

RouteIndex::RouteIndex(const std::vector<Route>& routes) : data_(routes.data()), size_(routes.size()) {
    for (size_t i = 0; i < routes.size(); ++i) {
        const Route& r = routes[i];
        tables_[{r.family, r.table}].by_length[r.dst.length].emplace(masked(r.dst.address, r.dst.length), i);
    }
}

bool RouteIndex::has_family(Family f) const {
    auto it = tables_.lower_bound({f, 0});
    return it != tables_.end() && it->first.first == f;
}

bool RouteIndex::has_table(Family f, uint32_t table) const { return tables_.count({f, table}) > 0; }

std::vector<size_t> RouteIndex::containing(uint32_t table, const IpAddress& address) const {
    std::vector<size_t> out;
    auto t = tables_.find({address.family, table});
    if (t == tables_.end()) return out;
    for (const auto& [length, routes] : t->second.by_length) {
        auto [from, to] = routes.equal_range(masked(address, length));
        for (auto it = from; it != to; ++it) out.push_back(it->second);
    }
    return out;
}

bool RouteIndex::indexes(const std::vector<Route>& routes) const {
    return routes.data() == data_ && routes.size() == size_;
}

} // namespace wgbpf
