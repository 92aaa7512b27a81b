// Parsing libnftables' listings: `list chains` as JSON plus `list ruleset` as text with handles. The data
// under tests/data/nft are real outputs of nft 1.0.6 (see the README there).
#include <catch2/catch_test_macros.hpp>

#include <string>

#include "test_data.hpp"
#include "netlink/nft_json.hpp"

using namespace wgbpf;

namespace {

std::string read_data(const std::string& name) { return test::read_test_data("nft/" + name); }

NftRuleset parse_data(const std::string& stem) {
    auto rs = parse_nft_ruleset(read_data(stem + ".chains.json"), read_data(stem + ".txt"));
    INFO((rs ? std::string() : rs.error()));
    REQUIRE(rs);
    return *rs;
}

const NftChain& chain_of(const NftRuleset& rs, const char* family, const char* table, const char* name) {
    const NftChain* c = rs.chain(family, table, name);
    INFO(family << " " << table << " " << name);
    REQUIRE(c != nullptr);
    return *c;
}

const NftTable& table_of(const NftRuleset& rs, const char* family, const char* name) {
    const NftTable* found = nullptr;
    for (const NftTable& t : rs.tables)
        if (t.family == family && t.name == name) found = &t;
    INFO(family << " " << name);
    REQUIRE(found != nullptr);
    return *found;
}

} // namespace

TEST_CASE("nft seed ruleset: tables, chains and rule text as nft prints it", "[nft]") {
    NftRuleset rs = parse_data("seed");
    REQUIRE(rs.tables.size() == 2);
    CHECK(rs.tables[0].family == "inet");
    CHECK(rs.tables[0].name == "filter");
    CHECK(rs.tables[0].handle == 1);
    CHECK(rs.tables[0].flags == 0);
    CHECK(rs.tables[1].name == "wg-quick-wg0");
    CHECK(rs.tables[1].handle == 2);
    CHECK(rs.chains.size() == 7);
    CHECK(rs.legacy.empty());
    CHECK(rs.available);

    const NftChain& global = chain_of(rs, "inet", "filter", "global");
    CHECK_FALSE(global.base);
    CHECK_FALSE(global.hook);
    CHECK(global.table_handle == 1);
    REQUIRE(global.rules.size() == 2);
    CHECK(global.rules[0].handle == 5);
    CHECK(global.rules[0].text == "ct state established,related accept");
    CHECK(global.rules[0].comment == "Accept traffic originated from us");
    CHECK(global.rules[1].text == "ct state invalid drop");
    CHECK(global.rules[1].comment == "Drop invalid connections");

    const NftChain& input = chain_of(rs, "inet", "filter", "input");
    CHECK(input.base);
    CHECK(input.handle == 2);
    CHECK(input.type == "filter");
    CHECK(input.hook == NfHook::input);
    CHECK(input.hook_text == "input");
    CHECK(input.priority == 0);
    CHECK(input.policy == "drop");
    REQUIRE(input.rules.size() == 3);
    CHECK(input.rules[0].text == "iif \"lo\" accept");
    CHECK(input.rules[0].comment == "Accept any localhost traffic");
    CHECK(input.rules[1].text == "jump global");
    CHECK(input.rules[1].comment.empty());
    // Written over four lines in the seed; nft prints the anonymous set on the rule's one line.
    CHECK(input.rules[2].handle == 10);
    CHECK(input.rules[2].text ==
          "icmp type { echo-reply, destination-unreachable, source-quench, echo-request, router-advertisement, "
          "router-solicitation, time-exceeded, parameter-problem, address-mask-request, address-mask-reply } accept");

    CHECK(chain_of(rs, "inet", "filter", "output").policy == "accept");
    CHECK(chain_of(rs, "inet", "filter", "output").rules.empty());
    CHECK(chain_of(rs, "inet", "filter", "forward").hook == NfHook::forward);

    const NftChain& preraw = chain_of(rs, "ip", "wg-quick-wg0", "preraw");
    CHECK(preraw.table_handle == 2);
    CHECK(preraw.hook == NfHook::prerouting);
    CHECK(preraw.priority == -300);
    REQUIRE(preraw.rules.size() == 1);
    CHECK(preraw.rules[0].handle == 4);
    CHECK(preraw.rules[0].text == "iifname != \"wg0\" ip daddr 10.0.0.1 fib saddr type != local drop");

    const NftChain& premangle = chain_of(rs, "ip", "wg-quick-wg0", "premangle");
    CHECK(premangle.priority == -150);
    CHECK(premangle.rules.at(0).text == "meta l4proto udp meta mark set ct mark");

    const NftChain& postmangle = chain_of(rs, "ip", "wg-quick-wg0", "postmangle");
    CHECK(postmangle.hook == NfHook::postrouting);
    CHECK(postmangle.priority == -150);
    CHECK(postmangle.rules.at(0).handle == 6);
    CHECK(postmangle.rules.at(0).text == "meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark");
}

