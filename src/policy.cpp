#include "rein/policy.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>

#include <re2/re2.h>

#include "glob.hpp"
#include "json_pointer.hpp"
#include "utf8.hpp"

namespace rein {

using nlohmann::json;

namespace {

constexpr std::array<std::pair<Decision, std::string_view>, 3> kDecisionNames{{
    {Decision::allow, "allow"},
    {Decision::deny, "deny"},
    {Decision::require_approval, "require_approval"},
}};

// Deny outranks require_approval outranks allow at equal priority.
int severity(Decision d) {
  switch (d) {
    case Decision::deny: return 2;
    case Decision::require_approval: return 1;
    case Decision::allow: return 0;
  }
  return 2;
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

std::shared_ptr<const RE2> compile_regex(const std::string& pattern, std::string& error) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<RE2>(pattern, options);
  if (!re->ok()) {
    error = re->error();
    return nullptr;
  }
  return re;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  return out + "]";
}

}  // namespace

std::string_view to_string(Decision decision) noexcept {
  for (const auto& [d, name] : kDecisionNames) {
    if (d == decision) return name;
  }
  return "deny";
}

std::optional<Decision> decision_from_string(std::string_view name) noexcept {
  for (const auto& [d, n] : kDecisionNames) {
    if (n == name) return d;
  }
  return std::nullopt;
}

json PolicyDecision::to_json() const {
  return {{"decision", rein::to_string(decision)}, {"rule", rule}, {"reason", reason}};
}

ArgConstraint ArgConstraint::equals(std::string pointer, json value) {
  ArgConstraint c;
  c.pointer = std::move(pointer);
  c.kind = Kind::equals;
  c.value = std::move(value);
  return c;
}
ArgConstraint ArgConstraint::one_of(std::string pointer, std::vector<json> values) {
  ArgConstraint c;
  c.pointer = std::move(pointer);
  c.kind = Kind::one_of;
  c.values = std::move(values);
  return c;
}
ArgConstraint ArgConstraint::regex(std::string pointer, std::string pattern) {
  ArgConstraint c;
  c.pointer = std::move(pointer);
  c.kind = Kind::regex;
  c.pattern = std::move(pattern);
  return c;
}
ArgConstraint ArgConstraint::range(std::string pointer, std::optional<double> min,
                                   std::optional<double> max) {
  ArgConstraint c;
  c.pointer = std::move(pointer);
  c.kind = Kind::range;
  c.min = min;
  c.max = max;
  return c;
}
ArgConstraint ArgConstraint::length_at_most(std::string pointer, std::size_t max_length) {
  ArgConstraint c;
  c.pointer = std::move(pointer);
  c.kind = Kind::max_length;
  c.max_length = max_length;
  return c;
}
ArgConstraint ArgConstraint::present(std::string pointer) {
  ArgConstraint c;
  c.pointer = std::move(pointer);
  c.kind = Kind::present;
  return c;
}
ArgConstraint ArgConstraint::absent(std::string pointer) {
  ArgConstraint c;
  c.pointer = std::move(pointer);
  c.kind = Kind::absent;
  return c;
}

void Usage::record_call(std::string_view tool, std::int64_t at_millis,
                        std::chrono::milliseconds keep_window) {
  ++tool_calls;
  auto it = per_tool.find(tool);
  if (it == per_tool.end()) it = per_tool.emplace(std::string(tool), ToolUsage{}).first;
  ToolUsage& u = it->second;
  ++u.calls;
  if (keep_window.count() > 0) {
    const auto cutoff = at_millis - keep_window.count();
    std::erase_if(u.recent_call_millis, [cutoff](std::int64_t t) { return t <= cutoff; });
    u.recent_call_millis.push_back(at_millis);
  }
}

struct PolicyEngine::Compiled {
  struct Constraint {
    const ArgConstraint* source;
    std::vector<std::string> tokens;
    std::shared_ptr<const RE2> re;
  };
  struct Rule {
    const PolicyRule* source;
    std::shared_ptr<const RE2> tool_re;
    std::vector<Constraint> constraints;
    std::string reason;
  };

  PolicySpec spec;
  std::vector<Rule> ordered;  // evaluation order
  // Positions in `ordered`: rules naming one exact tool, by tool; and all other rules.
  std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>> exact;
  std::vector<std::uint32_t> patterned;
  std::chrono::milliseconds longest_window{0};

