// Results: a failure passes on to a Result of another type with its message; a success cannot be passed on as
// a failure; an error kind maps to its documented exit code.
#include <catch2/catch_test_macros.hpp>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/exit_codes.hpp"
#include "common/result.hpp"

using namespace wgbpf;

namespace {

Result<int> parse_number(const std::string& s) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return Error{"not a number: " + s};
    return std::stoi(s);
}

Result<std::unique_ptr<int>> boxed(const std::string& s) {
    auto n = parse_number(s);
    if (!n) return n; // passed on as is
    return std::make_unique<int>(*n);
}

Result<void> checked(const std::string& s) {
    auto b = boxed(s);
    if (!b) return b;
    return {};
}

} // namespace

TEST_CASE("result: a failure passes on to another Result type with its message") {
    CHECK(*boxed("42").value() == 42);
    auto failed = boxed("4x2");
    REQUIRE_FALSE(failed);
    CHECK(failed.error() == "not a number: 4x2");
    auto through_void = checked("");
    REQUIRE_FALSE(through_void);
    CHECK(through_void.error() == "not a number: ");
    CHECK(checked("7"));
    Result<int> ok = 3;
    CHECK_THROWS_AS(Result<std::string>(ok), std::logic_error);
}

TEST_CASE("result: every error kind has its exit code") {
    CHECK(exit_code_of(ErrorKind::failure) == exit_code::failure);
    CHECK(exit_code_of(ErrorKind::usage) == exit_code::usage);
    CHECK(exit_code_of(ErrorKind::no_privileges) == exit_code::no_privileges);
    CHECK(exit_code_of(ErrorKind::not_found) == exit_code::not_found);
    CHECK(FatalError("x").kind() == ErrorKind::failure);
}
