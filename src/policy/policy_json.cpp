// PolicyEngine's JSON format (documented in docs/policy.md): parsing is strict — unknown
// fields, wrong types and ambiguous matchers are errors naming the rule and field.
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "core/json_text.hpp"
#include "policy/policy_internals.hpp"
#include "rein/policy.hpp"

namespace rein {

using nlohmann::json;

namespace {

Error bad(const std::string& where, const std::string& what) {
  return Error(ErrorCode::invalid_argument, "policy: " + where + ": " + what);
}

Status only_fields(const json& object, const std::string& where,
                   std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, _] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return bad(where, "unknown field '" + key + "'");
    }
  }
  return {};
}

Result<std::int64_t> read_count(const json& v, const std::string& where, const std::string& field) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0) {
    return bad(where, "field '" + field + "' must be a non-negative integer");
  }
  return v.get<std::int64_t>();
}

Result<std::string> read_string(const json& v, const std::string& where, const std::string& field) {
  if (!v.is_string()) return bad(where, "field '" + field + "' must be a string");
  return v.get<std::string>();
}

// {"schemes": [...], "hosts": [...], "ports": [...], "path_prefix": "..."}; the engine checks
// the values themselves when it compiles the rule.
Result<UrlSet> parse_url_set(const json& j, const std::string& where) {
  if (!j.is_object())
    return bad(where, "field 'url_in' must be an object with 'schemes' and 'hosts'");
  if (auto s = only_fields(j, where + ".url_in", {"schemes", "hosts", "ports", "path_prefix"});
      !s) {
    return std::move(s).error();
  }
  UrlSet set;
  for (auto [field, out] : {std::pair{"schemes", &set.schemes}, std::pair{"hosts", &set.hosts}}) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_array()) {
      return bad(where, std::string("field 'url_in.") + field + "' must be an array of strings");
    }
    for (const auto& item : *it) {
      if (!item.is_string())
        return bad(where, std::string("field 'url_in.") + field + "' must be an array of strings");
      out->push_back(item.get<std::string>());
    }
  }
  if (auto it = j.find("ports"); it != j.end()) {
    if (!it->is_array()) return bad(where, "field 'url_in.ports' must be an array of integers");
    for (const auto& item : *it) {
      if (!item.is_number_integer())
        return bad(where, "field 'url_in.ports' must be an array of integers");
      const auto port = item.get<std::int64_t>();
      if (port < 1 || port > 65535)
        return bad(where, "field 'url_in.ports' has a port outside 1-65535");
      set.ports.push_back(static_cast<int>(port));
    }
  }
  if (auto it = j.find("path_prefix"); it != j.end()) {
    auto prefix = read_string(*it, where, "url_in.path_prefix");
    if (!prefix) return std::move(prefix).error();
    set.path_prefix = std::move(*prefix);
  }
  return set;
}

