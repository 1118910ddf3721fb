#include "rein/verdict.hpp"

#include <algorithm>
#include <array>

namespace rein {
namespace {
constexpr std::array<std::pair<VerdictKind, std::string_view>, 5> kNames{{
    {VerdictKind::accept, "accept"},
    {VerdictKind::retry, "retry"},
    {VerdictKind::needs_review, "needs_review"},
    {VerdictKind::replan, "replan"},
    {VerdictKind::fail, "fail"},
}};
}  // namespace

std::string_view to_string(VerdictKind kind) noexcept {
  for (const auto& [k, name] : kNames) {
    if (k == kind) return name;
  }
  return "fail";
}

std::optional<VerdictKind> verdict_kind_from_string(std::string_view name) noexcept {
  for (const auto& [k, n] : kNames) {
    if (n == name) return k;
  }
  return std::nullopt;
}

void Verdict::merge(const Verdict& other) {
  kind = std::max(kind, other.kind);
  reasons.insert(reasons.end(), other.reasons.begin(), other.reasons.end());
}

nlohmann::json Verdict::to_json() const {
  return {{"kind", rein::to_string(kind)}, {"reasons", reasons}};
}

}  // namespace rein
