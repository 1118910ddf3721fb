#include "rein/policy.hpp"

#include <algorithm>
#include <array>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include <re2/re2.h>

#include "core/enum_names.hpp"
#include "core/glob.hpp"
#include "core/json_pointer.hpp"
#include "core/utf8.hpp"
#include "core/value_fields.hpp"
#include "policy/policy_canonical.hpp"
#include "policy/policy_internals.hpp"

namespace rein {

using nlohmann::json;

namespace {

constexpr auto kDecisionNames = detail::enum_names<Decision>(
    std::pair{Decision::allow, std::string_view("allow")},
    std::pair{Decision::deny, std::string_view("deny")},
    std::pair{Decision::require_approval, std::string_view("require_approval")});

// Deny outranks require_approval outranks allow at equal priority.
int severity(Decision d) {
  switch (d) {
    case Decision::deny:
      return 2;
    case Decision::require_approval:
      return 1;
    case Decision::allow:
      return 0;
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

// What is wrong with a url_in set ("" when nothing): it must say which schemes and hosts,
// in canonical (lower-case) spelling, with real ports and a path prefix a URL can have.
std::string check_url_set(const UrlSet& set) {
  if (set.schemes.empty()) return "needs at least one scheme in 'schemes'";
  if (set.hosts.empty()) return "needs at least one host in 'hosts'";
  for (const auto& scheme : set.schemes) {
    auto url = detail::canonical_url(scheme + "://x");
    if (!url || url->scheme != scheme)
      return "has a scheme that is not a lower-case URL scheme: '" + scheme + "'";
  }
  for (const auto& host : set.hosts) {
    const std::string bare = host.rfind("*.", 0) == 0 ? host.substr(2) : host;
    auto url = detail::canonical_url("http://" + bare);
    if (!url || url->host != bare || bare.find('*') != std::string::npos) {
      return "has a host that is not a lower-case name or '*.' and a name: '" + host + "'";
    }
  }
  for (const int port : set.ports) {
    if (port < 1 || port > 65535) return "has a port outside 1-65535: " + std::to_string(port);
  }
  if (!set.path_prefix.empty()) {
    auto url = set.path_prefix.front() == '/' ? detail::canonical_url("http://x" + set.path_prefix)
                                              : std::nullopt;
    if (!url || url->path != set.path_prefix) {
      return "has a 'path_prefix' that is not a canonical absolute path: '" + set.path_prefix + "'";
    }
  }
  return "";
}

std::string list_text(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  return out + "]";
}

}  // namespace

std::string_view to_string(Decision decision) noexcept {
  return kDecisionNames.name(decision);
}

std::optional<Decision> decision_from_string(std::string_view name) noexcept {
  return kDecisionNames.parse(name);
}

// The decision as the audit records it (budget_exhausted left out), from the one field list.
json PolicyDecision::to_json() const {
  return json::parse(detail::canonical_text(*this, detail::kAuditDecisionOmits));
}

struct PolicyEngine::Compiled {
  struct Constraint {
    const ArgConstraint* source;
    std::uint32_t pointer;         // index into `pointers`
    std::uint32_t level_rank = 0;  // level_at_most, level_above (fills the pointer's padding)
    std::shared_ptr<const RE2> re;
    // Every string the regex can match lies in [re_min, re_max] (when has_range): strings
    // outside are rejected with a comparison instead of a regex run.
    bool has_range = false;
    bool label_condition = false;  // decided by labels, not by the value
    std::string re_min, re_max;
    std::string folder;       // path_under, normalised
    std::string path_prefix;  // url_in, canonical
  };
  struct Rule {
    const PolicyRule* source;
    std::shared_ptr<const RE2> tool_re;
    std::uint32_t first_constraint = 0, end_constraint = 0;  // range in `constraints`
    std::string reason;
    bool has_label_conditions = false;
  };

  // The arguments as the rules address them: each distinct pointer is resolved at most once
  // per decision, however many rules constrain it.
  class ArgView {
   public:
    ArgView(const json& args, const std::vector<std::vector<std::string>>& pointers)
        : args_(args), pointers_(pointers) {}
    const json* at(std::uint32_t pointer) {
      if (pointer >= kSlots) return detail::resolve_json_pointer(args_, pointers_[pointer]);
      const std::uint64_t bit = std::uint64_t{1} << pointer;
      if ((resolved_ & bit) == 0) {
        slots_[pointer] = detail::resolve_json_pointer(args_, pointers_[pointer]);
        resolved_ |= bit;
      }
      return slots_[pointer];
    }

   private:
    static constexpr std::uint32_t kSlots = 64;
    const json& args_;
    const std::vector<std::vector<std::string>>& pointers_;
    std::array<const json*, kSlots> slots_{};
    std::uint64_t resolved_ = 0;
  };

  using Candidates = std::vector<std::uint32_t>;  // positions in `ordered`

  // The rule that decides, and an allow (or approval) rule before it that failed only on a
  // label condition: its failure names the flow that kept it from deciding.
  struct Match {
    const Rule* rule = nullptr;
    std::string near_miss;
  };

  PolicySpec spec;
  std::vector<Rule> ordered;                       // evaluation order
  std::vector<Constraint> constraints;             // every rule's, contiguous, in evaluation order
  std::vector<std::vector<std::string>> pointers;  // distinct argument pointers, parsed
  std::chrono::milliseconds longest_window{0};
  bool any_label_conditions = false;

  // Which rules' tool matchers match a tool name depends on the name alone, so it is worked
  // out once per name. Bounded, so a flood of invented tool names cannot grow it forever.
  static constexpr std::size_t kMaxCachedTools = 4096;
  mutable std::shared_mutex cache_mutex;
  mutable std::unordered_map<std::string, std::shared_ptr<const Candidates>, StringHash,
                             std::equal_to<>>
      candidates_by_tool;

  bool tool_matches(const Rule& r, std::string_view tool) const {
    switch (r.source->tool.kind) {
      case ToolMatch::Kind::exact:
        return r.source->tool.pattern == tool;
      case ToolMatch::Kind::glob:
        return detail::glob_match(r.source->tool.pattern, tool);
      case ToolMatch::Kind::regex:
        return RE2::FullMatch(re2::StringPiece(tool.data(), tool.size()), *r.tool_re);
    }
    return false;
  }

  // `deny_rule`: a value that cannot be put in canonical form counts as matching (fail closed).
  static bool constraint_holds(const Constraint& c, ArgView& args, bool deny_rule) {
    const json* v = args.at(c.pointer);
    const ArgConstraint& a = *c.source;
    switch (a.kind) {
      case ArgConstraint::Kind::path_under: {
        if (v == nullptr || !v->is_string()) return false;
        const auto path = detail::normalize_path(v->get_ref<const std::string&>());
        return path ? detail::path_is_under(*path, c.folder) : deny_rule;
      }
      case ArgConstraint::Kind::url_in: {
        if (v == nullptr || !v->is_string()) return false;
        const auto url = detail::canonical_url(v->get_ref<const std::string&>());
        if (!url) return deny_rule;
        const UrlSet& set = a.urls;
        const bool scheme =
            std::find(set.schemes.begin(), set.schemes.end(), url->scheme) != set.schemes.end();
        const bool host =
            std::any_of(set.hosts.begin(), set.hosts.end(),
                        [&](const std::string& h) { return detail::host_matches(url->host, h); });
        const bool port = set.ports.empty() ? url->port == detail::default_port(url->scheme)
                                            : std::find(set.ports.begin(), set.ports.end(),
                                                        url->port) != set.ports.end();
        return scheme && host && port && detail::path_has_prefix(url->path, c.path_prefix);
      }
      case ArgConstraint::Kind::present:
        return v != nullptr;
      case ArgConstraint::Kind::absent:
        return v == nullptr;
      case ArgConstraint::Kind::equals:
        return v != nullptr && *v == a.value;
      case ArgConstraint::Kind::one_of:
        return v != nullptr && std::find(a.values.begin(), a.values.end(), *v) != a.values.end();
      case ArgConstraint::Kind::regex: {
        if (v == nullptr || !v->is_string()) return false;
        const auto& text = v->get_ref<const std::string&>();
        if (c.has_range && (text < c.re_min || text > c.re_max)) return false;
        return RE2::FullMatch(text, *c.re);
      }
      case ArgConstraint::Kind::range: {
        if (v == nullptr || !v->is_number()) return false;
        const double d = v->get<double>();
        return (!a.min || d >= *a.min) && (!a.max || d <= *a.max);
      }
      case ArgConstraint::Kind::max_length:
        if (v == nullptr) return false;
        if (v->is_string())
          return utf8::code_points(v->get_ref<const std::string&>()) <= a.max_length;
        if (v->is_array()) return v->size() <= a.max_length;
        return false;
      case ArgConstraint::Kind::trusted:
      case ArgConstraint::Kind::untrusted:
      case ArgConstraint::Kind::level_at_most:
      case ArgConstraint::Kind::level_above:
        return false;  // label conditions are label_holds'
    }
    return false;
  }

  // A level the policy does not list ranks above every level it does.
  std::uint32_t rank_of(const std::string& level) const {
    const auto& levels = spec.levels;
    return static_cast<std::uint32_t>(std::find(levels.begin(), levels.end(), level) -
                                      levels.begin());
  }

  bool label_holds(const Constraint& c, const Label& label) const {
    switch (c.source->kind) {
      case ArgConstraint::Kind::trusted:
        return label.trusted;
      case ArgConstraint::Kind::untrusted:
        return !label.trusted;
      case ArgConstraint::Kind::level_at_most:
        return std::all_of(label.levels.begin(), label.levels.end(),
                           [&](const std::string& l) { return rank_of(l) <= c.level_rank; });
      case ArgConstraint::Kind::level_above:
        return std::any_of(label.levels.begin(), label.levels.end(),
                           [&](const std::string& l) { return rank_of(l) > c.level_rank; });
      default:
        return false;
    }
  }

  // Out of line: the loop over rules stays small enough for the compiler to keep the value
  // checks and role checks inline (a quarter of a decision's time at 1,000 rules).
  [[gnu::noinline]] bool label_condition_holds(const Constraint& c,
                                               const ValueLabels& labels) const {
    return label_holds(c, labels.at(c.source->pointer));
  }

  bool holds(const Constraint& c, ArgView& args, const ValueLabels& labels, bool deny_rule) const {
    if (c.label_condition) return label_condition_holds(c, labels);
    return constraint_holds(c, args, deny_rule);
  }

  bool rule_matches(const Rule& r, ArgView& args, const ValueLabels& labels,
                    const Principal& principal) const {
    // Most rules name no roles: no call for them.
    if (!r.source->roles.empty() && !principal.has_any_role(r.source->roles)) return false;
    for (auto i = r.first_constraint; i < r.end_constraint; ++i) {
      if (!holds(constraints[i], args, labels, r.source->decision == Decision::deny)) return false;
    }
    return true;
  }

  // Why a label condition fails for `label`, for people.
  static std::string label_failure(const ArgConstraint& a, const Label& label) {
    const bool whole = a.pointer.empty();
    const std::string what = whole ? "the arguments" : "argument " + a.pointer;
    const std::string is = (whole ? "; they are " : "; it is ") + label.describe();
    switch (a.kind) {
      case ArgConstraint::Kind::trusted:
        return what + " must derive from trusted content only" + is;
      case ArgConstraint::Kind::untrusted:
        return what + " would have to derive from untrusted content" + is;
      case ArgConstraint::Kind::level_at_most:
        return what + " may hold data up to level '" + a.level + "'" + is;
      case ArgConstraint::Kind::level_above:
        return what + " would have to hold data above level '" + a.level + "'" + is;
      default:
        return what + " fails a label condition";
    }
  }

  // Why `r` does not match ("" when it does), for people.
  std::string failure(const Rule& r, ArgView& args, const ValueLabels& labels,
                      const Principal& principal) const {
    if (!principal.has_any_role(r.source->roles)) {
      return "the principal holds none of its roles " + list_text(r.source->roles);
    }
    for (auto i = r.first_constraint; i < r.end_constraint; ++i) {
      const Constraint& c = constraints[i];
      if (holds(c, args, labels, r.source->decision == Decision::deny)) continue;
      if (c.source->is_label_condition()) {
        return label_failure(*c.source, labels.at(c.source->pointer));
      }
      return "argument " + (c.source->pointer.empty() ? std::string("(root)") : c.source->pointer) +
             " fails " + detail::constraint_json(*c.source).dump();
    }
    return {};
  }

  // For an allow or approval rule that fails on a label condition alone: what it would have
  // done, and the flow that stopped it ("" otherwise).
  std::string label_miss(const Rule& r, ArgView& args, const ValueLabels& labels,
                         const Principal& principal) const {
    if (!r.has_label_conditions || r.source->decision == Decision::deny ||
        !principal.has_any_role(r.source->roles))
      return {};
    const Constraint* missed = nullptr;
    for (auto i = r.first_constraint; i < r.end_constraint; ++i) {
      const Constraint& c = constraints[i];
      if (holds(c, args, labels, false)) continue;
      if (!c.source->is_label_condition()) return {};
      if (missed == nullptr) missed = &c;
    }
    if (missed == nullptr) return {};
    return "rule '" + r.source->id + "' would " +
           (r.source->decision == Decision::allow ? "allow the call" : "send it for approval") +
           ", but " + label_failure(*missed->source, labels.at(missed->source->pointer));
  }

  // The labels a deciding rule's label conditions looked at: the flow it allowed or refused.
  std::string flow(const Rule& r, const ValueLabels& labels) const {
    std::string out;
    for (auto i = r.first_constraint; i < r.end_constraint; ++i) {
      const ArgConstraint& a = *constraints[i].source;
      if (!a.is_label_condition()) continue;
      out += out.empty() ? "; flow: " : "; ";
      out += (a.pointer.empty() ? std::string("the arguments are ") : a.pointer + " is ") +
             labels.at(a.pointer).describe();
    }
    return out;
  }

  std::shared_ptr<const Candidates> candidates(std::string_view tool) const {
    {
      std::shared_lock lock(cache_mutex);
      if (auto it = candidates_by_tool.find(tool); it != candidates_by_tool.end())
        return it->second;
    }
    auto found = std::make_shared<Candidates>();
    for (std::uint32_t i = 0; i < ordered.size(); ++i) {
      if (tool_matches(ordered[i], tool)) found->push_back(i);
    }
    std::unique_lock lock(cache_mutex);
    if (candidates_by_tool.size() < kMaxCachedTools)
      candidates_by_tool.emplace(std::string(tool), found);
    return found;
  }

  // The loop every decision runs: kept small, the explanations below are worked out apart.
  const Rule* first_match(const Candidates& list, ArgView& view, const ValueLabels& labels,
                          const Principal& principal) const {
    for (std::uint32_t position : list) {
      const Rule& r = ordered[position];
      if (rule_matches(r, view, labels, principal)) return &r;
    }
    return nullptr;
  }

  Match decide(std::string_view tool, const json& args, const ValueLabels& labels,
               const Principal& principal) const {
    const auto list = candidates(tool);
    ArgView view(args, pointers);
    Match m;
    m.rule = first_match(*list, view, labels, principal);
    if (any_label_conditions && !labels.empty())
      m.near_miss = first_label_miss(*list, view, labels, principal, m.rule);
    return m;
  }

  // The first allow or approval rule before `hit` that failed on a label condition alone.
  [[gnu::noinline]] std::string first_label_miss(const Candidates& list, ArgView& view,
                                                 const ValueLabels& labels,
                                                 const Principal& principal,
                                                 const Rule* hit) const {
    for (std::uint32_t position : list) {
      const Rule& r = ordered[position];
      if (&r == hit) break;
      if (auto missed = label_miss(r, view, labels, principal); !missed.empty()) return missed;
    }
    return {};
  }
};

PolicyEngine::PolicyEngine() : compiled_(std::make_shared<Compiled>()) {}

Result<PolicyEngine> PolicyEngine::create(PolicySpec spec) {
  auto compiled = std::make_shared<Compiled>();
  compiled->spec = std::move(spec);
  const auto& rules = compiled->spec.rules;

  const auto& levels = compiled->spec.levels;
  for (std::size_t i = 0; i < levels.size(); ++i) {
    if (levels[i].empty())
      return Error(ErrorCode::invalid_argument,
                   "policy: levels[" + std::to_string(i) + "] is empty");
    if (std::find(levels.begin(), levels.begin() + static_cast<std::ptrdiff_t>(i), levels[i]) !=
        levels.begin() + static_cast<std::ptrdiff_t>(i)) {
      return Error(ErrorCode::invalid_argument,
                   "policy: levels[" + std::to_string(i) + "] repeats '" + levels[i] + "'");
    }
  }

  std::unordered_set<std::string_view> ids;
  std::vector<std::uint32_t> order(rules.size());
  for (std::uint32_t i = 0; i < rules.size(); ++i)
    order[i] = i;
  std::vector<Compiled::Rule> by_declaration;
  std::vector<std::vector<Compiled::Constraint>> constraints_by_declaration;
  by_declaration.reserve(rules.size());
  std::unordered_map<std::string, std::uint32_t> pointer_index;

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
    Compiled::Rule out{&rule, nullptr, 0, 0, {}, false};
    std::vector<Compiled::Constraint> rule_constraints;
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
      auto [slot, fresh] = pointer_index.try_emplace(
          a.pointer, static_cast<std::uint32_t>(compiled->pointers.size()));
      if (fresh) compiled->pointers.push_back(std::move(*tokens));
      Compiled::Constraint c{&a, slot->second, 0, nullptr};
      c.label_condition = a.is_label_condition();
      if (a.kind == ArgConstraint::Kind::regex) {
        std::string error;
        c.re = compile_regex(a.pattern, error);
        if (!c.re) return bad(at + ": field 'regex' is not a valid RE2 pattern: " + error);
        c.has_range = c.re->PossibleMatchRange(&c.re_min, &c.re_max, 64);
      } else if (a.kind == ArgConstraint::Kind::range) {
        if (!a.min && !a.max) return bad(at + ": field 'range' needs 'min' or 'max'");
        if (a.min && a.max && *a.min > *a.max) return bad(at + ": field 'range' has min > max");
      } else if (a.kind == ArgConstraint::Kind::one_of && a.values.empty()) {
        return bad(at + ": field 'one_of' must not be empty");
      } else if (a.kind == ArgConstraint::Kind::path_under) {
        auto folder = detail::normalize_path(a.folder);
        if (!folder) {
          return bad(at +
                     ": field 'path_under' must be an absolute path that stays under the root: '" +
                     a.folder + "'");
        }
        c.folder = std::move(*folder);
      } else if (a.kind == ArgConstraint::Kind::url_in) {
        if (auto s = check_url_set(a.urls); !s.empty()) return bad(at + ": field 'url_in' " + s);
        c.path_prefix = a.urls.path_prefix.empty() ? "/" : a.urls.path_prefix;
      } else if (a.kind == ArgConstraint::Kind::level_at_most ||
                 a.kind == ArgConstraint::Kind::level_above) {
        const char* field =
            a.kind == ArgConstraint::Kind::level_at_most ? "level_at_most" : "level_above";
        c.level_rank = compiled->rank_of(a.level);
        if (c.level_rank == compiled->spec.levels.size()) {
          return bad(at + ": field '" + field + "' names level '" + a.level +
                     "', which the policy's 'levels' " +
                     (compiled->spec.levels.empty()
                          ? std::string("does not declare (it has none)")
                          : "does not list " + list_text(compiled->spec.levels)));
        }
      }
      out.has_label_conditions = out.has_label_conditions || a.is_label_condition();
      compiled->any_label_conditions = compiled->any_label_conditions || a.is_label_condition();
      rule_constraints.push_back(std::move(c));
    }
    out.reason = "rule '" + rule.id + "' " +
                 (rule.decision == Decision::allow  ? "allows the call"
                  : rule.decision == Decision::deny ? "denies the call"
                                                    : "requires approval") +
                 (rule.description.empty() ? std::string() : ": " + rule.description);
    by_declaration.push_back(std::move(out));
    constraints_by_declaration.push_back(std::move(rule_constraints));
  }

  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (rules[a].priority != rules[b].priority) return rules[a].priority > rules[b].priority;
    return severity(rules[a].decision) > severity(rules[b].decision);
  });
  for (std::uint32_t declared : order) {
    Compiled::Rule& r = by_declaration[declared];
    r.first_constraint = static_cast<std::uint32_t>(compiled->constraints.size());
    for (auto& c : constraints_by_declaration[declared])
      compiled->constraints.push_back(std::move(c));
    r.end_constraint = static_cast<std::uint32_t>(compiled->constraints.size());
    compiled->ordered.push_back(std::move(r));
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
    if (limit.tool.empty())
      return Error(ErrorCode::invalid_argument, where + "field 'tool' is required");
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
  return decide(tool, args, ValueLabels{}, principal, usage);
}