  bool tool_matches(const Rule& r, std::string_view tool) const {
    switch (r.source->tool.kind) {
      case ToolMatch::Kind::exact: return r.source->tool.pattern == tool;
      case ToolMatch::Kind::glob: return detail::glob_match(r.source->tool.pattern, tool);
      case ToolMatch::Kind::regex:
        return RE2::FullMatch(re2::StringPiece(tool.data(), tool.size()), *r.tool_re);
    }
    return false;
  }

  static bool constraint_holds(const Constraint& c, const json& args) {
    const json* v = detail::resolve_json_pointer(args, c.tokens);
    const ArgConstraint& a = *c.source;
    switch (a.kind) {
      case ArgConstraint::Kind::present: return v != nullptr;
      case ArgConstraint::Kind::absent: return v == nullptr;
      case ArgConstraint::Kind::equals: return v != nullptr && *v == a.value;
      case ArgConstraint::Kind::one_of:
        return v != nullptr && std::find(a.values.begin(), a.values.end(), *v) != a.values.end();
      case ArgConstraint::Kind::regex:
        return v != nullptr && v->is_string() &&
               RE2::FullMatch(v->get_ref<const std::string&>(), *c.re);
      case ArgConstraint::Kind::range: {
        if (v == nullptr || !v->is_number()) return false;
        const double d = v->get<double>();
        return (!a.min || d >= *a.min) && (!a.max || d <= *a.max);
      }
      case ArgConstraint::Kind::max_length:
        if (v == nullptr) return false;
        if (v->is_string()) return utf8::code_points(v->get_ref<const std::string&>()) <= a.max_length;
        if (v->is_array()) return v->size() <= a.max_length;
        return false;
    }
    return false;
  }

  static bool rule_matches(const Rule& r, const json& args, const Principal& principal) {
    if (!principal.has_any_role(r.source->roles)) return false;
    for (const auto& c : r.constraints) {
      if (!constraint_holds(c, args)) return false;
    }
    return true;
  }

