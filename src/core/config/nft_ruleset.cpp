#include "config/nft_ruleset.hpp"

#include <algorithm>

namespace wgbpf {
namespace {

constexpr uint32_t kTableDormant = 1; // NFT_TABLE_F_DORMANT: its chains are not registered at any hook

bool runs_at(const std::string& family, uint8_t pf) {
    if (family == "inet") return pf == kNfprotoIpv4 || pf == kNfprotoIpv6;
    if (family == "ip") return pf == kNfprotoIpv4;
    if (family == "ip6") return pf == kNfprotoIpv6;
    return false;
}

} // namespace

std::string NftChain::qualified() const { return family + " " + table + " " + name; }

const NftRule* NftChain::rule(uint64_t handle) const {
    auto it = std::find_if(rules.begin(), rules.end(), [&](const NftRule& r) { return r.handle == handle; });
    return it == rules.end() ? nullptr : &*it;
}

const NftChain* NftRuleset::chain_by_handle(uint64_t table_handle, uint64_t chain_handle) const {
    auto it = std::find_if(chains.begin(), chains.end(), [&](const NftChain& c) {
        return c.table_handle == table_handle && c.handle == chain_handle;
    });
    return it == chains.end() ? nullptr : &*it;
}

const NftChain* NftRuleset::chain(const std::string& family, const std::string& table, const std::string& name) const {
    auto it = std::find_if(chains.begin(), chains.end(),
                           [&](const NftChain& c) { return c.family == family && c.table == table && c.name == name; });
    return it == chains.end() ? nullptr : &*it;
}

std::vector<const NftChain*> NftRuleset::base_chains(uint8_t pf, NfHook hook) const {
    auto dormant = [&](const NftChain& c) {
        return std::any_of(tables.begin(), tables.end(), [&](const NftTable& t) {
            return t.family == c.family && t.name == c.table && (t.flags & kTableDormant);
        });
    };
    std::vector<const NftChain*> out;
    for (const NftChain& c : chains)
        if (c.base && c.hook == hook && runs_at(c.family, pf) && !dormant(c)) out.push_back(&c);
    // At equal priority the kernel runs the hook registered last first; newer tables and chains have
    // higher handles, which approximates that order.
    std::sort(out.begin(), out.end(), [](const NftChain* a, const NftChain* b) {
        if (a->priority != b->priority) return a->priority < b->priority;
        if (a->table_handle != b->table_handle) return a->table_handle > b->table_handle;
        return a->handle > b->handle;
    });
    return out;
}

} // namespace wgbpf
