// rein::PolicyEngine: who may call which tool with which arguments, within which budgets.
//
// Deny by default. A rule matches a call when its tool matcher matches the tool name, the
// principal holds at least one of its roles (no roles: anyone), and every argument constraint
// holds. Among the matching rules the first in this order decides:
//   1. higher `priority` first;
//   2. at equal priority, deny before require_approval before allow;
//   3. then the order the rules were given in.
// No matching rule: deny, with rule id "default_deny". A call that rules allow (or send for
// approval) is still denied when a budget or rate limit has no room; such decisions have
// `budget_exhausted` set and a rule id starting "budget." or "rate_limit.".
//
// The overload taking a ToolSpec also requires the principal to hold one of the spec's
// `permissions` (rule id "permissions") before any rule is consulted.
//
// Label conditions (integrity, level_at_most, level_above) look at where an argument came from
// rather than at its value: the ValueLabels the runtime passes with every call (labels.hpp).
// A decision made by such a condition names the flow in its reason ("/to: untrusted, from
// tool:web.fetch"); so does a default denial when an allow rule failed only on one. The
// overloads without labels treat every argument as trusted and public.
//
// Rules see arguments as given; the runtime validates them against the tool's schema first.
// Write allow rules narrowly: a constraint on a value of the wrong type simply fails to match,
// which denies under an allow rule but would skip a deny rule.
//
// The engine is immutable once built; copies share it. decide() is a pure function of
// (policy, tool, arguments, principal, usage). Patterns use RE2 (linear time), full-match.
//
// Thread safety: every const member may be called from any number of threads at once.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/budget.hpp"
#include "rein/error.hpp"
#include "rein/labels.hpp"
#include "rein/principal.hpp"
#include "rein/tool.hpp"

namespace rein {

enum class Decision { allow, deny, require_approval };
std::string_view to_string(Decision decision) noexcept;
std::optional<Decision> decision_from_string(std::string_view name) noexcept;

struct PolicyDecision {
  Decision decision = Decision::deny;
  std::string
      rule{};  // the deciding rule's id, or default_deny / budget.* / rate_limit.* / permissions
  std::string reason{};  // readable explanation
  bool budget_exhausted = false;

  bool allowed() const noexcept { return decision == Decision::allow; }
  // {"decision": ..., "rule": ..., "reason": ...}
  nlohmann::json to_json() const;
};

struct ToolMatch {
  enum class Kind { exact, glob, regex };
  Kind kind = Kind::exact;
  std::string pattern{};  // glob: * any run of characters, ? one character

  static ToolMatch exact(std::string name) { return {Kind::exact, std::move(name)}; }
  static ToolMatch glob(std::string pattern) { return {Kind::glob, std::move(pattern)}; }
  static ToolMatch regex(std::string pattern) { return {Kind::regex, std::move(pattern)}; }
  friend bool operator==(const ToolMatch&, const ToolMatch&) = default;
};

// Where a URL argument may point, compared in canonical form (see ArgConstraint::url_in).
struct UrlSet {
  std::vector<std::string> schemes{};  // e.g. {"https"}; at least one
  std::vector<std::string> hosts{};    // "api.example.com" or "*.example.com"; at least one
  std::vector<int> ports{};            // empty: only the scheme's default port
  std::string path_prefix{};           // whole segments: "/v1/" or "/v1"; "" for any path
  friend bool operator==(const UrlSet&, const UrlSet&) = default;
};

// A condition on the argument at `pointer` (a JSON pointer, e.g. "/deck_spec/account_id").
//
// path_under and url_in compare canonical forms, so spelling cannot sidestep them: a path is
// lexically normalised ("//", "." and ".." resolved; ".." never climbs above the root) and must
// be absolute; a URL's scheme and host are lower-cased, its default port made explicit, its
// path's unreserved escapes decoded and dot segments removed. A string that cannot be read
// unambiguously (a relative path, user information in a URL, an encoded slash, "a//b", ";"
// parameters, non-ASCII) fails closed: the constraint holds under a deny rule and fails under
// any other, so such a value is never let through by these operators.
//
// The label conditions hold whether or not the argument is present (its label is that of the
// parts containing it and inside it): trusted / untrusted on integrity; level_at_most on every
// level of the label ranking at most `level` in PolicySpec::levels, level_above on any ranking
// higher. A level the policy does not list ranks above all of them.
struct ArgConstraint {
  enum class Kind {
    equals,
    one_of,
    regex,
    range,
    max_length,
    present,
    absent,
    path_under,
    url_in,
    trusted,
    untrusted,
    level_at_most,
    level_above,
  };
  std::string pointer{};
  Kind kind = Kind::present;
  nlohmann::json value{};                // equals
  std::vector<nlohmann::json> values{};  // one_of
  std::string pattern{};                 // regex (RE2, full match, strings only)
  std::optional<double> min{}, max{};    // range (inclusive, numbers only)
  std::size_t max_length = 0;            // max_length (code points of a string, items of an array)
  std::string folder{};                  // path_under (absolute)
  UrlSet urls{};                         // url_in
  std::string level{};                   // level_at_most, level_above

