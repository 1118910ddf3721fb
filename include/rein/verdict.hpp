// rein::Verdict: what the critic concluded about a result or an answer.
//
// Thread safety: a plain value.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace rein {

// Ordered by severity, mildest first; combining verdicts keeps the most severe kind and every
// reason.
enum class VerdictKind {
  accept,        // good: use it
  retry,         // try the same call again (the reasons say why)
  needs_review,  // cannot be verified: flag it for a person, never pass it off as done
  replan,        // this approach will not work: ask the planner for another
  fail,          // stop the run
};

std::string_view to_string(VerdictKind kind) noexcept;
std::optional<VerdictKind> verdict_kind_from_string(std::string_view name) noexcept;

struct Verdict {
  VerdictKind kind = VerdictKind::accept;
  std::vector<std::string> reasons{};

  static Verdict accept() { return {}; }
  static Verdict retry(std::string reason) { return {VerdictKind::retry, {std::move(reason)}}; }
  static Verdict needs_review(std::vector<std::string> issues) {
    return {VerdictKind::needs_review, std::move(issues)};
  }
  static Verdict replan(std::string reason) { return {VerdictKind::replan, {std::move(reason)}}; }
  static Verdict fail(std::string reason) { return {VerdictKind::fail, {std::move(reason)}}; }

  bool accepted() const noexcept { return kind == VerdictKind::accept; }
  // Folds `other` in: the more severe kind wins; reasons accumulate.
  void merge(const Verdict& other);

  nlohmann::json to_json() const;
  friend bool operator==(const Verdict&, const Verdict&) = default;
};

}  // namespace rein
