#include <catch2/catch.hpp>

#include "rein/planner.hpp"

using nlohmann::json;
using rein::PlanStep;

namespace {
PlanStep step(std::string id, std::vector<std::string> deps = {}) {
  return {std::move(id), "t.x", json::object(), std::move(deps), ""};
}
std::string invalid(const std::vector<PlanStep>& steps, const rein::AgentState& state = {}) {
  auto s = rein::validate_plan(steps, state);
  return s.ok() ? "(valid)" : s.error().message();
}
}  // namespace

TEST_CASE("validate_plan accepts DAGs and names what is wrong otherwise", "[planner]") {
  CHECK(invalid({step("a"), step("b", {"a"}), step("c", {"a", "b"})}) == "(valid)");
  CHECK(invalid({}) == "invalid plan: no steps (finish with an answer instead)");
  CHECK(invalid({step("")}) == "invalid plan: a step has an empty id");
  CHECK(invalid({step("a"), step("a")}) == "invalid plan: step id 'a' is used twice");
  CHECK(invalid({step("a", {"a"})}) == "invalid plan: step 'a' depends on itself");
  CHECK(invalid({step("a", {"zz"})}) == "invalid plan: step 'a' depends on unknown step 'zz'");
  CHECK(invalid({step("a", {"c"}), step("b", {"a"}), step("c", {"b"})}) ==
        "invalid plan: the dependencies of step 'a' form a cycle");
  PlanStep no_tool = step("a");
  no_tool.tool.clear();
  CHECK(invalid({no_tool}) == "invalid plan: step 'a' names no tool");
  PlanStep bad_args = step("a");
  bad_args.args = json::array();
  CHECK(invalid({bad_args}) == "invalid plan: step 'a': args must be a JSON object");

  rein::AgentState earlier;
  rein::StepState done;
  done.step = step("accounts");
  earlier.steps.push_back(done);
  CHECK(invalid({step("mrr", {"accounts"})}, earlier) == "(valid)");  // depends on an earlier round
  CHECK(invalid({step("accounts")}, earlier) == "invalid plan: step id 'accounts' is used twice");
}

TEST_CASE("a fixed StaticPlanner plans once, then finishes, it cannot replan", "[planner]") {
  auto planner = rein::StaticPlanner::fixed({step("a"), step("b", {"a"})});
  rein::ToolRegistry tools;
  rein::AgentState state;
  auto first = planner->plan({state, tools, nullptr, std::nullopt});
  REQUIRE(first.ok());
  CHECK(first->kind == rein::PlanDecision::Kind::steps);
  CHECK(first->steps.size() == 2);
  state.planning_rounds = 1;
  state.outputs = {{"a", 1}, {"b", 2}};
  auto second = planner->plan({state, tools, nullptr, std::nullopt});
  REQUIRE(second.ok());
  CHECK(second->kind == rein::PlanDecision::Kind::finish);
  CHECK(second->answer == state.outputs);
  auto replan = planner->plan({state, tools, nullptr, rein::ReplanRequest{"a", {"bad"}}});
  CHECK(replan.error().message() == "a fixed plan cannot replan (step 'a')");

  auto custom = rein::StaticPlanner::fixed({step("a")}, [](const rein::AgentState& s) {
    return json{{"n", s.outputs.size()}};
  });
  CHECK(custom->plan({state, tools, nullptr, std::nullopt})->answer == json{{"n", 2}});
}
