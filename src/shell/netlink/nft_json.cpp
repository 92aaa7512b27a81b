#include "netlink/nft_json.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wgbpf {
namespace {

using nlohmann::json;

// NFT_TABLE_F_* by the names nft prints.
std::optional<uint32_t> table_flag(std::string_view name) {
    if (name == "dormant") return 1;
    if (name == "owner") return 2;
    if (name == "persist") return 4;
    return std::nullopt;
}

std::string_view trim(std::string_view s) {
    size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

std::string unquoted(std::string_view s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return std::string(s);
}

// ---- text listing --------------------------------------------------------------------------------

struct TextChain {
    uint64_t table_handle = 0;
    uint64_t handle = 0;
    std::vector<NftRule> rules;
    bool matched = false; // found in the JSON listing
};

struct TextListing {
    std::vector<NftTable> tables;
    std::map<std::pair<uint64_t, uint64_t>, TextChain> chains; // (table handle, chain handle)
};

// A printed line split into code and nft's `# handle N` annotation (`# handle 9 progname nft` on owned
// tables). The annotation is the last `# handle` with no quote after it: a comment may itself hold
// "# handle", and iptables-nft comments may hold quotes.
struct Line {
    std::string_view code;
    std::optional<uint64_t> handle;
};

Line split_annotation(std::string_view line) {
    constexpr std::string_view kMark = "# handle ";
    size_t at = line.rfind(kMark);
    if (at == std::string_view::npos || line.find('"', at) != std::string_view::npos) return {line, std::nullopt};
    std::string_view digits = line.substr(at + kMark.size());
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc{} || end == digits.data()) return {line, std::nullopt};
    return {line.substr(0, at), v};
}

// nft prints a rule's comment last, as ` comment "..."`; nft's own comments never hold a quote, so the
// comment starts at the second-to-last one. (An iptables-nft comment with quotes stays in the text.)
void split_comment(NftRule& rule) {
    constexpr std::string_view kKeyword = "comment ";
    std::string& t = rule.text;
    if (t.size() < kKeyword.size() + 2 || t.back() != '"') return;
    size_t open = t.rfind('"', t.size() - 2);
    if (open == std::string::npos || open < kKeyword.size()) return;
    size_t keyword = open - kKeyword.size();
    if (t.compare(keyword, kKeyword.size(), kKeyword) != 0 || (keyword > 0 && t[keyword - 1] != ' ')) return;
    rule.comment = t.substr(open + 1, t.size() - open - 2);
    t = std::string(trim(std::string_view(t).substr(0, keyword)));
}

enum class Block { table, chain, other };

// `nft -a list ruleset`: tables with their handles and flags, chains by handle with their rules in
// kernel order. Rules are always printed on one line (anonymous sets included); named sets' elements
// may span lines, so braces are counted outside quotes everywhere except in headers and rules.
Result<TextListing> parse_text(std::string_view text) {
    TextListing out;
    std::vector<Block> open;
    TextChain* chain = nullptr;
    int number = 0;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view raw = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++number;
        auto [code_raw, handle] = split_annotation(raw);
        std::string_view code = trim(code_raw);
        bool in_table = !open.empty() && open.back() == Block::table;
        bool in_chain = !open.empty() && open.back() == Block::chain;

        if (open.empty() && code.starts_with("table ") && code.ends_with("{")) {
            if (!handle)
                return Error{fmt::format(
                    "nft text listing line {}: table without `# handle` (not listed with handles?)", number)};
            std::string_view spec = trim(code.substr(6, code.size() - 7)); // "FAMILY NAME"
            size_t space = spec.find(' ');
            if (space == std::string_view::npos)
                return Error{fmt::format("nft text listing line {}: bad table header", number)};
            out.tables.push_back(NftTable{.family = std::string(spec.substr(0, space)),
                                          .name = unquoted(trim(spec.substr(space + 1))),
                                          .handle = *handle});
            open.push_back(Block::table);
            continue;
        }
        if (in_table && code.starts_with("chain ") && code.ends_with("{")) {
            if (!handle) return Error{fmt::format("nft text listing line {}: chain without `# handle`", number)};
            uint64_t table = out.tables.back().handle;
            auto [it, fresh] =
                out.chains.try_emplace({table, *handle}, TextChain{.table_handle = table, .handle = *handle});
            if (!fresh)
                return Error{fmt::format("nft text listing line {}: chain handle {} appears twice", number, *handle)};
            chain = &it->second;
            open.push_back(Block::chain);
            continue;
        }
        if (in_chain && handle) {
            NftRule rule{.handle = *handle, .text = std::string(code)};
            split_comment(rule);
            chain->rules.push_back(std::move(rule));
            continue;
        }
        if (in_table && code.starts_with("flags ")) {
            uint32_t& flags = out.tables.back().flags;
            std::string_view names = code.substr(6);
            while (!names.empty()) {
                size_t comma = names.find(',');
                if (auto f = table_flag(trim(names.substr(0, comma)))) flags |= *f;
                names = comma == std::string_view::npos ? std::string_view{} : names.substr(comma + 1);
            }
            continue;
        }
        // Anything else: a chain's type line or comment, sets and their elements, objects, closing braces.
        bool quoted = false;
        for (char c : code) {
            if (c == '"') quoted = !quoted;
            if (quoted) continue;
            if (c == '{') open.push_back(Block::other);
            if (c == '}') {
                if (open.empty()) return Error{fmt::format("nft text listing line {}: unbalanced '}}'", number)};
                open.pop_back();
            }
        }
    }
    if (!open.empty()) return Error{"nft text listing ends inside a block (truncated?)"};
    return out;
}

