#include "render/json_object.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace wgbpf {

void write_json_string(JsonWriter& w, std::string_view s) {
    // Printable ASCII is copied as is, but for '"' and '\\' that RapidJSON escapes as nlohmann does. Control
    // characters (RapidJSON writes \u001F where nlohmann writes \u001f) and bytes >= 0x80 (UTF-8 to check)
    // are rare: nlohmann's own escaping keeps them exactly as they were.
    bool quotes = false, other = false;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        quotes |= c == '"' || c == '\\';
        other |= u < 0x20 || u >= 0x80;
    }
    if (!quotes && !other) {
        w.Unescaped(s);
        return;
    }
    if (!other) {
        w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
        return;
    }
    std::string escaped = nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    w.RawValue(escaped.data(), escaped.size(), rapidjson::kStringType);
}

void JsonObject::out_of_order(std::string_view k) const {
    throw std::logic_error(
        fmt::format("JSON key \"{}\" after \"{}\": keys go in byte order (as nlohmann printed them)", k, last_));
}

void JsonObject::write_merged(const JsonScalar& f) {
    check_order(f.key);
    w_.Unescaped(f.key);
    switch (f.type) {
    case JsonScalar::Type::null: w_.Null(); break;
    case JsonScalar::Type::uint: w_.Uint64(f.number); break;
    case JsonScalar::Type::string: write_json_string(w_, f.text); break;
    }
}

void JsonObject::write_merged_before(std::string_view k) {
    while (!merged_.empty() && merged_.front().key < k) {
        write_merged(merged_.front());
        merged_ = merged_.subspan(1);
    }
}

void JsonObject::name(std::string_view k, std::string_view v) {
    if (v.empty()) null(k);
    else str(k, v);
}

void JsonObject::opt(std::string_view k, const std::optional<uint64_t>& v) {
    if (v) uint(k, *v);
    else null(k);
}

void JsonObject::strings(std::string_view k, const std::vector<std::string>& v) {
    JsonWriter& w = key(k);
    w.StartArray();
    for (const std::string& s : v) write_json_string(w, s);
    w.EndArray();
}

void JsonObject::end() {
    for (const JsonScalar& f : merged_) write_merged(f); // all that is left
    merged_ = {};
    w_.EndObject();
}

} // namespace wgbpf