Result<ArgConstraint> parse_constraint(const json& j, const std::string& where) {
  if (!j.is_object()) return bad(where, "must be an object");
  if (auto s = only_fields(
          j, where,
          {"pointer", "equals", "one_of", "regex", "range", "max_length", "present", "absent",
           "path_under", "url_in", "integrity", "level_at_most", "level_above"});
      !s) {
    return std::move(s).error();
  }
  auto pointer_it = j.find("pointer");
  if (pointer_it == j.end()) return bad(where, "field 'pointer' is required");
  auto pointer = read_string(*pointer_it, where, "pointer");
  if (!pointer) return std::move(pointer).error();

  int operators = 0;
  for (const char* op : {"equals", "one_of", "regex", "range", "max_length", "present", "absent",
                         "path_under", "url_in", "integrity", "level_at_most", "level_above"}) {
    operators += j.contains(op) ? 1 : 0;
  }
  if (operators != 1) {
    return bad(where,
               "needs exactly one of 'equals', 'one_of', 'regex', 'range', "
               "'max_length', 'present', 'absent', 'path_under', 'url_in', 'integrity', "
               "'level_at_most', 'level_above'");
  }
  if (auto it = j.find("integrity"); it != j.end()) {
    if (*it == "trusted") return ArgConstraint::trusted(*pointer);
    if (*it == "untrusted") return ArgConstraint::untrusted(*pointer);
    return bad(where, "field 'integrity' must be \"trusted\" or \"untrusted\"");
  }
  for (const char* field : {"level_at_most", "level_above"}) {
    if (auto it = j.find(field); it != j.end()) {
      auto level = read_string(*it, where, field);
      if (!level) return std::move(level).error();
      if (level->empty()) return bad(where, std::string("field '") + field + "' must name a level");
      return std::string_view(field) == "level_at_most"
                 ? ArgConstraint::level_at_most(*pointer, std::move(*level))
                 : ArgConstraint::level_above(*pointer, std::move(*level));
    }
  }
  if (auto it = j.find("path_under"); it != j.end()) {
    auto folder = read_string(*it, where, "path_under");
    if (!folder) return std::move(folder).error();
    return ArgConstraint::path_under(*pointer, *folder);
  }
  if (auto it = j.find("url_in"); it != j.end()) {
    auto urls = parse_url_set(*it, where);
    if (!urls) return std::move(urls).error();
    return ArgConstraint::url_in(*pointer, std::move(*urls));
  }
  if (auto it = j.find("equals"); it != j.end()) return ArgConstraint::equals(*pointer, *it);
  if (auto it = j.find("one_of"); it != j.end()) {
    if (!it->is_array() || it->empty())
      return bad(where, "field 'one_of' must be a non-empty array");
    return ArgConstraint::one_of(*pointer, it->get<std::vector<json>>());
  }
  if (auto it = j.find("regex"); it != j.end()) {
    auto pattern = read_string(*it, where, "regex");
    if (!pattern) return std::move(pattern).error();
    return ArgConstraint::regex(*pointer, *pattern);
  }
  if (auto it = j.find("range"); it != j.end()) {
    if (!it->is_object())
      return bad(where, "field 'range' must be an object with 'min' and/or 'max'");
    if (auto s = only_fields(*it, where + ".range", {"min", "max"}); !s)
      return std::move(s).error();
    std::optional<double> min, max;
    for (auto [field, slot] : {std::pair{"min", &min}, std::pair{"max", &max}}) {
      if (auto v = it->find(field); v != it->end()) {
        if (!v->is_number())
          return bad(where, std::string("field 'range.") + field + "' must be a number");
        *slot = v->get<double>();
      }
    }
    return ArgConstraint::range(*pointer, min, max);
  }
  if (auto it = j.find("max_length"); it != j.end()) {
    auto n = read_count(*it, where, "max_length");
    if (!n) return std::move(n).error();
    return ArgConstraint::length_at_most(*pointer, static_cast<std::size_t>(*n));
  }
  const char* flag = j.contains("present") ? "present" : "absent";
  if (j[flag] != true) return bad(where, std::string("field '") + flag + "' must be true");
  return j.contains("present") ? ArgConstraint::present(*pointer) : ArgConstraint::absent(*pointer);
}

