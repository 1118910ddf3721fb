// Internal: strict reading of JSON objects into structs. The first problem is kept as an
// error naming where it is ("agent state: steps[2].result: field 'status' must be a string").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"

namespace rein::detail {

class JsonReader {
 public:
  using json = nlohmann::json;

  // `where` prefixes every error message.
  JsonReader(const json& object, std::string where) : object_(object), where_(std::move(where)) {
    if (!object_.is_object()) fail_here("must be an object");
  }

  bool ok() const { return !error_.has_value(); }
  Status status() const { return error_ ? Status(*error_) : Status(); }
  const std::string& where() const { return where_; }

  // The field, or nullptr (an error when required and missing).
  const json* field(const char* name, bool required) {
    if (!ok() || !object_.is_object()) return nullptr;
    auto it = object_.find(name);
    if (it == object_.end()) {
      if (required) fail(name, "is required");
      return nullptr;
    }
    return &*it;
  }

  void string(const char* name, std::string& out, bool required = true) {
    if (const json* v = field(name, required)) {
      if (!v->is_string()) return fail(name, "must be a string");
      out = v->get<std::string>();
    }
  }
  template <typename Int>
  void integer(const char* name, Int& out, bool required = true) {
    if (const json* v = field(name, required)) {
      if (!v->is_number_integer()) return fail(name, "must be an integer");
      out = static_cast<Int>(v->get<std::int64_t>());
    }
  }
  void number(const char* name, double& out, bool required = true) {
    if (const json* v = field(name, required)) {
      if (!v->is_number()) return fail(name, "must be a number");
      out = v->get<double>();
    }
  }
  void boolean(const char* name, bool& out, bool required = true) {
    if (const json* v = field(name, required)) {
      if (!v->is_boolean()) return fail(name, "must be a boolean");
      out = v->get<bool>();
    }
  }
  void any(const char* name, json& out, bool required = true) {
    if (const json* v = field(name, required)) out = *v;
  }
  void strings(const char* name, std::vector<std::string>& out, bool required = true) {
    if (const json* v = field(name, required)) {
      if (!v->is_array()) return fail(name, "must be an array of strings");
      out.clear();
      for (const auto& item : *v) {
        if (!item.is_string()) return fail(name, "must be an array of strings");
        out.push_back(item.get<std::string>());
      }
    }
  }
  // Each element through `parse(element, where)`.
  template <typename T>
  void array(const char* name, std::vector<T>& out,
             const std::function<Result<T>(const json&, const std::string&)>& parse,
             bool required = true) {
    if (const json* v = field(name, required)) {
      if (!v->is_array()) return fail(name, "must be an array");
      out.clear();
      for (std::size_t i = 0; i < v->size(); ++i) {
        auto item = parse((*v)[i], where_ + "." + name + "[" + std::to_string(i) + "]");
        if (!item) return set(std::move(item).error());
        out.push_back(std::move(*item));
      }
    }
  }
  // A field that may be absent or null.
  template <typename T>
  void optional(const char* name, std::optional<T>& out,
                const std::function<Result<T>(const json&, const std::string&)>& parse) {
    if (const json* v = field(name, false); v != nullptr && !v->is_null()) {
      auto item = parse(*v, where_ + "." + name);
      if (!item) return set(std::move(item).error());
      out = std::move(*item);
    }
  }

  void fail(const char* name, const std::string& what) {
    if (ok())
      error_ = Error(ErrorCode::invalid_argument, where_ + ": field '" + name + "' " + what);
  }
  void fail_here(const std::string& what) {
    if (ok()) error_ = Error(ErrorCode::invalid_argument, where_ + ": " + what);
  }
  void set(Error error) {
    if (ok()) error_ = std::move(error);
  }

 private:
  const json& object_;
  std::string where_;
  std::optional<Error> error_;
};

}  // namespace rein::detail
