#pragma once
// Recoverable errors are values (Result); fatal ones are one exception type (FatalError), caught in main.
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <utility>
#include <variant>

namespace wgbpf {

struct Error {
    std::string message;
};

template <typename T>
class Result;

// The error of a failed Result, to carry on as another Result's: `if (!r) return r;`. A success has none.
template <typename R>
Error failure_of(const R& failed) {
    if (failed.ok()) throw std::logic_error("a successful result passed on as a failure");
    return Error{failed.error()};
}

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error e) : v_(std::move(e)) {}
    // Another Result's failure, passed on (`if (!r) return r;`).
    template <typename U>
    requires(!std::is_same_v<U, T>) Result(const Result<U>& failed) : v_(failure_of(failed)) {}
    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<T>(v_); }
    const T& value() const { return std::get<T>(v_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const std::string& error() const { return std::get<Error>(v_).message; }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : err_(std::move(e.message)), failed_(true) {}
    template <typename U>
    Result(const Result<U>& failed) : err_(failure_of(failed).message), failed_(true) {}
    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const std::string& error() const { return err_; }

private:
    std::string err_;
    bool failed_ = false;
};

// What kind of failure ended the run: main maps it to its documented exit code (exit_code_of).
enum class ErrorKind : uint8_t {
    failure,       // the kernel refused, netlink failed, a file could not be read or written
    usage,         // wrong flags or arguments
    no_privileges, // missing capabilities
    not_found,     // a namespace, interface or file that does not exist
};

// Unrecoverable: printed by main, its kind carried along.
class FatalError : public std::runtime_error {
public:
    explicit FatalError(const std::string& what, ErrorKind kind = ErrorKind::failure)
        : std::runtime_error(what), kind_(kind) {}
    ErrorKind kind() const { return kind_; }

private:
    ErrorKind kind_;
};

} // namespace wgbpf