Result<PolicyRule> parse_rule(const json& j, std::size_t index) {
  std::string where = "rules[" + std::to_string(index) + "]";
  if (!j.is_object()) return bad(where, "must be an object");
  if (auto id = j.find("id"); id != j.end() && id->is_string()) {
    where += " (id '" + id->get<std::string>() + "')";
  }
  if (auto s = only_fields(j, where,
                           {"id", "description", "priority", "decision", "tool", "tool_glob",
                            "tool_regex", "roles", "args"});
      !s) {
    return std::move(s).error();
  }
  PolicyRule rule;
  auto id = j.find("id");
  if (id == j.end()) return bad(where, "field 'id' is required");
  auto id_text = read_string(*id, where, "id");
  if (!id_text) return std::move(id_text).error();
  rule.id = *id_text;
  if (auto it = j.find("description"); it != j.end()) {
    auto d = read_string(*it, where, "description");
    if (!d) return std::move(d).error();
    rule.description = *d;
  }
  if (auto it = j.find("priority"); it != j.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < -1'000'000 ||
        it->get<std::int64_t>() > 1'000'000) {
      return bad(where, "field 'priority' must be an integer within +/-1000000");
    }
    rule.priority = it->get<int>();
  }
  auto decision_it = j.find("decision");
  if (decision_it == j.end()) return bad(where, "field 'decision' is required");
  auto decision = decision_it->is_string() ? decision_from_string(decision_it->get<std::string>())
                                           : std::nullopt;
  if (!decision) {
    return bad(where, "field 'decision' must be \"allow\", \"deny\" or \"require_approval\"");
  }
  rule.decision = *decision;

  int matchers = 0;
  for (auto [field, kind] :
       {std::pair{"tool", ToolMatch::Kind::exact}, std::pair{"tool_glob", ToolMatch::Kind::glob},
        std::pair{"tool_regex", ToolMatch::Kind::regex}}) {
    if (auto it = j.find(field); it != j.end()) {
      ++matchers;
      auto pattern = read_string(*it, where, field);
      if (!pattern) return std::move(pattern).error();
      if (pattern->empty())
        return bad(where, std::string("field '") + field + "' must not be empty");
      rule.tool = ToolMatch{kind, *pattern};
    }
  }
  if (matchers != 1) {
    return bad(where,
               "needs exactly one of 'tool', 'tool_glob', 'tool_regex' "
               "(use \"tool_glob\": \"*\" for every tool)");
  }
  if (auto it = j.find("roles"); it != j.end()) {
    if (!it->is_array()) return bad(where, "field 'roles' must be an array of strings");
    for (const auto& role : *it) {
      if (!role.is_string() || role.get<std::string>().empty()) {
        return bad(where, "field 'roles' must be an array of non-empty strings");
      }
      rule.roles.push_back(role.get<std::string>());
    }
  }
  if (auto it = j.find("args"); it != j.end()) {
    if (!it->is_array()) return bad(where, "field 'args' must be an array of constraints");
    for (std::size_t k = 0; k < it->size(); ++k) {
      auto c = parse_constraint((*it)[k], where + ".args[" + std::to_string(k) + "]");
      if (!c) return std::move(c).error();
      rule.args.push_back(std::move(*c));
    }
  }
  return rule;
}

Status parse_budgets(const json& j, Budgets& b) {
  const std::string where = "budgets";
  if (!j.is_object()) return bad(where, "must be an object");
  if (auto s = only_fields(j, where,
                           {"max_steps", "max_tool_calls", "max_tool_calls_per_tool", "max_tokens",
                            "max_cost", "max_wall_time_ms"});
      !s) {
    return s;
  }
  for (auto [field, slot] :
       {std::pair{"max_steps", &b.max_steps}, std::pair{"max_tool_calls", &b.max_tool_calls},
        std::pair{"max_tokens", &b.max_tokens}}) {
    if (auto it = j.find(field); it != j.end()) {
      auto n = read_count(*it, where, field);
      if (!n) return std::move(n).error();
      *slot = *n;
    }
  }
  if (auto it = j.find("max_cost"); it != j.end()) {
    if (!it->is_number() || it->get<double>() < 0) {
      return bad(where, "field 'max_cost' must be a non-negative number");
    }
    b.max_cost = it->get<double>();
  }
  if (auto it = j.find("max_wall_time_ms"); it != j.end()) {
    auto n = read_count(*it, where, "max_wall_time_ms");
    if (!n) return std::move(n).error();
    b.max_wall_time = std::chrono::milliseconds(*n);
  }
  if (auto it = j.find("max_tool_calls_per_tool"); it != j.end()) {
    if (!it->is_object()) return bad(where, "field 'max_tool_calls_per_tool' must be an object");
    for (const auto& [tool, limit] : it->items()) {
      auto n = read_count(limit, where, "max_tool_calls_per_tool." + tool);
      if (!n) return std::move(n).error();
      b.max_tool_calls_per_tool[tool] = *n;
    }
  }
  return {};
}

