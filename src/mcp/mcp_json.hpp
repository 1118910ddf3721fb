// Internal: reading fields of what an MCP peer sent without trusting their types. nlohmann's
// value() throws when a field has another type than its default; these fall back instead.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace rein::detail {

// object[key] when it is a string, else `fallback`.
inline std::string string_field(const nlohmann::json& object, const char* key,
                                std::string fallback = {}) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// object[key] when it is an object, else an empty object.
inline nlohmann::json object_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return nlohmann::json::object();
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : nlohmann::json::object();
}

}  // namespace rein::detail