TEST_CASE("nft rich ruleset: families, sets, jumps, comments, netdev ingress", "[nft]") {
    NftRuleset rs = parse_data("rich");
    CHECK(rs.tables.size() == 10);

    const NftChain& in6 = chain_of(rs, "ip6", "v6", "in6");
    CHECK(in6.hook == NfHook::input);
    CHECK(in6.priority == 10); // printed as `filter + 10`
    REQUIRE(in6.rules.size() == 5);
    // A comment holding braces and `# handle` must not confuse the text listing.
    CHECK(in6.rules[0].handle == 7);
    CHECK(in6.rules[0].text == "ip6 saddr @blocked drop");
    CHECK(in6.rules[0].comment == "block { listed } # handle 99");
    CHECK(in6.rules[1].text == "tcp dport vmap @portmap");
    CHECK(in6.rules[2].text == "tcp dport { 22, 80, 443 } counter packets 0 bytes 0 accept");
    CHECK(in6.rules[3].text == "jump sub");
    CHECK(in6.rules[4].handle == 13);
    CHECK(in6.rules[4].text.starts_with("icmpv6 type { echo-request, echo-reply,"));

    CHECK(chain_of(rs, "ip6", "v6", "sub").rules.at(0).text == "goto sub2");
    CHECK(chain_of(rs, "ip6", "v6", "sub2").rules.at(0).text == "log prefix \"sub2 comment: \" return");
    CHECK(chain_of(rs, "ip6", "v6", "out6").priority == -5);

    const NftChain& nat = chain_of(rs, "inet", "mixed", "nat_out");
    CHECK(nat.type == "nat");
    CHECK(nat.hook == NfHook::postrouting);
    CHECK(nat.priority == 100);
    CHECK(nat.rules.at(0).text == "oifname \"lo\" masquerade");
    const NftChain& route = chain_of(rs, "inet", "mixed", "route_out");
    CHECK(route.type == "route");
    CHECK(route.priority == -151);
    CHECK(route.rules.at(0).text == "meta mark set 0x0000ca6c counter name \"cnt\"");
    const NftChain& fwd = chain_of(rs, "inet", "mixed", "fwd_filter");
    CHECK(fwd.policy == "drop");
    REQUIRE(fwd.rules.size() == 2);
    CHECK(fwd.rules[0].text == "ct state vmap { invalid : drop, established : accept, related : accept }");
    CHECK(fwd.rules[1].text == "iifname . oifname { \"lo\" . \"lo\" } accept");

    // Hooks outside NfHook's numbering keep only their name.
    const NftChain& ingress = chain_of(rs, "netdev", "nd", "ing");
    CHECK(ingress.base);
    CHECK_FALSE(ingress.hook);
    CHECK(ingress.hook_text == "ingress");
    CHECK(ingress.priority == -500);
    CHECK(ingress.rules.at(0).text == "ether type arp accept");
    const NftChain& arp = chain_of(rs, "arp", "a", "ain");
    CHECK_FALSE(arp.hook);
    CHECK(arp.hook_text == "input");
    CHECK(chain_of(rs, "bridge", "br", "bin").hook == NfHook::input);

    // Table flags come from the text listing's `flags` line.
    CHECK(table_of(rs, "ip", "dormantt").flags == 1);
    CHECK(table_of(rs, "ip", "owned").flags == 2);
    CHECK(table_of(rs, "ip6", "owned_dormant").flags == 3);
    CHECK(table_of(rs, "inet", "mixed").flags == 0);

    const NftChain& owned = chain_of(rs, "ip", "owned", "oc");
    CHECK(owned.table_handle == table_of(rs, "ip", "owned").handle);
    CHECK(owned.rules.at(0).text == "meta mark 0x00000001 accept");
    CHECK(owned.rules.at(0).comment == "owned rule");
}