PolicyDecision PolicyEngine::decide(const ToolSpec& spec, const json& args,
                                    const Principal& principal, const Usage& usage) const {
  return decide(spec, args, ValueLabels{}, principal, usage);
}

PolicyDecision PolicyEngine::decide(std::string_view tool, const json& args,
                                    const ValueLabels& labels, const Principal& principal,
                                    const Usage& usage) const {
  const auto match = compiled_->decide(tool, args, labels, principal);
  const auto* hit = match.rule;
  const std::string missed = match.near_miss.empty() ? std::string() : "; " + match.near_miss;
  if (hit == nullptr) {
    return {Decision::deny, "default_deny",
            "no rule matches tool '" + std::string(tool) + "' for principal '" + principal.id +
                "' with roles " + list_text(principal.roles) + ": denied by default" + missed,
            false};
  }
  if (hit->source->decision != Decision::deny) {
    if (auto exhausted = check_call_budgets(tool, usage)) return std::move(*exhausted);
  }
  if (missed.empty() && !hit->has_label_conditions) {
    return {hit->source->decision, hit->source->id, hit->reason, false};
  }
  return {hit->source->decision, hit->source->id,
          hit->reason + compiled_->flow(*hit, labels) + missed, false};
}

json PolicyEngine::explain(std::string_view tool, const json& args, const ValueLabels& labels,
                           const Principal& principal) const {
  json out = json::array();
  Compiled::ArgView view(args, compiled_->pointers);
  bool decided = false;
  for (std::uint32_t position : *compiled_->candidates(tool)) {
    const Compiled::Rule& r = compiled_->ordered[position];
    const std::string failed = compiled_->failure(r, view, labels, principal);
    json line = {{"rule", r.source->id},
                 {"decision", to_string(r.source->decision)},
                 {"matched", failed.empty()}};
    if (!failed.empty()) line["failed"] = failed;
    if (failed.empty() && !decided) {
      line["decides"] = true;
      decided = true;
    }
    out.push_back(std::move(line));
  }
  return out;
}

