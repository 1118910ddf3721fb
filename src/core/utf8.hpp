// Internal: UTF-8 helpers shared by schema validation and policy constraints.
#pragma once

#include <cstddef>
#include <string_view>

namespace rein::utf8 {

// Number of Unicode code points in `s` (continuation bytes are not counted; malformed
// sequences count one per lead or stray byte, so the result never exceeds s.size()).
inline std::size_t code_points(std::string_view s) noexcept {
  std::size_t count = 0;
  for (char c : s)
    count += (static_cast<unsigned char>(c) & 0xC0u) != 0x80u ? 1u : 0u;
  return count;
}

}  // namespace rein::utf8