  const Rule* first_match(std::string_view tool, const json& args,
                          const Principal& principal) const {
    static const std::vector<std::uint32_t> kNone;
    auto it = exact.find(tool);
    const auto& named = it == exact.end() ? kNone : it->second;
    std::size_t i = 0, j = 0;
    while (i < named.size() || j < patterned.size()) {
      const bool take_named =
          j >= patterned.size() || (i < named.size() && named[i] < patterned[j]);
      const Rule& r = ordered[take_named ? named[i++] : patterned[j++]];
      if (!take_named && !tool_matches(r, tool)) continue;
      if (rule_matches(r, args, principal)) return &r;
    }
    return nullptr;
  }
};

PolicyEngine::PolicyEngine() : compiled_(std::make_shared<Compiled>()) {}

Result<PolicyEngine> PolicyEngine::create(PolicySpec spec) {
  auto compiled = std::make_shared<Compiled>();
  compiled->spec = std::move(spec);
  const auto& rules = compiled->spec.rules;

  std::unordered_set<std::string_view> ids;
  std::vector<std::uint32_t> order(rules.size());
  for (std::uint32_t i = 0; i < rules.size(); ++i) order[i] = i;
  std::vector<Compiled::Rule> by_declaration;
  by_declaration.reserve(rules.size());

  for (std::size_t i = 0; i < rules.size(); ++i) {
    const PolicyRule& rule = rules[i];
    const std::string where = "policy: rules[" + std::to_string(i) + "]" +
                              (rule.id.empty() ? std::string() : " (id '" + rule.id + "')");
    auto bad = [&](const std::string& what) {
      return Error(ErrorCode::invalid_argument, where + ": " + what);
    };
    if (rule.id.empty()) return bad("field 'id' is required");
    if (!ids.insert(rule.id).second) return bad("field 'id' repeats an earlier rule's id");
    if (rule.tool.pattern.empty()) return bad("the tool matcher must not be empty");
    Compiled::Rule out{&rule, nullptr, {}, {}};
    if (rule.tool.kind == ToolMatch::Kind::regex) {
      std::string error;
      out.tool_re = compile_regex(rule.tool.pattern, error);
      if (!out.tool_re) return bad("field 'tool_regex' is not a valid RE2 pattern: " + error);
    }
    for (const auto& role : rule.roles) {
      if (role.empty()) return bad("field 'roles' contains an empty role");
    }
    for (std::size_t k = 0; k < rule.args.size(); ++k) {
      const ArgConstraint& a = rule.args[k];
      const std::string at = "args[" + std::to_string(k) + "]";
      auto tokens = detail::parse_json_pointer(a.pointer);
      if (!tokens) return bad(at + ": field 'pointer' is not a JSON pointer: '" + a.pointer + "'");
      Compiled::Constraint c{&a, std::move(*tokens), nullptr};
      if (a.kind == ArgConstraint::Kind::regex) {
        std::string error;
        c.re = compile_regex(a.pattern, error);
        if (!c.re) return bad(at + ": field 'regex' is not a valid RE2 pattern: " + error);
      } else if (a.kind == ArgConstraint::Kind::range) {
        if (!a.min && !a.max) return bad(at + ": field 'range' needs 'min' or 'max'");
        if (a.min && a.max && *a.min > *a.max) return bad(at + ": field 'range' has min > max");
      } else if (a.kind == ArgConstraint::Kind::one_of && a.values.empty()) {
        return bad(at + ": field 'one_of' must not be empty");
      }
      out.constraints.push_back(std::move(c));
    }
    out.reason = "rule '" + rule.id + "' " +
                 (rule.decision == Decision::allow ? "allows the call"
                  : rule.decision == Decision::deny ? "denies the call"
                                                    : "requires approval") +
                 (rule.description.empty() ? std::string() : ": " + rule.description);
    by_declaration.push_back(std::move(out));
  }

  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (rules[a].priority != rules[b].priority) return rules[a].priority > rules[b].priority;
    return severity(rules[a].decision) > severity(rules[b].decision);
  });
  for (std::uint32_t position = 0; position < order.size(); ++position) {
    compiled->ordered.push_back(std::move(by_declaration[order[position]]));
    const PolicyRule& rule = *compiled->ordered.back().source;
    if (rule.tool.kind == ToolMatch::Kind::exact) {
      compiled->exact[rule.tool.pattern].push_back(position);
    } else {
      compiled->patterned.push_back(position);
    }
  }

  const Budgets& b = compiled->spec.budgets;
  auto negative = [](const std::optional<std::int64_t>& v) { return v && *v < 0; };
  if (negative(b.max_steps) || negative(b.max_tool_calls) || negative(b.max_tokens) ||
      (b.max_cost && *b.max_cost < 0) || (b.max_wall_time && b.max_wall_time->count() < 0)) {
    return Error(ErrorCode::invalid_argument, "policy: budgets: limits must not be negative");
  }
  for (const auto& [tool, limit] : b.max_tool_calls_per_tool) {
    if (limit < 0) {
      return Error(ErrorCode::invalid_argument,
                   "policy: budgets: max_tool_calls_per_tool['" + tool + "'] must not be negative");
    }
  }
  for (std::size_t i = 0; i < compiled->spec.rate_limits.size(); ++i) {
    const RateLimit& limit = compiled->spec.rate_limits[i];
    const std::string where = "policy: rate_limits[" + std::to_string(i) + "]: ";
    if (limit.tool.empty()) return Error(ErrorCode::invalid_argument, where + "field 'tool' is required");
    if (limit.max_calls < 0) {
      return Error(ErrorCode::invalid_argument, where + "field 'max_calls' must not be negative");
    }
    if (limit.window.count() <= 0) {
      return Error(ErrorCode::invalid_argument, where + "field 'window_ms' must be positive");
    }
    compiled->longest_window = std::max(compiled->longest_window, limit.window);
  }
  return PolicyEngine(std::move(compiled));
}

PolicyDecision PolicyEngine::decide(std::string_view tool, const json& args,
                                    const Principal& principal, const Usage& usage) const {
  const auto* hit = compiled_->first_match(tool, args, principal);
  if (hit == nullptr) {
    return {Decision::deny, "default_deny",
            "no rule matches tool '" + std::string(tool) + "' for principal '" + principal.id +
                "' with roles " + quoted_list(principal.roles) + ": denied by default",
            false};
  }
  if (hit->source->decision != Decision::deny) {
    if (auto exhausted = check_call_budgets(tool, usage)) return std::move(*exhausted);
  }
  return {hit->source->decision, hit->source->id, hit->reason, false};
}

