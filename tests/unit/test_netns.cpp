// Opening network namespaces by the names users give; safe without root.
#include <catch2/catch_test_macros.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "netlink/netns.hpp"

using namespace wgbpf;

TEST_CASE("the caller's namespace", "[netns]") {
    auto ns = NetnsHandle::open("");
    REQUIRE(ns.ok());
    struct stat st {};
    REQUIRE(stat("/proc/self/ns/net", &st) == 0);
    CHECK(ns->inode() == static_cast<uint32_t>(st.st_ino));
    CHECK(ns->fd() >= 0);
    CHECK_FALSE(ns->description().empty());
}

TEST_CASE("a PID names its namespace", "[netns]") {
    auto ns = NetnsHandle::open(std::to_string(getpid()));
    REQUIRE(ns.ok());
    struct stat st {};
    REQUIRE(stat("/proc/self/ns/net", &st) == 0);
    CHECK(ns->inode() == static_cast<uint32_t>(st.st_ino));
}

TEST_CASE("entering the namespace one is already in needs no privilege", "[netns]") {
    auto ns = NetnsHandle::open("");
    REQUIRE(ns.ok());
    auto scope = NetnsScope::enter(*ns);
    CHECK(scope.ok());
}

TEST_CASE("an unknown namespace gives a clear error", "[netns]") {
    auto ns = NetnsHandle::open("no-such-ns");
    REQUIRE_FALSE(ns.ok());
    // Without root, a note that /run/netns could not be searched follows.
    CHECK(ns.error().starts_with(
        "network namespace 'no-such-ns' not found: no /run/netns/no-such-ns, no such file, not a PID"));
    auto path = NetnsHandle::open("/no/such/file");
    REQUIRE_FALSE(path.ok());
    CHECK(path.error().starts_with("network namespace file '/no/such/file' not found"));
    CHECK_FALSE(NetnsHandle::open("999999999").ok());
}

TEST_CASE("a file that is not a network namespace is refused", "[netns]") {
    auto ns = NetnsHandle::open("/etc/passwd");
    REQUIRE_FALSE(ns.ok());
    CHECK(ns.error().find("not a network namespace") != std::string::npos);
    auto mnt = NetnsHandle::open("/proc/self/ns/mnt");
    REQUIRE_FALSE(mnt.ok());
    CHECK(mnt.error().find("not a network namespace") != std::string::npos);
}