PolicyDecision PolicyEngine::decide(const ToolSpec& spec, const json& args,
                                    const ValueLabels& labels, const Principal& principal,
                                    const Usage& usage) const {
  if (!principal.has_any_role(spec.permissions)) {
    return {Decision::deny, "permissions",
            "tool '" + spec.name + "' needs one of " + list_text(spec.permissions) +
                "; principal '" + principal.id + "' has " + list_text(principal.roles),
            false};
  }
  return decide(spec.name, args, labels, principal, usage);
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
    return exhausted("budget.max_tokens",
                     "token budget exhausted: " + std::to_string(usage.tokens) + " of " +
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

std::optional<PolicyDecision> PolicyEngine::check_llm_call(const Usage& usage, std::int64_t tokens,
                                                           double cost) const {
  const Budgets& budgets = compiled_->spec.budgets;
  return check_llm_call(LlmBudget{.max_tokens = budgets.max_tokens, .max_cost = budgets.max_cost},
                        usage, tokens, cost);
}

std::optional<PolicyDecision> PolicyEngine::check_llm_call(const LlmBudget& b, const Usage& usage,
                                                           std::int64_t tokens, double cost) {
  if (b.max_tokens && usage.tokens + tokens > *b.max_tokens) {
    return PolicyDecision{
        Decision::deny, "budget.max_tokens",
        "token budget: the call needs about " + std::to_string(tokens) + " tokens but " +
            std::to_string(std::max<std::int64_t>(0, *b.max_tokens - usage.tokens)) + " of " +
            std::to_string(*b.max_tokens) + " are left",
        true};
  }
  if (b.max_cost && usage.cost + cost > *b.max_cost) {
    return PolicyDecision{Decision::deny, "budget.max_cost",
                          "cost budget: the call would cost about " + std::to_string(cost) +
                              " but " + std::to_string(std::max(0.0, *b.max_cost - usage.cost)) +
                              " of " + std::to_string(*b.max_cost) + " is left",
                          true};
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
                            "call budget for tool '" + std::string(tool) +
                                "' exhausted: " + std::to_string(calls) + " of " +
                                std::to_string(limit->second) + " calls made",
                            true};
    }
  }
  for (const auto& limit : rate_limits) {
    const bool applies =
        detail::is_glob(limit.tool) ? detail::glob_match(limit.tool, tool) : limit.tool == tool;
    if (!applies) continue;
    std::int64_t recent = 0;
    if (tool_usage != nullptr) {
      const auto cutoff = usage.now_millis - limit.window.count();
      for (auto t : tool_usage->recent_call_millis)
        recent += t > cutoff ? 1 : 0;
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

const PolicySpec& PolicyEngine::spec() const {
  return compiled_->spec;
}

std::chrono::milliseconds PolicyEngine::longest_rate_window() const {
  return compiled_->longest_window;
}

}  // namespace rein
