#include "wgbpf/render/json_object.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace wgbpf {

void write_json_string(JsonWriter& w, std::string_view s) {
    // RapidJSON escapes '"' and '\\' as nlohmann does and copies other printable ASCII as is. Control
    // characters (RapidJSON writes \u001F where nlohmann writes \u001f) and bytes >= 0x80 (UTF-8 to check)
    // are rare: nlohmann's own escaping keeps them exactly as they were.
    bool plain = std::all_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u < 0x80;
    });
    if (plain) {
        w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
        return;
    }
    std::string escaped = nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    w.RawValue(escaped.data(), escaped.size(), rapidjson::kStringType);
}

void JsonObject::check_order(std::string_view k) {
    if (!last_.empty() && k <= last_)
        throw std::logic_error(fmt::format("JSON key \"{}\" after \"{}\": keys go in byte order (as nlohmann printed them)", k, last_));
    last_ = k;
}

void JsonObject::write_merged_before(std::optional<std::string_view> k) {
    while (!merged_.empty() && (!k || merged_.front().key < *k)) {
        const JsonScalar& f = merged_.front();
        check_order(f.key);
        w_.Key(f.key.data(), static_cast<rapidjson::SizeType>(f.key.size()));
        switch (f.type) {
        case JsonScalar::Type::null: w_.Null(); break;
        case JsonScalar::Type::uint: w_.Uint64(f.number); break;
        case JsonScalar::Type::string: write_json_string(w_, f.text); break;
        }
        merged_ = merged_.subspan(1);
    }
}

JsonWriter& JsonObject::key(std::string_view k) {
    write_merged_before(k);
    check_order(k);
    w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    return w_;
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
    write_merged_before(std::nullopt); // all that is left
    w_.EndObject();
}

} // namespace wgbpf
