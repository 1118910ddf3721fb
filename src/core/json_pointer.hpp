// Internal: pre-parsed JSON pointers, resolved without exceptions or allocation.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace rein::detail {

// One reference token as a pointer writes it: "b/c" becomes "b~1c", "~" becomes "~0".
inline std::string escape_json_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// Splits "/a/b~1c" into {"a", "b/c"}; nullopt when not a valid JSON pointer.
inline std::optional<std::vector<std::string>> parse_json_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer.front() != '/') return std::nullopt;
  std::string current;
  for (std::size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(current));
      current.clear();
      continue;
    }
    char c = pointer[i];
    if (c == '~') {
      if (i + 1 >= pointer.size()) return std::nullopt;
      const char next = pointer[++i];
      if (next == '0') {
        c = '~';
      } else if (next == '1') {
        c = '/';
      } else {
        return std::nullopt;
      }
    }
    current.push_back(c);
  }
  return tokens;
}

// The value at `tokens` inside `root`, or nullptr when absent.
inline const nlohmann::json* resolve_json_pointer(const nlohmann::json& root,
                                                  const std::vector<std::string>& tokens) {
  const nlohmann::json* at = &root;
  for (const auto& token : tokens) {
    if (at->is_object()) {
      auto it = at->find(token);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else if (at->is_array()) {
      if (token.empty() || token.size() > 9 || (token.size() > 1 && token[0] == '0'))
        return nullptr;
      std::size_t index = 0;
      for (char c : token) {
        if (c < '0' || c > '9') return nullptr;
        index = index * 10 + static_cast<std::size_t>(c - '0');
      }
      if (index >= at->size()) return nullptr;
      at = &(*at)[index];
    } else {
      return nullptr;
    }
  }
  return at;
}

}  // namespace rein::detail
