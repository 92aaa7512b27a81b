#pragma once
// A namespace's routes by family, table and prefix: which routes of a table contain an address, and whether
// a table holds any route, without walking every route (a full BGP table is ~1M routes; every route event
// asks). One hash lookup per prefix length present in the table.
#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ip_address.hpp"

namespace wgbpf {

struct Route;

class RouteIndex {
public:
    explicit RouteIndex(const std::vector<Route>& routes);

    bool has_family(Family f) const;
    bool has_table(Family f, uint32_t table) const;
    // Positions (in the indexed vector) of the routes of `table` whose prefix contains `address`.
    std::vector<size_t> containing(uint32_t table, const IpAddress& address) const;

    // Whether this index was built from `routes` as they are now (same storage, same size).
    bool indexes(const std::vector<Route>& routes) const;

private:
    struct AddressHash {
        size_t operator()(const std::array<uint8_t, 16>& a) const;
    };
    using ByAddress = std::unordered_multimap<std::array<uint8_t, 16>, size_t, AddressHash>;
    struct Table {
        std::map<uint8_t, ByAddress, std::greater<>> by_length; // masked prefix address -> route positions
    };
    std::map<std::pair<Family, uint32_t>, Table> tables_;
    const Route* data_ = nullptr;
    size_t size_ = 0;
};

// `address` with the bits beyond `length` cleared.
std::array<uint8_t, 16> masked(const IpAddress& address, uint8_t length);

} // namespace wgbpf
