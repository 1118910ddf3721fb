#include <catch2/catch.hpp>

#include "rein/critic.hpp"

using nlohmann::json;
using rein::VerdictKind;

namespace {
rein::StepState step_of(std::string tool) {
  rein::StepState s;
  s.step.id = "s1";
  s.step.tool = std::move(tool);
  return s;
}
}  // namespace

TEST_CASE("verdicts merge to the most severe kind and keep every reason", "[critic]") {
  rein::Verdict v;
  v.merge(rein::Verdict::retry("a"));
  v.merge(rein::Verdict::needs_review({"b"}));
  v.merge(rein::Verdict::retry("c"));
  CHECK(v.kind == VerdictKind::needs_review);
  CHECK(v.reasons == std::vector<std::string>{"a", "b", "c"});
  v.merge(rein::Verdict::fail("d"));
  CHECK(v.kind == VerdictKind::fail);
  CHECK(v.to_json() == json{{"kind", "fail"}, {"reasons", {"a", "b", "c", "d"}}});
}

TEST_CASE("RuleCritic collects every failing check on a result", "[critic]") {
  rein::ManualEnv env;
  rein::RuleCritic critic({.env = &env});
  critic.require_fields("billing.*", {"/current_mrr", "/series"})
      .require_range("billing.*", "/current_mrr", 0.0, std::nullopt)
      .require_evidence("*")
      .require_fresh("billing.*", "/as_of", std::chrono::minutes(5))
      .reject_stale("billing.*",
                    [](const rein::StepState&, const rein::ToolResult& r,
                       const rein::AgentState&) -> std::optional<std::string> {
                      if (r.data.value("flat_tail", false))
                        return "stale data: the series ends flat";
                      return std::nullopt;
                    })
      .check("tickets.*", [](const auto&, const auto&, const auto&) -> std::optional<std::string> {
        return "never for billing";
      });
  const rein::AgentState state;
  auto bad = rein::ToolResult::success(
      {{"current_mrr", -3}, {"as_of", env.unix_millis() - 600'000}, {"flat_tail", true}});
  auto v = critic.review_step(step_of("billing.mrr"), bad, state);
  CHECK(v.kind == VerdictKind::needs_review);
  CHECK(v.reasons == std::vector<std::string>{
                         "missing field: /series", "/current_mrr is -3, below the minimum 0.0",
                         "missing citations: the result carries no evidence",
                         "stale data: /as_of is 600000 ms old (limit 300000 ms)",
                         "stale data: the series ends flat"});

  auto good = rein::ToolResult::success(
      {{"current_mrr", 3}, {"series", {1, 2}}, {"as_of", env.unix_millis()}},
      {{"source", "billing://mrr/A1", ""}});
  CHECK(critic.review_step(step_of("billing.mrr"), good, state).accepted());

  // Only staleness fails: its kind (retry) is the verdict.
  auto stale = good;
  stale.data["flat_tail"] = true;
  auto sv = critic.review_step(step_of("billing.mrr"), stale, state);
  CHECK(sv.kind == VerdictKind::retry);
}

TEST_CASE("RuleCritic maps failed tool results by kind", "[critic]") {
  rein::RuleCritic critic;
  const rein::AgentState state;
  auto transient = rein::ToolResult::failure("503", true);
  CHECK(critic.review_step(step_of("x"), transient, state).kind == VerdictKind::retry);
  auto timeout = rein::ToolResult::failure("slow", true);
  timeout.status = rein::ToolStatus::timeout;
  auto tv = critic.review_step(step_of("x"), timeout, state);
  CHECK(tv.kind == VerdictKind::retry);
  CHECK(tv.reasons == std::vector<std::string>{"tool timeout: slow"});
  CHECK(critic.review_step(step_of("x"), rein::ToolResult::failure("404"), state).kind ==
        VerdictKind::needs_review);
  auto invalid = rein::ToolResult::failure("bad args");
  invalid.status = rein::ToolStatus::invalid_input;
  CHECK(critic.review_step(step_of("x"), invalid, state).kind == VerdictKind::needs_review);

  rein::RuleCritic strict({.on_transient_error = VerdictKind::fail});
  CHECK(strict.review_step(step_of("x"), transient, state).kind == VerdictKind::fail);
}

TEST_CASE("RuleCritic checks the final answer", "[critic]") {
  rein::RuleCritic critic;
  critic.require_output_fields({"/slides"})
      .require_output_range("/count", 1.0, 10.0)
      .check_output(
          [](const json& a, const rein::AgentState&) -> std::optional<std::string> {
            if (a.value("count", 0) == 7) return "seven is unlucky";
            return std::nullopt;
          },
          VerdictKind::replan);
  const rein::AgentState state;
  CHECK(critic.review_output({{"slides", json::array()}, {"count", 2}}, state).accepted());
  auto v = critic.review_output({{"count", 0}}, state);
  CHECK(v.kind == VerdictKind::needs_review);
  CHECK(v.reasons == std::vector<std::string>{"answer is missing field: /slides",
                                              "/count is 0, below the minimum 1.0"});
  CHECK(critic.review_output({{"slides", 1}, {"count", 7}}, state).kind == VerdictKind::replan);

  rein::RuleCritic broken;
  broken.require_output_fields({"no-slash"});
  CHECK(broken.review_output(json::object(), state).reasons ==
        std::vector<std::string>{"critic rule has an invalid JSON pointer: 'no-slash'"});
}