// ---- JSON chain listing --------------------------------------------------------------------------

std::optional<std::string> get_string(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

std::optional<uint64_t> get_unsigned(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
    if (it->is_number_unsigned()) return it->get<uint64_t>();
    int64_t v = it->get<int64_t>();
    if (v < 0) return std::nullopt;
    return static_cast<uint64_t>(v);
}

std::optional<int32_t> get_int32(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
    if (it->is_number_unsigned()) {
        uint64_t v = it->get<uint64_t>();
        if (v > static_cast<uint64_t>(INT32_MAX)) return std::nullopt;
        return static_cast<int32_t>(v);
    }
    int64_t v = it->get<int64_t>();
    if (v < INT32_MIN || v > INT32_MAX) return std::nullopt;
    return static_cast<int32_t>(v);
}

Error missing(size_t index, const char* key) {
    return Error{fmt::format("nft JSON: chain (item {}) lacks a valid \"{}\"", index, key)};
}

// NfHook's numbers are the NF_INET_* ones, shared by ip, ip6, inet and bridge tables; arp and netdev
// hooks are numbered differently, and ingress/egress are not bracketed.
std::optional<NfHook> inet_hook(const std::string& family, const std::string& hook) {
    if (family != "ip" && family != "ip6" && family != "inet" && family != "bridge") return std::nullopt;
    if (hook == "prerouting") return NfHook::prerouting;
    if (hook == "input") return NfHook::input;
    if (hook == "forward") return NfHook::forward;
    if (hook == "output") return NfHook::output;
    if (hook == "postrouting") return NfHook::postrouting;
    return std::nullopt;
}

// One JSON chain object, with its table's handle and its rules from the text listing.
Result<NftChain> make_chain(const json& c, size_t i,
                            const std::map<std::pair<std::string, std::string>, uint64_t>& tables, TextListing& text) {
    auto family = get_string(c, "family");
    auto table = get_string(c, "table");
    auto name = get_string(c, "name");
    auto handle = get_unsigned(c, "handle");
    if (!family) return missing(i, "family");
    if (!table) return missing(i, "table");
    if (!name) return missing(i, "name");
    if (!handle) return missing(i, "handle");
    NftChain chain{.family = *family, .table = *table, .name = *name, .handle = *handle};
    auto owner = tables.find({chain.family, chain.table});
    if (owner == tables.end())
        return Error{fmt::format("nft text listing lacks table {} {} of chain {} (listings of different ruleset "
                                 "generations?)",
                                 chain.family, chain.table, chain.name)};
    chain.table_handle = owner->second;
    if (auto hook = get_string(c, "hook")) {
        auto prio = get_int32(c, "prio");
        if (!prio) return missing(i, "prio");
        chain.base = true;
        chain.hook_text = *hook;
        chain.hook = inet_hook(chain.family, *hook);
        chain.priority = *prio;
        chain.type = get_string(c, "type").value_or("");
        chain.policy = get_string(c, "policy").value_or("");
    }
    auto listed = text.chains.find({chain.table_handle, chain.handle});
    if (listed == text.chains.end() || listed->second.matched)
        return Error{fmt::format("nft text listing lacks chain {} (handle {}) (listings of different ruleset "
                                 "generations?)",
                                 chain.qualified(), chain.handle)};
    listed->second.matched = true;
    chain.rules = std::move(listed->second.rules);
    return chain;
}

} // namespace

Result<NftRuleset> parse_nft_ruleset(std::string_view chains_json, std::string_view text_with_handles) {
    json doc;
    try {
        doc = json::parse(chains_json);
    } catch (const json::parse_error& e) {
        return Error{fmt::format("nft JSON output does not parse: {}", e.what())};
    }
    auto items = doc.is_object() ? doc.find("nftables") : doc.end();
    if (!doc.is_object() || items == doc.end() || !items->is_array())
        return Error{"nft JSON output has no \"nftables\" array"};

    auto text = parse_text(text_with_handles);
    if (!text) return text;
    NftRuleset rs;
    rs.tables = text->tables;
    std::map<std::pair<std::string, std::string>, uint64_t> table_handles; // (family, name)
    for (const NftTable& t : rs.tables) table_handles[{t.family, t.name}] = t.handle;

    for (size_t i = 0; i < items->size(); ++i) {
        const json& item = (*items)[i];
        if (!item.is_object()) return Error{fmt::format("nft JSON: item {} is not an object", i)};
        auto c = item.find("chain");
        if (c == item.end()) continue; // metainfo
        if (!c->is_object()) return Error{fmt::format("nft JSON: item {}: \"chain\" is not an object", i)};
        auto chain = make_chain(*c, i, table_handles, *text);
        if (!chain) return chain;
        rs.chains.push_back(std::move(*chain));
    }
    if (rs.chains.size() != text->chains.size())
        return Error{fmt::format("nft text listing has {} chains, the JSON listing {} (listings of different "
                                 "ruleset generations?)",
                                 text->chains.size(), rs.chains.size())};
    return rs;
}

} // namespace wgbpf
