// Internal: writes a JSON object directly as canonical text — the exact bytes json_text()
// (nlohmann's dump, keys sorted) would give for the same object — without building a json
// value. Keys must be written in sorted order (bytewise, as std::string compares them).
//
// The order is checked: every writer here compares each key with the one before it and throws
// std::logic_error when it is not greater. The check is on by default in builds without
// NDEBUG; set_json_key_order_checks() turns it on or off (the test programs turn it on in
// every build), and it costs one relaxed load per key when off.
//
// JsonObjectWriter, JsonTreeWriter (the same calls, building a nlohmann::json) and FieldMerge
// (one type's fields inside a larger object) share their calls, so a type's field list, written
// once as a template over the writer (see core/value_fields.hpp), gives every form.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_text.hpp"

namespace rein::detail {

extern std::atomic<bool> g_json_key_order_checks;
inline void set_json_key_order_checks(bool on) noexcept {
  g_json_key_order_checks.store(on, std::memory_order_relaxed);
}
inline bool json_key_order_checks() noexcept {
  return g_json_key_order_checks.load(std::memory_order_relaxed);
}

// The keys of one object so far, as far as the order check needs them.
class KeyOrder {
 public:
  void next(std::string_view key) {
    if (json_key_order_checks()) check(key);
  }

 private:
  void check(std::string_view key);  // throws std::logic_error when `key` is not after the last
  std::string last_;
  bool seen_ = false;
};

// Appends the canonical text of a string value, quotes included. Plain printable ASCII is
// copied as is; anything else goes through nlohmann's escaping so the bytes always match
// json_text().
inline void append_json_string(std::string& out, std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += json_text(nlohmann::json(std::string(s)));
      return;
    }
  }
  out.push_back('"');
  out += s;
  out.push_back('"');
}
inline std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

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
  // A nested object, written in place: `fields(*this)` writes its fields.
  template <typename Fields>
  JsonObjectWriter& object(std::string_view key, Fields&& fields) {
    begin(key);
    nested([&] { fields(*this); });
    return *this;
  }
  // An array of nested objects: `fields(*this, item)` writes each item's fields.
  template <typename Range, typename Fields>
  JsonObjectWriter& objects(std::string_view key, const Range& items, Fields&& fields) {
    begin(key);
    text_.push_back('[');
    bool first = true;
    for (const auto& item : items) {
      if (!first) text_.push_back(',');
      first = false;
      nested([&] { fields(*this, item); });
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
    order_.next(key);
    if (!first_) text_.push_back(',');
    first_ = false;
    append_string(key);
    text_.push_back(':');
  }
  template <typename Write>
  void nested(Write&& write) {
    KeyOrder outer = std::exchange(order_, KeyOrder());
    text_.push_back('{');
    first_ = true;
    write();
    text_.push_back('}');
    first_ = false;
    order_ = std::move(outer);
  }
  void append_string(std::string_view s) { append_json_string(text_, s); }

  std::string text_;
  bool first_ = true;
  KeyOrder order_;
};

// The same calls, building a nlohmann::json object (what public to_json() functions return).
class JsonTreeWriter {
 public:
  JsonTreeWriter& string(std::string_view key, std::string_view value) {
    return set(key, std::string(value));
  }
  JsonTreeWriter& integer(std::string_view key, std::int64_t value) { return set(key, value); }
  JsonTreeWriter& boolean(std::string_view key, bool value) { return set(key, value); }
  JsonTreeWriter& value(std::string_view key, const nlohmann::json& v) { return set(key, v); }
  JsonTreeWriter& raw(std::string_view key, std::string_view json_text) {
    return set(key, nlohmann::json::parse(json_text));
  }
  JsonTreeWriter& strings(std::string_view key, const std::vector<std::string>& values) {
    return set(key, values);
  }
  template <typename Fields>
  JsonTreeWriter& object(std::string_view key, Fields&& fields) {
    JsonTreeWriter inner;
    fields(inner);
    return set(key, inner.finish());
  }
  template <typename Range, typename Fields>
  JsonTreeWriter& objects(std::string_view key, const Range& items, Fields&& fields) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& item : items) {
      JsonTreeWriter inner;
      fields(inner, item);
      array.push_back(inner.finish());
    }
    return set(key, std::move(array));
  }

  nlohmann::json finish() { return std::move(json_); }

 private:
  JsonTreeWriter& set(std::string_view key, nlohmann::json v) {
    order_.next(key);
    json_[std::string(key)] = std::move(v);
    return *this;
  }

  nlohmann::json json_ = nlohmann::json::object();
  KeyOrder order_;
};

// A field written from text already canonical (e.g. a json_string(), or a nested value's text).
struct RawField {
  std::string_view key;
  std::string_view text;  // "": the field is left out
};

// One type's field list written into a larger object: the keys in `omit` are left out, and each
// of `extra` (sorted by key) is written where its key sorts among the type's keys. Call done()
// after the type's fields, to write the extra fields that sort after all of them.
class FieldMerge {
 public:
  FieldMerge(JsonObjectWriter& out, std::span<const std::string_view> omit,
             std::span<const RawField> extra = {})
      : out_(out), omit_(omit), extra_(extra) {}

  FieldMerge& string(std::string_view key, std::string_view v) {
    return take(key) ? (out_.string(key, v), *this) : *this;
  }
  FieldMerge& integer(std::string_view key, std::int64_t v) {
    return take(key) ? (out_.integer(key, v), *this) : *this;
  }
  FieldMerge& boolean(std::string_view key, bool v) {
    return take(key) ? (out_.boolean(key, v), *this) : *this;
  }
  FieldMerge& value(std::string_view key, const nlohmann::json& v) {
    return take(key) ? (out_.value(key, v), *this) : *this;
  }
  FieldMerge& raw(std::string_view key, std::string_view v) {
    return take(key) ? (out_.raw(key, v), *this) : *this;
  }
  FieldMerge& strings(std::string_view key, const std::vector<std::string>& v) {
    return take(key) ? (out_.strings(key, v), *this) : *this;
  }
  template <typename Fields>
  FieldMerge& object(std::string_view key, Fields&& fields) {
    if (take(key)) out_.object(key, std::forward<Fields>(fields));
    return *this;
  }
  template <typename Range, typename Fields>
  FieldMerge& objects(std::string_view key, const Range& items, Fields&& fields) {
    if (take(key)) out_.objects(key, items, std::forward<Fields>(fields));
    return *this;
  }

  void done() { extras_before(std::string_view(), true); }

 private:
  bool take(std::string_view key) {
    extras_before(key, false);
    return std::find(omit_.begin(), omit_.end(), key) == omit_.end();
  }
  void extras_before(std::string_view key, bool all) {
    for (; next_ < extra_.size() && (all || extra_[next_].key < key); ++next_) {
      if (!extra_[next_].text.empty()) out_.raw(extra_[next_].key, extra_[next_].text);
    }
  }

  JsonObjectWriter& out_;
  std::span<const std::string_view> omit_;
  std::span<const RawField> extra_;
  std::size_t next_ = 0;
};

}  // namespace rein::detail
