#pragma once
// Reading JSON written by wgbpf itself (recordings), with errors that say where: a field path and what was
// expected. Parsers throw JsonShapeError internally; read_json() turns it into a Result at the boundary, so
// no exception leaves the record module.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/ip_address.hpp"
#include "common/result.hpp"

namespace wgbpf::record_detail {

struct JsonShapeError {
    std::string message;
};

class JsonIn {
public:
    JsonIn(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw JsonShapeError{(path_.empty() ? std::string("top level") : path_) + ": " + what};
    }

    const nlohmann::json& raw() const { return j_; }
    const std::string& path() const { return path_; }

    JsonIn at(const char* key) const {
        if (!j_.is_object()) fail("expected an object");
        auto it = j_.find(key);
        if (it == j_.end()) JsonIn(j_, child(key)).fail("missing");
        return JsonIn(*it, child(key));
    }

    // Absent and null both mean "not set".
    std::optional<JsonIn> maybe(const char* key) const {
        if (!j_.is_object()) fail("expected an object");
        auto it = j_.find(key);
        if (it == j_.end() || it->is_null()) return std::nullopt;
        return JsonIn(*it, child(key));
    }

    std::vector<JsonIn> items() const {
        if (!j_.is_array()) fail("expected an array");
        std::vector<JsonIn> out;
        out.reserve(j_.size());
        for (size_t i = 0; i < j_.size(); ++i) out.emplace_back(j_[i], path_ + "[" + std::to_string(i) + "]");
        return out;
    }

    std::vector<std::pair<std::string, JsonIn>> members() const {
        if (!j_.is_object()) fail("expected an object");
        std::vector<std::pair<std::string, JsonIn>> out;
        for (auto it = j_.begin(); it != j_.end(); ++it)
            out.emplace_back(it.key(), JsonIn(it.value(), child(it.key())));
        return out;
    }

    // Parsed text gives unsigned numbers; JSON built in memory from signed values holds them as integers.
    template <typename T>
    T unsigned_int() const {
        bool fits = j_.is_number_unsigned() ? j_.get<uint64_t>() <= std::numeric_limits<T>::max()
                    : j_.is_number_integer()
                        ? j_.get<int64_t>() >= 0 && uint64_t(j_.get<int64_t>()) <= std::numeric_limits<T>::max()
                        : false;
        if (!fits) fail("expected an unsigned integer up to " + std::to_string(std::numeric_limits<T>::max()));
        return static_cast<T>(j_.get<uint64_t>());
    }

    template <typename T>
    T signed_int() const {
        constexpr int64_t lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
        bool fits = j_.is_number_unsigned()  ? j_.get<uint64_t>() <= uint64_t(hi)
                    : j_.is_number_integer() ? j_.get<int64_t>() >= lo && j_.get<int64_t>() <= hi
                                             : false;
        if (!fits) fail("expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
        return static_cast<T>(j_.get<int64_t>());
    }

    std::string string() const {
        if (!j_.is_string()) fail("expected a string");
        return j_.get<std::string>();
    }

    bool boolean() const {
        if (!j_.is_boolean()) fail("expected true or false");
        return j_.get<bool>();
    }

    std::vector<std::string> strings() const {
        std::vector<std::string> out;
        for (const JsonIn& item : items()) out.push_back(item.string());
        return out;
    }

    Family family() const {
        uint8_t f = unsigned_int<uint8_t>();
        if (f != 4 && f != 6) fail("expected an address family, 4 or 6");
        return Family(f);
    }

    IpAddress address() const {
        auto a = IpAddress::parse(string());
        if (!a) fail("expected an IP address, got '" + string() + "'");
        return *a;
    }

    // Always written as "ADDRESS/LENGTH" (IpPrefix::to_string says "default" for /0).
    IpPrefix prefix() const {
        auto p = IpPrefix::parse(string());
        if (!p || string().find('/') == std::string::npos) fail("expected ADDRESS/LENGTH, got '" + string() + "'");
        return *p;
    }

    // Object keys are strings; numeric tables ({"2": "main"}) key by the decimal number.
    template <typename T>
    static T key_number(const JsonIn& where, const std::string& key) {
        uint64_t v = 0;
        if (key.empty() || key.size() > 20) where.fail("expected a number as key");
        for (char c : key) {
            if (c < '0' || c > '9') where.fail("expected a number as key");
            uint64_t next = v * 10 + uint64_t(c - '0');
            if (next / 10 != v) where.fail("key out of range");
            v = next;
        }
        if (v > std::numeric_limits<T>::max()) where.fail("key out of range");
        return static_cast<T>(v);
    }

private:
    std::string child(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
    const nlohmann::json& j_;
    std::string path_;
};

inline std::string prefix_text(const IpPrefix& p) { return p.address.to_string() + "/" + std::to_string(p.length); }

// Runs a parser over j; shape errors and anything nlohmann throws become "WHAT: FIELD: PROBLEM".
template <typename T, typename Parse>
Result<T> read_json(const nlohmann::json& j, const std::string& what, Parse parse) {
    try {
        return parse(JsonIn(j, ""));
    } catch (const JsonShapeError& e) {
        return Error{what + ": " + e.message};
    } catch (const std::exception& e) {
        return Error{what + ": " + e.what()};
    }
}

} // namespace wgbpf::record_detail
