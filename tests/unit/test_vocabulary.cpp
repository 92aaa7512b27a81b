// The model's enums and their words: each name parses back to its enumerator, no two share a word, and the
// words are today's (the JSON contract, docs/json-schema.md, and the recordings depend on them).
#include <catch2/catch_test_macros.hpp>
#include <set>
#include <string>

#include "event/netfilter_events.hpp"
#include "route/route_decision.hpp"
#include "timeline/timeline_vocabulary.hpp"
#include "wireguard/wg_config.hpp"

using namespace wgbpf;

namespace {

// Every named enumerator of E: its words round-trip and are distinct. Returns how many there are.
template <typename E>
size_t check_words() {
    std::set<std::string> seen;
    for (unsigned i = 0; i < 256; ++i) {
        auto e = static_cast<E>(i);
        std::string_view word = name_of(e);
        if (word.empty()) continue;
        INFO(word);
        CHECK(seen.insert(std::string(word)).second);
        auto back = parse_enum<E>(word);
        REQUIRE(back);
        CHECK(*back == e);
    }
    return seen.size();
}

} // namespace

TEST_CASE("vocabulary: every word parses back to its enumerator, and words are distinct") {
    CHECK(check_words<Outcome>() == 9);
    CHECK(check_words<DeviceDirection>() == 2);
    CHECK(check_words<WgAction>() == 6);
    CHECK(check_words<WgDirection>() == 2);
    CHECK(check_words<WgLinkedBy>() == 2); // none has no word: JSON null
    CHECK(check_words<RpFilterMode>() == 4);
    CHECK(check_words<RpFilterResult>() == 3);
    CHECK(check_words<NfVerdict>() == 7);
    CHECK(check_words<LookupResult>() == 9); // none has no word: JSON "unknown" for a decision
    CHECK(check_words<WgImplementation>() == 2);
    CHECK(check_words<RouteType>() == 11);
}

TEST_CASE("vocabulary: the words of the JSON contract") {
    CHECK(name_of(Outcome::not_sent) == "not_sent");
    CHECK(name_of(Outcome::reassembled) == "reassembled");
    CHECK(name_of(WgAction::handshake_initiation) == "handshake_initiation");
    CHECK(name_of(WgLinkedBy::peer_order_length) == "peer_order_length");
    CHECK(name_of(LookupResult::no_route) == "no route");
    CHECK(name_of(LookupResult::throw_) == "throw");
    CHECK(name_of(RouteType::throw_) == "throw");
    CHECK(name_of(WgImplementation::uapi) == "uapi");
    CHECK_FALSE(parse_enum<Outcome>(""));
    CHECK_FALSE(parse_enum<Outcome>("Sent"));
    CHECK_FALSE(parse_enum<WgImplementation>("wireguard-go"));
}