Result<RateLimit> parse_rate_limit(const json& j, std::size_t index) {
  const std::string where = "rate_limits[" + std::to_string(index) + "]";
  if (!j.is_object()) return bad(where, "must be an object");
  if (auto s = only_fields(j, where, {"tool", "max_calls", "window_ms"}); !s) {
    return std::move(s).error();
  }
  RateLimit limit;
  for (const char* field : {"tool", "max_calls", "window_ms"}) {
    if (!j.contains(field)) return bad(where, std::string("field '") + field + "' is required");
  }
  auto tool = read_string(j["tool"], where, "tool");
  if (!tool) return std::move(tool).error();
  limit.tool = *tool;
  auto max_calls = read_count(j["max_calls"], where, "max_calls");
  if (!max_calls) return std::move(max_calls).error();
  limit.max_calls = *max_calls;
  auto window = read_count(j["window_ms"], where, "window_ms");
  if (!window) return std::move(window).error();
  limit.window = std::chrono::milliseconds(*window);
  return limit;
}

json constraint_to_json(const ArgConstraint& a) {
  json j = {{"pointer", a.pointer}};
  switch (a.kind) {
    case ArgConstraint::Kind::equals:
      j["equals"] = a.value;
      break;
    case ArgConstraint::Kind::one_of:
      j["one_of"] = a.values;
      break;
    case ArgConstraint::Kind::regex:
      j["regex"] = a.pattern;
      break;
    case ArgConstraint::Kind::range: {
      json range = json::object();
      if (a.min) range["min"] = *a.min;
      if (a.max) range["max"] = *a.max;
      j["range"] = std::move(range);
      break;
    }
    case ArgConstraint::Kind::max_length:
      j["max_length"] = a.max_length;
      break;
    case ArgConstraint::Kind::present:
      j["present"] = true;
      break;
    case ArgConstraint::Kind::absent:
      j["absent"] = true;
      break;
    case ArgConstraint::Kind::path_under:
      j["path_under"] = a.folder;
      break;
    case ArgConstraint::Kind::url_in: {
      json urls = {{"schemes", a.urls.schemes}, {"hosts", a.urls.hosts}};
      if (!a.urls.ports.empty()) urls["ports"] = a.urls.ports;
      if (!a.urls.path_prefix.empty()) urls["path_prefix"] = a.urls.path_prefix;
      j["url_in"] = std::move(urls);
      break;
    }
    case ArgConstraint::Kind::trusted:
      j["integrity"] = "trusted";
      break;
    case ArgConstraint::Kind::untrusted:
      j["integrity"] = "untrusted";
      break;
    case ArgConstraint::Kind::level_at_most:
      j["level_at_most"] = a.level;
      break;
    case ArgConstraint::Kind::level_above:
      j["level_above"] = a.level;
      break;
  }
  return j;
}

}  // namespace

namespace detail {

Result<Budgets> budgets_from_json(const json& j) {
  Budgets b;
  if (auto s = parse_budgets(j, b); !s) return std::move(s).error();
  return b;
}

json budgets_json(const Budgets& b) {
  json budgets = json::object();
  if (b.max_steps) budgets["max_steps"] = *b.max_steps;
  if (b.max_tool_calls) budgets["max_tool_calls"] = *b.max_tool_calls;
  if (!b.max_tool_calls_per_tool.empty())
    budgets["max_tool_calls_per_tool"] = b.max_tool_calls_per_tool;
  if (b.max_tokens) budgets["max_tokens"] = *b.max_tokens;
  if (b.max_cost) budgets["max_cost"] = *b.max_cost;
  if (b.max_wall_time) budgets["max_wall_time_ms"] = b.max_wall_time->count();
  return budgets;
}

json constraint_json(const ArgConstraint& a) {
  return constraint_to_json(a);
}
}  // namespace detail

