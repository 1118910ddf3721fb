#include "rein/verdict.hpp"

#include <algorithm>
#include "core/enum_names.hpp"
#include "core/value_fields.hpp"

namespace rein {
namespace {
constexpr auto kNames = detail::enum_names<VerdictKind>(
    std::pair{VerdictKind::accept, std::string_view("accept")},
    std::pair{VerdictKind::retry, std::string_view("retry")},
    std::pair{VerdictKind::needs_review, std::string_view("needs_review")},
    std::pair{VerdictKind::replan, std::string_view("replan")},
    std::pair{VerdictKind::fail, std::string_view("fail")});
}  // namespace

std::string_view to_string(VerdictKind kind) noexcept {
  return kNames.name(kind);
}

std::optional<VerdictKind> verdict_kind_from_string(std::string_view name) noexcept {
  return kNames.parse(name);
}

void Verdict::merge(const Verdict& other) {
  kind = std::max(kind, other.kind);
  reasons.insert(reasons.end(), other.reasons.begin(), other.reasons.end());
}

nlohmann::json Verdict::to_json() const {
  return detail::canonical_json(*this);
}

}  // namespace rein
