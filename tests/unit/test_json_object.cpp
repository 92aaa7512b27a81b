// The streaming JSON writer must print what nlohmann's dump() printed before it (goldens, scripts).
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "render/json_object.hpp"

using namespace wgbpf;

namespace {

std::string string_text(const std::string& s) {
    return json_text([&](JsonWriter& w) { write_json_string(w, s); });
}

} // namespace

TEST_CASE("strings are escaped as nlohmann escapes them") {
    std::vector<std::string> texts = {
        "",
        "plain ascii / with slash ~ and DEL \x7f",
        "quote \" backslash \\ tab \t newline \n cr \r backspace \b formfeed \f",
        std::string("nul \0 and \x01 \x1f \x1b[0m", 17),
        "UTF-8: \xc3\xa9t\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x90\xa7", // été → 🐧
    };
    for (const std::string& s : texts) CHECK(string_text(s) == nlohmann::json(s).dump());
}

TEST_CASE("text that is not UTF-8 gets U+FFFD, as compare and recordings write it") {
    for (const std::string s : {"\xff", "comment \xc3", "\xe2\x28\xa1", "\xc0\xaf", "wg\xe9\x01"})
        CHECK(string_text(s) == nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    CHECK(string_text("eth\xff") == "\"eth\xef\xbf\xbd\"");
}

TEST_CASE("numbers, booleans and nulls print as nlohmann prints them") {
    std::string text = json_text([](JsonWriter& w) {
        JsonObject o(w);
        o.boolean("a", true);
        o.boolean("b", false);
        o.uint("c", UINT64_MAX);
        o.sint("d", -150);
        o.sint("e", 0);
        o.null("f");
        o.name("g", "");
        o.opt("h", std::nullopt);
        o.opt("i", 7);
        o.strings("j", {});
        o.strings("k", {"x", "y"});
        o.end();
    });
    nlohmann::json expected = {
        {"a", true},      {"b", false},   {"c", UINT64_MAX}, {"d", -150}, {"e", 0},
        {"f", nullptr},   {"g", nullptr}, {"h", nullptr},    {"i", 7},    {"j", nlohmann::json::array()},
        {"k", {"x", "y"}}};
    CHECK(text == expected.dump());
}

TEST_CASE("merged fields go between the object's own in key order") {
    std::vector<JsonScalar> merged = {{"b", JsonScalar::Type::uint, 2, {}},
                                      {"d", JsonScalar::Type::string, 0, "dee"},
                                      {"z", JsonScalar::Type::null, 0, {}}};
    std::string text = json_text([&](JsonWriter& w) {
        JsonObject o(w);
        o.merge(merged);
        o.uint("a", 1);
        o.uint("c", 3);
        o.end();
    });
    CHECK(text == R"({"a":1,"b":2,"c":3,"d":"dee","z":null})");
}

TEST_CASE("a key out of byte order is a bug, caught where it is written") {
    auto out_of_order = [] {
        return json_text([](JsonWriter& w) {
            JsonObject o(w);
            o.uint("t_ns", 1);
            o.uint("table", 2);
            o.uint("t_ms", 3); // "t_ms" < "table": nlohmann would have printed it earlier
        });
    };
    CHECK_THROWS_AS(out_of_order(), std::logic_error);
    auto duplicate_with_merged = [] {
        std::vector<JsonScalar> merged = {{"src", JsonScalar::Type::null, 0, {}}};
        return json_text([&](JsonWriter& w) {
            JsonObject o(w);
            o.merge(merged);
            o.str("src", "10.0.0.1");
            o.end();
        });
    };
    CHECK_THROWS_AS(duplicate_with_merged(), std::logic_error);
}