namespace {}  // namespace

Result<PolicyEngine> PolicyEngine::from_json(const json& policy) {
  if (!policy.is_object()) return bad("(root)", "a policy must be a JSON object");
  if (auto s = only_fields(policy, "(root)",
                           {"version", "description", "levels", "rules", "budgets", "rate_limits"});
      !s) {
    return std::move(s).error();
  }
  if (auto it = policy.find("version"); it != policy.end() && *it != 1) {
    return bad("version",
               "unsupported policy version " + detail::json_text(*it) + " (this rein reads 1)");
  }
  PolicySpec spec;
  if (auto it = policy.find("levels"); it != policy.end()) {
    if (!it->is_array()) return bad("levels", "must be an array of level names, lowest first");
    for (const auto& level : *it) {
      if (!level.is_string() || level.get_ref<const std::string&>().empty())
        return bad("levels", "must be an array of non-empty strings, lowest first");
      spec.levels.push_back(level.get<std::string>());
    }
  }
  if (auto it = policy.find("rules"); it != policy.end()) {
    if (!it->is_array()) return bad("rules", "must be an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto rule = parse_rule((*it)[i], i);
      if (!rule) return std::move(rule).error();
      spec.rules.push_back(std::move(*rule));
    }
  }
  if (auto it = policy.find("budgets"); it != policy.end()) {
    if (auto s = parse_budgets(*it, spec.budgets); !s) return std::move(s).error();
  }
  if (auto it = policy.find("rate_limits"); it != policy.end()) {
    if (!it->is_array()) return bad("rate_limits", "must be an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto limit = parse_rate_limit((*it)[i], i);
      if (!limit) return std::move(limit).error();
      spec.rate_limits.push_back(std::move(*limit));
    }
  }
  return create(std::move(spec));
}

Result<PolicyEngine> PolicyEngine::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::not_found, "policy file '" + path.string() + "' cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  json parsed;
  try {
    parsed = json::parse(text.str());
  } catch (const json::parse_error& e) {
    return Error(ErrorCode::invalid_argument,
                 "policy file '" + path.string() + "' is not valid JSON: " + e.what());
  }
  auto engine = from_json(parsed);
  if (!engine) {
    return Error(engine.error().code(), path.string() + ": " + engine.error().message());
  }
  return engine;
}

json PolicyEngine::to_json() const {
  const PolicySpec& s = spec();
  json rules = json::array();
  for (const auto& r : s.rules) {
    json j = {{"id", r.id}, {"priority", r.priority}, {"decision", rein::to_string(r.decision)}};
    if (!r.description.empty()) j["description"] = r.description;
    const char* field = r.tool.kind == ToolMatch::Kind::exact  ? "tool"
                        : r.tool.kind == ToolMatch::Kind::glob ? "tool_glob"
                                                               : "tool_regex";
    j[field] = r.tool.pattern;
    if (!r.roles.empty()) j["roles"] = r.roles;
    if (!r.args.empty()) {
      json args = json::array();
      for (const auto& a : r.args)
        args.push_back(constraint_to_json(a));
      j["args"] = std::move(args);
    }
    rules.push_back(std::move(j));
  }
  json budgets = detail::budgets_json(s.budgets);
  json limits = json::array();
  for (const auto& l : s.rate_limits) {
    limits.push_back(
        {{"tool", l.tool}, {"max_calls", l.max_calls}, {"window_ms", l.window.count()}});
  }
  json out = {{"version", 1},
              {"rules", std::move(rules)},
              {"budgets", std::move(budgets)},
              {"rate_limits", std::move(limits)}};
  if (!s.levels.empty()) out["levels"] = s.levels;
  return out;
}

}  // namespace rein
