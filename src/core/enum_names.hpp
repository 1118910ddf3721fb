// Internal: stable names for enums, both ways.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace rein::detail {

template <typename Enum, std::size_t N>
struct EnumNames {
  std::array<std::pair<Enum, std::string_view>, N> entries;

  constexpr std::string_view name(Enum value) const noexcept {
    for (const auto& [e, n] : entries) {
      if (e == value) return n;
    }
    return entries[0].second;  // unreachable for valid enumerators
  }
  constexpr std::optional<Enum> parse(std::string_view text) const noexcept {
    for (const auto& [e, n] : entries) {
      if (n == text) return e;
    }
    return std::nullopt;
  }
};

template <typename Enum, typename... Pairs>
constexpr auto enum_names(Pairs... pairs) {
  return EnumNames<Enum, sizeof...(Pairs)>{{{pairs...}}};
}

}  // namespace rein::detail