  static ArgConstraint equals(std::string pointer, nlohmann::json value);
  static ArgConstraint one_of(std::string pointer, std::vector<nlohmann::json> values);
  static ArgConstraint regex(std::string pointer, std::string pattern);
  static ArgConstraint range(std::string pointer, std::optional<double> min,
                             std::optional<double> max);
  static ArgConstraint length_at_most(std::string pointer, std::size_t max_length);
  // A string naming a path inside `folder` (or `folder` itself), by whole components.
  static ArgConstraint path_under(std::string pointer, std::string folder);
  // A string naming a URL with one of the schemes, hosts and ports, under the path prefix.
  static ArgConstraint url_in(std::string pointer, UrlSet urls);
  static ArgConstraint present(std::string pointer);
  static ArgConstraint absent(std::string pointer);
  // Label conditions: the value at `pointer` derives only from trusted content / from some
  // untrusted content; holds no data above `level` / holds some.
  static ArgConstraint trusted(std::string pointer);
  static ArgConstraint untrusted(std::string pointer);
  static ArgConstraint level_at_most(std::string pointer, std::string level);
  static ArgConstraint level_above(std::string pointer, std::string level);

  bool is_label_condition() const noexcept { return kind >= Kind::trusted; }
};

struct PolicyRule {
  std::string id{};  // unique within the policy
  std::string description{};
  int priority = 0;
  Decision decision = Decision::deny;
  ToolMatch tool{};
  std::vector<std::string> roles{};   // any of these; empty: any principal
  std::vector<ArgConstraint> args{};  // all must hold
};

struct PolicySpec {
  std::vector<PolicyRule> rules{};
  // Confidentiality levels, lowest first (e.g. {"public", "internal", "secret"}); label
  // conditions may name only these.
  std::vector<std::string> levels{};
  Budgets budgets{};
  std::vector<RateLimit> rate_limits{};
};

class PolicyEngine {
 public:
  // An engine with no rules: denies everything.
  PolicyEngine();

  // Validates and compiles `spec`; an error names the rule and the field at fault.
  static Result<PolicyEngine> create(PolicySpec spec);
  // The JSON format is documented in docs/policy.md. A malformed policy is rejected whole.
  static Result<PolicyEngine> from_json(const nlohmann::json& policy);
  static Result<PolicyEngine> from_file(const std::filesystem::path& path);

  PolicyDecision decide(std::string_view tool, const nlohmann::json& args,
                        const Principal& principal, const Usage& usage) const;
  PolicyDecision decide(const ToolSpec& spec, const nlohmann::json& args,
                        const Principal& principal, const Usage& usage) const;
  // The same with the labels of the arguments (what the runtime calls).
  PolicyDecision decide(std::string_view tool, const nlohmann::json& args,
                        const ValueLabels& labels, const Principal& principal,
                        const Usage& usage) const;
  PolicyDecision decide(const ToolSpec& spec, const nlohmann::json& args, const ValueLabels& labels,
                        const Principal& principal, const Usage& usage) const;

  // Why each rule that names `tool` did or did not match, in evaluation order: for people
  // (`rein policy check --explain`). {"rule", "decision", "matched", "failed": "<why>"}.
  nlohmann::json explain(std::string_view tool, const nlohmann::json& args,
                         const ValueLabels& labels, const Principal& principal) const;

  // The run-level budgets (steps, tool calls, tokens, cost, wall time): a deny decision when
  // one has no room left for another step, nullopt otherwise.
  std::optional<PolicyDecision> check_run_budgets(const Usage& usage) const;
  // A model call expected to use `tokens` tokens and cost `cost`, checked before it is sent: a
  // deny decision (rule budget.max_tokens or budget.max_cost) when usage plus the call would
  // go over the token or cost budget, nullopt otherwise.
  std::optional<PolicyDecision> check_llm_call(const Usage& usage, std::int64_t tokens,
                                               double cost) const;
  // The same check against any budget (PolicyEngine::check_llm_call passes the policy's).
  static std::optional<PolicyDecision> check_llm_call(const LlmBudget& budget, const Usage& usage,
                                                      std::int64_t tokens, double cost);

  const PolicySpec& spec() const;
  nlohmann::json to_json() const;  // the documented format; from_json(to_json()) round-trips
  std::chrono::milliseconds longest_rate_window() const;

 private:
  struct Compiled;
  explicit PolicyEngine(std::shared_ptr<const Compiled> compiled)
      : compiled_(std::move(compiled)) {}
  std::optional<PolicyDecision> check_call_budgets(std::string_view tool, const Usage& usage) const;
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace rein
