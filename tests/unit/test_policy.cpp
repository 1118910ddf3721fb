#include <catch2/catch.hpp>
#include <random>
#include <thread>

#include <re2/re2.h>

#include "rein/policy.hpp"

using nlohmann::json;
using rein::ArgConstraint;
using rein::Decision;
using rein::PolicyEngine;
using rein::PolicyRule;
using rein::ToolMatch;

namespace {

PolicyRule rule(std::string id, Decision d, ToolMatch tool, int priority = 0,
                std::vector<std::string> roles = {}, std::vector<ArgConstraint> args = {}) {
  PolicyRule r;
  r.id = std::move(id);
  r.decision = d;
  r.tool = std::move(tool);
  r.priority = priority;
  r.roles = std::move(roles);
  r.args = std::move(args);
  return r;
}

PolicyEngine engine(rein::PolicySpec spec) {
  auto e = PolicyEngine::create(std::move(spec));
  if (!e) FAIL(e.error().to_string());
  return *e;
}

const rein::Principal analyst{"u1", {"analyst"}};
const rein::Principal manager{"u2", {"manager", "analyst"}};
const rein::Principal guest{"u3", {"guest"}};
const rein::Usage no_usage{};

}  // namespace

TEST_CASE("deny by default, saying so", "[policy]") {
  PolicyEngine empty;
  auto d = empty.decide("billing.mrr", json::object(), analyst, no_usage);
  CHECK(d.decision == Decision::deny);
  CHECK(d.rule == "default_deny");
  CHECK(d.reason ==
        "no rule matches tool 'billing.mrr' for principal 'u1' with roles [analyst]: denied by "
        "default");
  CHECK(d.to_json() == json{{"decision", "deny"}, {"rule", "default_deny"}, {"reason", d.reason}});
}

TEST_CASE("tool matchers: exact, glob, regex", "[policy]") {
  auto e =
      engine({.rules = {rule("exact", Decision::allow, ToolMatch::exact("billing.mrr")),
                        rule("glob", Decision::allow, ToolMatch::glob("tickets.*")),
                        rule("regex", Decision::allow, ToolMatch::regex("product\\.(usage|plan)"))},
              .budgets = {},
              .rate_limits = {}});
  CHECK(e.decide("billing.mrr", {}, analyst, no_usage).rule == "exact");
  CHECK(e.decide("billing.mrrx", {}, analyst, no_usage).rule == "default_deny");
  CHECK(e.decide("tickets.risks", {}, analyst, no_usage).rule == "glob");
  CHECK(e.decide("tickets", {}, analyst, no_usage).rule == "default_deny");
  CHECK(e.decide("product.usage", {}, analyst, no_usage).rule == "regex");
  CHECK(e.decide("product.usage.extra", {}, analyst, no_usage).rule ==
        "default_deny");  // full match
}

TEST_CASE("roles: any of the rule's roles, none means anyone", "[policy]") {
  auto e = engine({.rules = {rule("managers", Decision::allow, ToolMatch::exact("slides.make"), 0,
                                  {"manager", "admin"}),
                             rule("anyone", Decision::allow, ToolMatch::exact("crm.search"))},
                   .budgets = {},
                   .rate_limits = {}});
  CHECK(e.decide("slides.make", {}, manager, no_usage).allowed());
  CHECK_FALSE(e.decide("slides.make", {}, analyst, no_usage).allowed());
  CHECK(e.decide("crm.search", {}, guest, no_usage).allowed());
}

