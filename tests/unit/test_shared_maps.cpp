#include <catch2/catch_test_macros.hpp>

#include <fcntl.h>
#include <unistd.h>

#include "loader/shared_maps.hpp"

using namespace wgbpf;

namespace {
bool open_fd(int fd) { return fd >= 0 && ::fcntl(fd, F_GETFD) != -1; }
} // namespace

// The first object to load makes the shared maps; when it then fails (an attach refused), its skeleton closes its
// own fds. The shared maps must live on in fds of their own, never in numbers that are closed or reused by then.
TEST_CASE("shared maps outlive the object that made them: adopted as duplicated fds, closed with their holder") {
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0); // any fd stands for a map's
    int made = pipe_fds[0];
    int kept = -1;
    {
        SharedMaps maps;
        REQUIRE(maps.adopt_fds(made, -1, -1, -1, -1, -1).ok());
        kept = maps.events.get();
        CHECK(kept != made);
        CHECK_FALSE(maps.losses.valid()); // none offered: none held
        ::close(made);                    // the object that made it goes
        int reused = ::dup(pipe_fds[1]);  // and its number is taken by something else
        CHECK(open_fd(kept));
        CHECK(kept != reused);
        CHECK((::fcntl(kept, F_GETFD) & FD_CLOEXEC) != 0);
        REQUIRE(maps.adopt_fds(pipe_fds[1], -1, -1, -1, -1, -1).ok());
        CHECK(maps.events.get() == kept); // the first held stays: a later object reuses it, never replaces it
        ::close(reused);
    }
    CHECK_FALSE(open_fd(kept)); // closed with its holder
    ::close(pipe_fds[1]);
}

TEST_CASE("a shared map that cannot be kept is an error, with the reason") {
    SharedMaps maps;
    auto r = maps.adopt_fds(-1, 1'000'000, -1, -1, -1, -1); // not an open fd
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("cannot keep the loss counters") == 0);
}