TEST_CASE("nft rule text: comments with quotes or annotations, comment-only rules, chain comments", "[nft]") {
    const char* json = R"({"nftables": [
        {"chain": {"family": "inet", "table": "t", "name": "c", "handle": 3, "type": "filter",
                   "hook": "output", "prio": -2147483648, "policy": "accept"}},
        {"chain": {"family": "inet", "table": "t", "name": "d", "handle": 4}}]})";
    const char* text = "table inet t { # handle 7 progname nft\n"
                       "\tflags dormant,owner,persist\n"
                       "\n"
                       "\tchain c { # handle 3\n"
                       "\t\tcomment \"chain comment # handle 9\"\n"
                       "\t\ttype filter hook output priority -2147483648; policy accept;\n"
                       "\t\tcounter packets 1 bytes 2 accept comment \"from iptables-nft: \"quoted\"\" # handle 5\n"
                       "\t\tcomment \"only\" # handle 6\n"
                       "\t\tct helper set \"comment\" # handle 8\n"
                       "\t}\n"
                       "\n"
                       "\tchain d { # handle 4\n"
                       "\t}\n"
                       "}\n";
    auto rs = parse_nft_ruleset(json, text);
    INFO((rs ? std::string() : rs.error()));
    REQUIRE(rs);
    REQUIRE(rs->tables.size() == 1);
    CHECK(rs->tables[0].flags == 7);
    const NftChain& c = rs->chains.at(0);
    CHECK(c.table_handle == 7);
    CHECK(c.priority == INT32_MIN);
    REQUIRE(c.rules.size() == 3);
    CHECK(c.rules[0].handle == 5);
    // A comment holding quotes is not nft's own: it stays in the text.
    CHECK(c.rules[0].text == "counter packets 1 bytes 2 accept comment \"from iptables-nft: \"quoted\"\"");
    CHECK(c.rules[0].comment.empty());
    CHECK(c.rules[1].text.empty());
    CHECK(c.rules[1].comment == "only");
    CHECK(c.rules[2].text == "ct helper set \"comment\"");
    CHECK(c.rules[2].comment.empty());
    CHECK(rs->chains.at(1).rules.empty());
}

TEST_CASE("nft listings that are garbled, truncated or inconsistent give clear errors", "[nft]") {
    std::string json = read_data("seed.chains.json");
    std::string text = read_data("seed.txt");
    auto error_of = [](std::string_view j, std::string_view t) {
        auto rs = parse_nft_ruleset(j, t);
        REQUIRE_FALSE(rs);
        return rs.error();
    };

    CHECK(error_of("", text).starts_with("nft JSON output does not parse"));
    CHECK(error_of(json.substr(0, json.size() / 2), text).starts_with("nft JSON output does not parse"));
    CHECK(error_of("[1, 2]", text) == "nft JSON output has no \"nftables\" array");
    CHECK(error_of(R"({"nftables": {}})", text) == "nft JSON output has no \"nftables\" array");
    CHECK(error_of(R"({"nftables": [17]})", "") == "nft JSON: item 0 is not an object");
    CHECK(error_of(R"({"nftables": [{"chain": "x"}]})", "") == "nft JSON: item 0: \"chain\" is not an object");
    CHECK(error_of(R"({"nftables": [{"chain": {"family": "inet", "table": "filter", "name": "c", "handle": -1}}]})",
                   text) == "nft JSON: chain (item 0) lacks a valid \"handle\"");
    CHECK(error_of(R"({"nftables": [{"chain": {"family": "inet", "table": "filter", "name": "c", "handle": 1,
                                               "hook": "input", "prio": "filter"}}]})",
                   text) == "nft JSON: chain (item 0) lacks a valid \"prio\"");
    CHECK(error_of(R"({"nftables": [{"chain": {"family": "ip", "table": "t", "name": "c", "handle": 1}}]})", "") ==
          "nft text listing lacks table ip t of chain c (listings of different ruleset generations?)");
    CHECK(error_of(R"({"nftables": [{"chain": {"family": "inet", "table": "filter", "name": "c", "handle": 9}}]})",
                   text) == "nft text listing lacks chain inet filter c (handle 9) (listings of different ruleset "
                            "generations?)");
    CHECK(error_of(R"({"nftables": []})", text) ==
          "nft text listing has 7 chains, the JSON listing 0 (listings of different ruleset generations?)");
    CHECK(error_of(json, read_data("rich.txt")).find("different ruleset generations") != std::string::npos);

    // The text listing truncated, garbled or without handles.
    CHECK(error_of(json, text.substr(0, text.size() / 2)) == "nft text listing ends inside a block (truncated?)");
    CHECK(error_of(json, "}\n") == "nft text listing line 1: unbalanced '}'");
    CHECK(error_of(json, "table inet filter {\n}\n") ==
          "nft text listing line 1: table without `# handle` (not listed with handles?)");
    CHECK(error_of(json, "table inet filter { # handle 1\n\tchain c {\n\t}\n}\n") ==
          "nft text listing line 2: chain without `# handle`");
    CHECK(error_of(json, "table inet { # handle 1\n}\n") == "nft text listing line 1: bad table header");

    // Every truncation of either listing is an error, never a crash. (Both end in a newline, so the
    // first shorter one is the first one cut short.)
    for (size_t n = 0; n + 1 < json.size(); ++n) CHECK_FALSE(parse_nft_ruleset(json.substr(0, n), text));
    for (size_t n = 0; n + 1 < text.size(); ++n) CHECK_FALSE(parse_nft_ruleset(json, text.substr(0, n)));
}
