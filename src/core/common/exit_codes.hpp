#pragma once
#include "common/result.hpp"

// Documented in README.md ("Exit codes").
namespace wgbpf::exit_code {
constexpr int ok = 0;
constexpr int failure = 1;       // runtime error (kernel refused, netlink failed, ...)
constexpr int usage = 2;         // wrong flags or arguments
constexpr int no_privileges = 3; // missing capabilities
constexpr int not_found = 4;     // namespace or interface does not exist
} // namespace wgbpf::exit_code
namespace wgbpf::exit_code {
constexpr int findings = 5; // `diagnose` found something to change
} // namespace wgbpf::exit_code

namespace wgbpf {
constexpr int exit_code_of(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::failure: return exit_code::failure;
    case ErrorKind::usage: return exit_code::usage;
    case ErrorKind::no_privileges: return exit_code::no_privileges;
    case ErrorKind::not_found: return exit_code::not_found;
    }
    return exit_code::failure;
}
} // namespace wgbpf
