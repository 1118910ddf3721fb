// Internal: glob matching for tool names (* any run of characters, ? exactly one).
#pragma once

#include <string_view>

namespace rein::detail {

inline bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

inline bool is_glob(std::string_view pattern) noexcept {
  return pattern.find_first_of("*?") != std::string_view::npos;
}

}  // namespace rein::detail
