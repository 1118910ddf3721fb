// Internal: writes a JSON object directly as canonical text — the exact bytes json_text()
// (nlohmann's dump, keys sorted) would give for the same object — without building a json
// value. Keys must be written in sorted order; tests check the output against json_text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/json_text.hpp"

namespace rein::detail {

class JsonObjectWriter {
 public:
  JsonObjectWriter() {
    text_.reserve(256);
    text_.push_back('{');
  }

  JsonObjectWriter& string(std::string_view key, std::string_view value) {
    begin(key);
    append_string(value);
    return *this;
  }
  JsonObjectWriter& integer(std::string_view key, std::int64_t value) {
    begin(key);
    text_ += std::to_string(value);
    return *this;
  }
  JsonObjectWriter& boolean(std::string_view key, bool value) {
    begin(key);
    text_ += value ? "true" : "false";
    return *this;
  }
  JsonObjectWriter& value(std::string_view key, const nlohmann::json& v) {
    begin(key);
    text_ += json_text(v);
    return *this;
  }
  // `json_text` must already be canonical JSON.
  JsonObjectWriter& raw(std::string_view key, std::string_view json_text) {
    begin(key);
    text_ += json_text;
    return *this;
  }
  JsonObjectWriter& strings(std::string_view key, const std::vector<std::string>& values) {
    begin(key);
    text_.push_back('[');
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) text_.push_back(',');
      append_string(values[i]);
    }
    text_.push_back(']');
    return *this;
  }

  std::string finish() {
    text_.push_back('}');
    return std::move(text_);
  }

 private:
  void begin(std::string_view key) {
    if (text_.size() > 1) text_.push_back(',');
    append_string(key);
    text_.push_back(':');
  }
  // Plain printable ASCII is copied as is; anything else goes through nlohmann's escaping so
  // the bytes always match json_text().
  void append_string(std::string_view s) {
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
        text_ += json_text(nlohmann::json(std::string(s)));
        return;
      }
    }
    text_.push_back('"');
    text_ += s;
    text_.push_back('"');
  }

  std::string text_;
};

}  // namespace rein::detail