TEST_CASE("order: priority, then deny > approval > allow, then declaration", "[policy]") {
  auto tool = ToolMatch::glob("*");
  auto e = engine({.rules = {rule("allow-low", Decision::allow, tool, 0),
                             rule("approve-high", Decision::require_approval, tool, 10),
                             rule("allow-high", Decision::allow, tool, 10),
                             rule("allow-high-2", Decision::allow, tool, 10)},
                   .budgets = {},
                   .rate_limits = {}});
  auto d = e.decide("x.y", {}, analyst, no_usage);
  CHECK(d.decision == Decision::require_approval);
  CHECK(d.rule == "approve-high");
  CHECK(d.reason == "rule 'approve-high' requires approval");

  auto e2 = engine({.rules = {rule("allow-high", Decision::allow, tool, 10),
                              rule("deny-high", Decision::deny, tool, 10),
                              rule("allow-top", Decision::allow, ToolMatch::exact("x.top"), 11)},
                    .budgets = {},
                    .rate_limits = {}});
  CHECK(e2.decide("x.y", {}, analyst, no_usage).rule == "deny-high");
  CHECK(e2.decide("x.top", {}, analyst, no_usage).rule == "allow-top");

  // Exact and patterned rules interleave by rank, not by kind.
  auto e3 = engine({.rules = {rule("exact-low", Decision::allow, ToolMatch::exact("a.b"), 1),
                              rule("glob-high", Decision::deny, ToolMatch::glob("a.*"), 2),
                              rule("exact-first", Decision::allow, ToolMatch::exact("a.c"), 2)},
                    .budgets = {},
                    .rate_limits = {}});
  CHECK(e3.decide("a.b", {}, analyst, no_usage).rule == "glob-high");
  CHECK(e3.decide("a.c", {}, analyst, no_usage).rule == "glob-high");  // deny beats allow at 2
}

TEST_CASE("argument constraints", "[policy]") {
  auto allow_if = [](ArgConstraint c) {
    return engine(
        {.rules = {rule("r", Decision::allow, ToolMatch::exact("t.x"), 0, {}, {std::move(c)})},
         .budgets = {},
         .rate_limits = {}});
  };
  auto allowed = [](const PolicyEngine& e, const json& args) {
    return e.decide("t.x", args, analyst, no_usage).allowed();
  };
  auto eq = allow_if(ArgConstraint::equals("/region", "west"));
  CHECK(allowed(eq, {{"region", "west"}}));
  CHECK_FALSE(allowed(eq, {{"region", "east"}}));
  CHECK_FALSE(allowed(eq, json::object()));

  auto one_of = allow_if(ArgConstraint::one_of("/deck/account", {"A100", "A200"}));
  CHECK(allowed(one_of, {{"deck", {{"account", "A200"}}}}));
  CHECK_FALSE(allowed(one_of, {{"deck", {{"account", "A300"}}}}));

  auto re = allow_if(ArgConstraint::regex("/to", "[a-z.]+@example\\.com"));
  CHECK(allowed(re, {{"to", "sam@example.com"}}));
  CHECK_FALSE(allowed(re, {{"to", "sam@example.com.evil.org"}}));  // full match
  CHECK_FALSE(allowed(re, {{"to", 5}}));                           // strings only

  auto range = allow_if(ArgConstraint::range("/amount", 0.0, 100.0));
  CHECK(allowed(range, {{"amount", 100}}));
  CHECK(allowed(range, {{"amount", 0.5}}));
  CHECK_FALSE(allowed(range, {{"amount", 100.01}}));
  CHECK_FALSE(allowed(range, {{"amount", "50"}}));
  auto at_least = allow_if(ArgConstraint::range("/n", 10.0, std::nullopt));
  CHECK(allowed(at_least, {{"n", 1e9}}));
  CHECK_FALSE(allowed(at_least, {{"n", 9}}));

  auto len = allow_if(ArgConstraint::length_at_most("/body", 5));
  CHECK(allowed(len, {{"body", "héllo"}}));
  CHECK_FALSE(allowed(len, {{"body", "hello!"}}));
  CHECK(allowed(len, {{"body", {1, 2, 3}}}));
  CHECK_FALSE(allowed(len, {{"body", 12}}));

  auto present = allow_if(ArgConstraint::present("/items/0"));
  CHECK(allowed(present, {{"items", {1}}}));
  CHECK_FALSE(allowed(present, {{"items", json::array()}}));
  auto absent = allow_if(ArgConstraint::absent("/cc"));
  CHECK(allowed(absent, {{"to", "x"}}));
  CHECK_FALSE(allowed(absent, {{"cc", nullptr}}));
}

TEST_CASE("a deny rule with constraints overrides a broad allow", "[policy]") {
  auto e =
      engine({.rules = {rule("read-all", Decision::allow, ToolMatch::glob("*")),
                        rule("no-big-refunds", Decision::deny, ToolMatch::exact("payments.refund"),
                             5, {}, {ArgConstraint::range("/amount", 1000.0, std::nullopt)}),
                        rule("approve-mid", Decision::require_approval,
                             ToolMatch::exact("payments.refund"), 5, {},
                             {ArgConstraint::range("/amount", 100.0, 999.99)})},
              .budgets = {},
              .rate_limits = {}});
  CHECK(e.decide("payments.refund", {{"amount", 50}}, analyst, no_usage).allowed());
  CHECK(e.decide("payments.refund", {{"amount", 500}}, analyst, no_usage).decision ==
        Decision::require_approval);
  auto d = e.decide("payments.refund", {{"amount", 5000}}, analyst, no_usage);
  CHECK(d.decision == Decision::deny);
  CHECK(d.rule == "no-big-refunds");
}

