#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "rein/policy.hpp"

using nlohmann::json;
using rein::Decision;
using rein::PolicyEngine;

namespace {
std::string error_of(const json& policy) {
  auto r = PolicyEngine::from_json(policy);
  if (r.ok()) return "(accepted)";
  return r.error().message();
}
const json kGood = json::parse(R"json({
  "version": 1,
  "rules": [
    {"id": "read", "description": "reads", "priority": 10, "decision": "allow",
     "tool_glob": "crm.*", "roles": ["analyst"],
     "args": [{"pointer": "/region", "one_of": ["east", "west"]},
              {"pointer": "/limit", "range": {"min": 1, "max": 50}},
              {"pointer": "/q", "max_length": 20},
              {"pointer": "/q", "regex": "[a-z ]*"},
              {"pointer": "/debug", "absent": true},
              {"pointer": "/region", "present": true},
              {"pointer": "/mode", "equals": "fast"}]},
    {"id": "write", "decision": "require_approval", "tool_regex": "crm\\.(update|delete)"},
    {"id": "never", "decision": "deny", "tool": "crm.drop", "priority": 99}
  ],
  "budgets": {"max_steps": 10, "max_tool_calls": 20, "max_tool_calls_per_tool": {"crm.search": 2},
              "max_tokens": 5000, "max_cost": 1.25, "max_wall_time_ms": 60000},
  "rate_limits": [{"tool": "crm.search", "max_calls": 5, "window_ms": 1000}]
})json");
}  // namespace

TEST_CASE("a policy loads from JSON and decides", "[policy_json]") {
  auto e = PolicyEngine::from_json(kGood);
  REQUIRE(e.ok());
  const rein::Principal analyst{"u", {"analyst"}};
  const json args = {{"region", "west"}, {"limit", 10}, {"q", "acme"}, {"mode", "fast"}};
  auto d = e->decide("crm.search", args, analyst, {});
  CHECK(d.allowed());
  CHECK(d.reason == "rule 'read' allows the call: reads");
  json debug = args;
  debug["debug"] = true;
  CHECK(e->decide("crm.search", debug, analyst, {}).rule == "default_deny");
  CHECK(e->decide("crm.update", {}, analyst, {}).decision == Decision::require_approval);
  CHECK(e->decide("crm.drop", {}, analyst, {}).rule == "never");
  CHECK(e->spec().budgets.max_cost == 1.25);
  CHECK(e->spec().rate_limits.size() == 1);
}

TEST_CASE("to_json round-trips through from_json", "[policy_json]") {
  auto e = PolicyEngine::from_json(kGood);
  REQUIRE(e.ok());
  auto again = PolicyEngine::from_json(e->to_json());
  REQUIRE(again.ok());
  CHECK(again->to_json() == e->to_json());
}

