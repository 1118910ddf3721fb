// rein::Principal: who a run acts for — an id and the roles policy rules are written against.
//
// Thread safety: a plain value.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace rein {

struct Principal {
  std::string id{};
  std::vector<std::string> roles{};

  bool has_role(std::string_view role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  }
  // True when `wanted` is empty or the principal holds at least one of its roles.
  bool has_any_role(const std::vector<std::string>& wanted) const {
    if (wanted.empty()) return true;
    return std::any_of(wanted.begin(), wanted.end(),
                       [this](const std::string& r) { return has_role(r); });
  }

  friend bool operator==(const Principal&, const Principal&) = default;
};

}  // namespace rein