PolicyDecision PolicyEngine::decide(const ToolSpec& spec, const json& args,
                                    const Principal& principal, const Usage& usage) const {
  if (!principal.has_any_role(spec.permissions)) {
    return {Decision::deny, "permissions",
            "tool '" + spec.name + "' needs one of " + quoted_list(spec.permissions) +
                "; principal '" + principal.id + "' has " + quoted_list(principal.roles),
            false};
  }
  return decide(spec.name, args, principal, usage);
}

std::optional<PolicyDecision> PolicyEngine::check_run_budgets(const Usage& usage) const {
  const Budgets& b = compiled_->spec.budgets;
  auto exhausted = [](const char* rule, std::string reason) {
    return PolicyDecision{Decision::deny, rule, std::move(reason), true};
  };
  if (b.max_steps && usage.steps >= *b.max_steps) {
    return exhausted("budget.max_steps", "step budget exhausted: " + std::to_string(usage.steps) +
                                             " of " + std::to_string(*b.max_steps) + " steps used");
  }
  if (b.max_tokens && usage.tokens >= *b.max_tokens) {
    return exhausted("budget.max_tokens", "token budget exhausted: " +
                                              std::to_string(usage.tokens) + " of " +
                                              std::to_string(*b.max_tokens) + " tokens used");
  }
  if (b.max_cost && usage.cost >= *b.max_cost) {
    return exhausted("budget.max_cost", "cost budget exhausted: " + std::to_string(usage.cost) +
                                            " of " + std::to_string(*b.max_cost) + " spent");
  }
  if (b.max_wall_time && usage.wall_time >= *b.max_wall_time) {
    return exhausted("budget.max_wall_time",
                     "wall-time budget exhausted: " + std::to_string(usage.wall_time.count()) +
                         " of " + std::to_string(b.max_wall_time->count()) + " ms used");
  }
  return std::nullopt;
}

std::optional<PolicyDecision> PolicyEngine::check_call_budgets(std::string_view tool,
                                                               const Usage& usage) const {
  if (auto run = check_run_budgets(usage)) return run;
  const Budgets& b = compiled_->spec.budgets;
  if (b.max_tool_calls && usage.tool_calls >= *b.max_tool_calls) {
    return PolicyDecision{Decision::deny, "budget.max_tool_calls",
                          "tool-call budget exhausted: " + std::to_string(usage.tool_calls) +
                              " of " + std::to_string(*b.max_tool_calls) + " calls made",
                          true};
  }
  const auto& rate_limits = compiled_->spec.rate_limits;
  if (b.max_tool_calls_per_tool.empty() && rate_limits.empty()) return std::nullopt;
  const auto used = usage.per_tool.find(tool);
  const ToolUsage* tool_usage = used == usage.per_tool.end() ? nullptr : &used->second;
  if (auto limit = b.max_tool_calls_per_tool.find(tool); limit != b.max_tool_calls_per_tool.end()) {
    const std::int64_t calls = tool_usage ? tool_usage->calls : 0;
    if (calls >= limit->second) {
      return PolicyDecision{Decision::deny, "budget.max_tool_calls_per_tool",
                            "call budget for tool '" + std::string(tool) + "' exhausted: " +
                                std::to_string(calls) + " of " + std::to_string(limit->second) +
                                " calls made",
                            true};
    }
  }
  for (const auto& limit : rate_limits) {
    const bool applies = detail::is_glob(limit.tool) ? detail::glob_match(limit.tool, tool)
                                                     : limit.tool == tool;
    if (!applies) continue;
    std::int64_t recent = 0;
    if (tool_usage != nullptr) {
      const auto cutoff = usage.now_millis - limit.window.count();
      for (auto t : tool_usage->recent_call_millis) recent += t > cutoff ? 1 : 0;
    }
    if (recent >= limit.max_calls) {
      return PolicyDecision{Decision::deny, "rate_limit." + limit.tool,
                            "rate limit for tool '" + std::string(tool) + "': at most " +
                                std::to_string(limit.max_calls) + " calls per " +
                                std::to_string(limit.window.count()) + " ms, " +
                                std::to_string(recent) + " made",
                            true};
    }
  }
  return std::nullopt;
}

const PolicySpec& PolicyEngine::spec() const { return compiled_->spec; }

std::chrono::milliseconds PolicyEngine::longest_rate_window() const {
  return compiled_->longest_window;
}

}  // namespace rein