TEST_CASE("tool permissions are required before rules", "[policy]") {
  auto e = engine({.rules = {rule("all", Decision::allow, ToolMatch::glob("*"))},
                   .budgets = {},
                   .rate_limits = {}});
  rein::ToolSpec s;
  s.name = "slides.make";
  s.permissions = {"manager"};
  auto d = e.decide(s, json::object(), analyst, no_usage);
  CHECK(d.decision == Decision::deny);
  CHECK(d.rule == "permissions");
  CHECK(d.reason == "tool 'slides.make' needs one of [manager]; principal 'u1' has [analyst]");
  CHECK(e.decide(s, json::object(), manager, no_usage).allowed());
}

TEST_CASE("budgets deny with budget_exhausted set", "[policy]") {
  rein::Budgets b;
  b.max_steps = 3;
  b.max_tool_calls = 5;
  b.max_tool_calls_per_tool = {{"billing.mrr", 2}};
  b.max_tokens = 1000;
  b.max_cost = 0.5;
  b.max_wall_time = std::chrono::milliseconds(60'000);
  auto e = engine({.rules = {rule("all", Decision::allow, ToolMatch::glob("*")),
                             rule("deny-x", Decision::deny, ToolMatch::exact("x.denied"))},
                   .budgets = b,
                   .rate_limits = {}});
  rein::Usage u;
  CHECK(e.decide("billing.mrr", {}, analyst, u).allowed());
  CHECK_FALSE(e.check_run_budgets(u).has_value());

  auto expect = [&](const rein::Usage& usage, const std::string& rule_id) {
    auto d = e.decide("billing.mrr", {}, analyst, usage);
    INFO(rule_id);
    CHECK(d.decision == Decision::deny);
    CHECK(d.rule == rule_id);
    CHECK(d.budget_exhausted);
  };
  rein::Usage steps;
  steps.steps = 3;
  expect(steps, "budget.max_steps");
  CHECK(e.check_run_budgets(steps)->reason == "step budget exhausted: 3 of 3 steps used");
  rein::Usage calls;
  calls.tool_calls = 5;
  expect(calls, "budget.max_tool_calls");
  CHECK_FALSE(e.check_run_budgets(calls).has_value());  // calls are checked per call
  rein::Usage per_tool;
  per_tool.record_call("billing.mrr", 0, std::chrono::milliseconds(0));
  per_tool.record_call("billing.mrr", 1, std::chrono::milliseconds(0));
  expect(per_tool, "budget.max_tool_calls_per_tool");
  CHECK(e.decide("tickets.risks", {}, analyst, per_tool).allowed());
  rein::Usage tokens;
  tokens.tokens = 1000;
  expect(tokens, "budget.max_tokens");
  rein::Usage cost;
  cost.cost = 0.75;
  expect(cost, "budget.max_cost");
  rein::Usage wall;
  wall.wall_time = std::chrono::milliseconds(60'000);
  expect(wall, "budget.max_wall_time");

  // A rule's deny is reported as the rule's, not as a budget.
  auto d = e.decide("x.denied", {}, analyst, steps);
  CHECK(d.rule == "deny-x");
  CHECK_FALSE(d.budget_exhausted);
}

TEST_CASE("rate limits count calls in a sliding window per tool", "[policy]") {
  auto e = engine({.rules = {rule("all", Decision::allow, ToolMatch::glob("*"))},
                   .budgets = {},
                   .rate_limits = {{"billing.*", 2, std::chrono::milliseconds(1000)}}});
  CHECK(e.longest_rate_window() == std::chrono::milliseconds(1000));
  rein::Usage u;
  u.record_call("billing.mrr", 100, e.longest_rate_window());
  u.record_call("billing.mrr", 600, e.longest_rate_window());
  u.now_millis = 900;
  auto d = e.decide("billing.mrr", {}, analyst, u);
  CHECK(d.decision == Decision::deny);
  CHECK(d.rule == "rate_limit.billing.*");
  CHECK(d.reason == "rate limit for tool 'billing.mrr': at most 2 calls per 1000 ms, 2 made");
  CHECK(e.decide("billing.invoice", {}, analyst, u).allowed());  // counted per tool
  CHECK(e.decide("crm.search", {}, analyst, u).allowed());
  u.now_millis = 1100;  // the call at 100 has left the window
  CHECK(e.decide("billing.mrr", {}, analyst, u).allowed());
  u.record_call("billing.mrr", 2500, e.longest_rate_window());
  CHECK(u.per_tool["billing.mrr"].recent_call_millis == std::vector<std::int64_t>{2500});
  CHECK(u.per_tool["billing.mrr"].calls == 3);
}

TEST_CASE("create rejects bad rules, naming the rule and field", "[policy]") {
  auto err = [](rein::PolicySpec s) {
    return PolicyEngine::create(std::move(s)).error().message();
  };
  CHECK(err({.rules = {rule("", Decision::allow, ToolMatch::exact("a"))},
             .budgets = {},
             .rate_limits = {}}) == "policy: rules[0]: field 'id' is required");
  CHECK(err({.rules = {rule("a", Decision::allow, ToolMatch::exact("a")),
                       rule("a", Decision::deny, ToolMatch::exact("b"))},
             .budgets = {},
             .rate_limits = {}}) ==
        "policy: rules[1] (id 'a'): field 'id' repeats an earlier rule's id");
  CHECK(err({.rules = {rule("r", Decision::allow, ToolMatch::regex("(("))},
             .budgets = {},
             .rate_limits = {}})
            .rfind("policy: rules[0] (id 'r'): field 'tool_regex' is not a valid RE2 pattern", 0) ==
        0);
  CHECK(err({.rules = {rule("r", Decision::allow, ToolMatch::exact("t"), 0, {},
                            {ArgConstraint::present("x")})},
             .budgets = {},
             .rate_limits = {}}) ==
        "policy: rules[0] (id 'r'): args[0]: field 'pointer' is not a JSON pointer: 'x'");
  CHECK(err({.rules = {rule("r", Decision::allow, ToolMatch::exact("t"), 0, {},
                            {ArgConstraint::range("/a", 5.0, 1.0)})},
             .budgets = {},
             .rate_limits = {}}) ==
        "policy: rules[0] (id 'r'): args[0]: field 'range' has min > max");
  CHECK(
      err({.rules = {}, .budgets = {}, .rate_limits = {{"t", 1, std::chrono::milliseconds(0)}}}) ==
      "policy: rate_limits[0]: field 'window_ms' must be positive");
}

TEST_CASE("concurrency: one engine decides on many threads", "[concurrency]") {
  auto e = engine({.rules = {rule("re", Decision::allow, ToolMatch::exact("t.x"), 0, {"analyst"},
                                  {ArgConstraint::regex("/q", "[a-z]+")})},
                   .budgets = {},
                   .rate_limits = {}});
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        const bool good = i % 2 == 0;
        auto d = e.decide("t.x", {{"q", good ? "abc" : "ABC"}}, analyst, no_usage);
        if (d.allowed() != good) ++wrong;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(wrong == 0);
}

TEST_CASE("regex constraints agree with plain RE2 full matching on random input", "[policy]") {
  // The engine skips a regex run when the value lies outside the range of strings the regex
  // can match; this checks that shortcut never changes an answer.
  const std::vector<std::string> patterns = {
      "A[0-9]{3}", "Z[0-9]{3}-1", "[a-c]+x?", "(?i)ab.*", "abc|abd|b", "", "\\d+", "[^a]*"};
  const std::string alphabet = "aAbBcdxZ019-\xc3\xa9";
  std::mt19937 rng(5);
  for (const auto& p : patterns) {
    auto e = engine({.rules = {rule("r", Decision::allow, ToolMatch::exact("t.x"), 0, {},
                                    {ArgConstraint::regex("/v", p)})},
                     .budgets = {},
                     .rate_limits = {}});
    RE2 re(p);
    for (int i = 0; i < 2000; ++i) {
      std::string text;
      const auto length = rng() % 6;
      for (unsigned k = 0; k < length; ++k)
        text += alphabet[rng() % alphabet.size()];
      INFO(p << " on '" << text << "'");
      REQUIRE(e.decide("t.x", {{"v", text}}, analyst, no_usage).allowed() ==
              RE2::FullMatch(text, re));
    }
  }
}

TEST_CASE("decisions stay right for more tool names than the engine caches", "[policy]") {
  auto e = engine({.rules = {rule("svc", Decision::allow, ToolMatch::glob("svc.*")),
                             rule("deny-7", Decision::deny, ToolMatch::regex("svc\\.t7.*"), 1)},
                   .budgets = {},
                   .rate_limits = {}});
  for (int i = 0; i < 6000; ++i) {
    const std::string tool = "svc.t" + std::to_string(i);
    const bool denied = tool.rfind("svc.t7", 0) == 0;
    REQUIRE(e.decide(tool, {}, analyst, no_usage).allowed() == !denied);
    REQUIRE_FALSE(e.decide("other.t" + std::to_string(i), {}, analyst, no_usage).allowed());
  }
}

TEST_CASE("check_llm_call refuses a model call that would go over the token or cost budget",
          "[policy]") {
  rein::PolicySpec spec;
  spec.budgets.max_tokens = 1000;
  spec.budgets.max_cost = 0.50;
  auto engine = PolicyEngine::create(spec);
  REQUIRE(engine.ok());
  rein::Usage used;
  used.tokens = 600;
  used.cost = 0.10;
  CHECK_FALSE(engine->check_llm_call(used, 400, 0.40).has_value());  // exactly fills both
  auto tokens = engine->check_llm_call(used, 401, 0.0);
  REQUIRE(tokens.has_value());
  CHECK(tokens->rule == "budget.max_tokens");
  CHECK(tokens->budget_exhausted);
  CHECK(tokens->reason == "token budget: the call needs about 401 tokens but 400 of 1000 are left");
  auto cost = engine->check_llm_call(used, 10, 0.41);
  REQUIRE(cost.has_value());
  CHECK(cost->rule == "budget.max_cost");
  CHECK_FALSE(PolicyEngine().check_llm_call(used, 1'000'000, 99.0).has_value());  // no budgets set
}

TEST_CASE("budgets: the tighter of two, and what is left split among callers", "[policy]") {
  using namespace std::chrono_literals;
  using rein::Budgets;
  using rein::Usage;
  Budgets own;
  own.max_steps = 10;
  own.max_cost = 1.0;
  own.max_tool_calls_per_tool = {{"a", 5}, {"b", 2}};
  Budgets carve;
  carve.max_steps = 4;
  carve.max_tokens = 300;
  carve.max_tool_calls_per_tool = {{"a", 3}};
  const Budgets both = rein::tighter(own, carve);
  CHECK(both.max_steps == 4);
  CHECK(both.max_cost == 1.0);
  CHECK(both.max_tokens == 300);
  CHECK_FALSE(both.max_tool_calls.has_value());
  CHECK(both.max_tool_calls_per_tool ==
        std::map<std::string, std::int64_t, std::less<>>{{"a", 3}, {"b", 2}});
  CHECK(rein::tighter(Budgets{}, Budgets{}) == Budgets{});

  Budgets b;
  b.max_steps = 10;
  b.max_tool_calls = 9;
  b.max_tokens = 1000;
  b.max_cost = 3.0;
  b.max_wall_time = 60s;
  b.max_tool_calls_per_tool = {{"a", 5}};
  Usage used;
  used.steps = 4;
  used.tool_calls = 12;  // past its budget: nothing left, never negative
  used.tokens = 400;
  used.cost = 1.5;
  used.wall_time = 20s;
  const Budgets left = rein::remaining(b, used, 3, 10s);
  CHECK(left.max_steps == 2);
  CHECK(left.max_tool_calls == 0);
  CHECK(left.max_tokens == 200);
  CHECK(*left.max_cost == Approx(0.5));
  CHECK(left.max_wall_time == 30s);  // not split: callers side by side share the clock
  CHECK(left.max_tool_calls_per_tool.empty());
  CHECK(rein::remaining(Budgets{}, used) == Budgets{});
  CHECK(rein::remaining(b, used, 0).max_steps == 6);  // no callers counts as one

  Usage u;
  u.add({2, 3, 100, 0.5});
  u.add({1, 1, 10, 0.25});
  CHECK(u.steps == 3);
  CHECK(u.tool_calls == 4);
  CHECK(u.tokens == 110);
  CHECK(u.cost == Approx(0.75));
}