TEST_CASE("malformed policies are rejected whole, naming rule and field", "[policy_json]") {
  auto with_rule = [](json rule) {
    json p = kGood;
    p["rules"].push_back(std::move(rule));
    return p;
  };
  CHECK(error_of(json::array()) == "policy: (root): a policy must be a JSON object");
  CHECK(error_of({{"rulez", json::array()}}) == "policy: (root): unknown field 'rulez'");
  CHECK(error_of({{"version", 2}}) ==
        "policy: version: unsupported policy version 2 (this rein reads 1)");
  CHECK(error_of({{"rules", json::object()}}) == "policy: rules: must be an array");
  CHECK(error_of(with_rule({{"decision", "allow"}, {"tool", "x"}})) ==
        "policy: rules[3]: field 'id' is required");
  CHECK(error_of(with_rule({{"id", "x"}, {"decision", "maybe"}, {"tool", "x"}})) ==
        "policy: rules[3] (id 'x'): field 'decision' must be \"allow\", \"deny\" or "
        "\"require_approval\"");
  CHECK(error_of(with_rule({{"id", "x"}, {"decision", "allow"}})) ==
        "policy: rules[3] (id 'x'): needs exactly one of 'tool', 'tool_glob', 'tool_regex' "
        "(use \"tool_glob\": \"*\" for every tool)");
  CHECK(error_of(
            with_rule({{"id", "x"}, {"decision", "allow"}, {"tool", "a"}, {"tool_glob", "b"}})) ==
        "policy: rules[3] (id 'x'): needs exactly one of 'tool', 'tool_glob', 'tool_regex' "
        "(use \"tool_glob\": \"*\" for every tool)");
  CHECK(error_of(with_rule({{"id", "x"}, {"decision", "allow"}, {"tool", "a"}, {"tolo", 1}})) ==
        "policy: rules[3] (id 'x'): unknown field 'tolo'");
  CHECK(error_of(
            with_rule({{"id", "x"}, {"decision", "allow"}, {"tool", "a"}, {"roles", "admin"}})) ==
        "policy: rules[3] (id 'x'): field 'roles' must be an array of strings");
  CHECK(error_of(
            with_rule({{"id", "x"}, {"decision", "allow"}, {"tool", "a"}, {"priority", "high"}})) ==
        "policy: rules[3] (id 'x'): field 'priority' must be an integer within +/-1000000");
  CHECK(error_of(with_rule({{"id", "x"},
                            {"decision", "allow"},
                            {"tool", "a"},
                            {"args", {{{"pointer", "/a"}, {"equals", 1}, {"present", true}}}}})) ==
        "policy: rules[3] (id 'x').args[0]: needs exactly one of 'equals', 'one_of', 'regex', "
        "'range', 'max_length', 'present', 'absent', 'path_under', 'url_in', 'integrity', "
        "'level_at_most', 'level_above'");
  CHECK(error_of(with_rule(
            {{"id", "x"}, {"decision", "allow"}, {"tool", "a"}, {"args", {{{"equals", 1}}}}})) ==
        "policy: rules[3] (id 'x').args[0]: field 'pointer' is required");
  CHECK(error_of(with_rule({{"id", "x"},
                            {"decision", "allow"},
                            {"tool", "a"},
                            {"args", {{{"pointer", "/a"}, {"range", {{"min", "1"}}}}}}})) ==
        "policy: rules[3] (id 'x').args[0]: field 'range.min' must be a number");
  CHECK(error_of(with_rule({{"id", "x"},
                            {"decision", "allow"},
                            {"tool", "a"},
                            {"args", {{{"pointer", "/a"}, {"regex", "(unclosed"}}}}}))
            .rfind("policy: rules[3] (id 'x'): args[0]: field 'regex' is not a valid RE2 pattern",
                   0) == 0);
  CHECK(error_of(with_rule({{"id", "read"}, {"decision", "allow"}, {"tool", "a"}})) ==
        "policy: rules[3] (id 'read'): field 'id' repeats an earlier rule's id");
  json bad_budget = kGood;
  bad_budget["budgets"]["max_steps"] = -1;
  CHECK(error_of(bad_budget) ==
        "policy: budgets: field 'max_steps' must be a non-negative integer");
  bad_budget = kGood;
  bad_budget["budgets"]["max_stepz"] = 1;
  CHECK(error_of(bad_budget) == "policy: budgets: unknown field 'max_stepz'");
  json bad_limit = kGood;
  bad_limit["rate_limits"][0].erase("window_ms");
  CHECK(error_of(bad_limit) == "policy: rate_limits[0]: field 'window_ms' is required");
}

TEST_CASE("from_file reports unreadable files and JSON syntax errors", "[policy_json]") {
  auto missing = PolicyEngine::from_file("/nonexistent/policy.json");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == rein::ErrorCode::not_found);

  const std::string path = "rein_test_policy_bad.json";
  {
    std::ofstream out(path);
    out << "{\"rules\": [}";
  }
  auto broken = PolicyEngine::from_file(path);
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().message().find("is not valid JSON") != std::string::npos);
  {
    std::ofstream out(path);
    out << R"({"rules": [{"id": "a", "decision": "allow"}]})";
  }
  auto invalid = PolicyEngine::from_file(path);
  REQUIRE_FALSE(invalid.ok());
  CHECK(invalid.error().message() ==
        path +
            ": policy: rules[0] (id 'a'): needs exactly one of 'tool', 'tool_glob', 'tool_regex' "
            "(use \"tool_glob\": \"*\" for every tool)");
  std::remove(path.c_str());
}
