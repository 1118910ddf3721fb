#include <catch2/catch.hpp>

#include "rein/agent_state.hpp"

using nlohmann::json;

namespace {
rein::AgentState sample() {
  rein::AgentState s;
  s.run_id = "run-1";
  s.goal = "QBR for the west";
  s.principal = {"riley", {"analyst"}};
  s.input = {{"region", "west"}};
  s.messages.push_back({"user", "hello", {}, "", ""});
  s.messages.push_back(
      {"assistant",
       "",
       {{"c1", "billing__mrr", {{"account_id", "A100"}}, "{\"account_id\":\"A100\"}"}},
       "",
       ""});
  s.observations.push_back({"crm-webhook", {{"event", "renewal"}}, 0.8, false, 1, 1234});
  rein::StepState st;
  st.step = {"mrr", "billing.mrr", {{"account_id", "A100"}}, {"accounts"}, "need revenue"};
  st.status = rein::StepStatus::succeeded;
  st.round = 2;
  st.attempts = 2;
  st.retries = 1;
  st.idempotency_key = "run-1:mrr";
  st.decision =
      rein::PolicyDecision{rein::Decision::allow, "read", "rule 'read' allows the call", false};
  st.result =
      rein::ToolResult::success({{"current_mrr", 5}}, {{"source", "billing://mrr/A100", "x"}});
  st.verdict = rein::Verdict::retry("stale");
  st.approval = rein::Approval{"approval-1", "approved", "r", "why", "ok", 1, 2};
  s.steps.push_back(st);
  s.step_index = 3;
  s.planning_rounds = 2;
  s.usage.steps = 3;
  s.usage.record_call("billing.mrr", 100, std::chrono::milliseconds(1000));
  s.usage.tokens = 42;
  s.usage.cost = 0.25;
  s.usage.wall_time = std::chrono::milliseconds(77);
  s.metrics.errors_by_tool["billing.mrr"] = 1;
  s.metrics.retries = 1;
  s.status = rein::RunStatus::needs_review;
  s.status_reason = "why";
  s.outputs["mrr"] = {{"current_mrr", 5}};
  s.final_answer = json{{"slides", 1}};
  s.partial = false;
  s.needs_review.push_back({"usage", "critic", {"stale data"}, {{"x", 1}}});
  s.answers.push_back("yes");
  s.replan_step = "usage";
  s.replan_reasons = {"try another source"};
  s.audit_head = "abc";
  s.audit_count = 9;
  s.created_millis = 10;
  s.updated_millis = 20;
  return s;
}
}  // namespace

TEST_CASE("AgentState round-trips exactly through its versioned JSON", "[state]") {
  const auto s = sample();
  const json j = s.to_json();
  CHECK(j["format_version"] == rein::AgentState::kFormatVersion);
  auto back = rein::AgentState::from_json(j);
  REQUIRE(back.ok());
  CHECK(back->to_json() == j);
  CHECK(back->steps.at(0).result == s.steps.at(0).result);
  CHECK(back->messages == s.messages);
  CHECK(back->observations == s.observations);
  CHECK(back->needs_review == s.needs_review);
  CHECK(back->metrics == s.metrics);
  CHECK(back->final_answer == s.final_answer);
  CHECK(back->usage.per_tool.at("billing.mrr").recent_call_millis ==
        std::vector<std::int64_t>{100});
  // The text form, written without a json tree, is the same document.
  CHECK(json::parse(s.to_json_text()) == j);

  rein::AgentState empty;  // defaults round-trip too (no final answer is not a null answer)
  auto empty_back = rein::AgentState::from_json(empty.to_json());
  REQUIRE(empty_back.ok());
  CHECK_FALSE(empty_back->final_answer.has_value());
  rein::AgentState null_answer;
  null_answer.final_answer = json();
  CHECK(rein::AgentState::from_json(null_answer.to_json())->final_answer.has_value());
}

TEST_CASE("AgentState::from_json rejects other versions and malformed fields, naming them",
          "[state]") {
  json j = sample().to_json();
  j["format_version"] = 2;
  CHECK(rein::AgentState::from_json(j).error().message() ==
        "agent state: format_version 2 is not supported (this rein reads 1)");
  j = sample().to_json();
  j["status"] = "sleeping";
  CHECK(rein::AgentState::from_json(j).error().message() ==
        "agent state: field 'status' has unknown value 'sleeping'");
  j = sample().to_json();
  j["steps"][0]["result"]["status"] = 5;
  CHECK(rein::AgentState::from_json(j).error().message() ==
        "agent state.steps[0].result: tool result: field 'status' must be a string");
  j = sample().to_json();
  j.erase("run_id");
  CHECK(rein::AgentState::from_json(j).error().message() ==
        "agent state: field 'run_id' is required");
  j = sample().to_json();
  j["usage"]["tokens"] = "many";
  CHECK(rein::AgentState::from_json(j).error().message() ==
        "agent state.usage: field 'tokens' must be an integer");
  CHECK(rein::AgentState::from_json(json::array()).error().message() ==
        "agent state: must be an object");
}

TEST_CASE("run status classification", "[state]") {
  using rein::RunStatus;
  for (auto s : {RunStatus::completed, RunStatus::needs_review, RunStatus::budget_exhausted,
                 RunStatus::failed, RunStatus::cancelled}) {
    CHECK(rein::is_terminal(s));
    CHECK_FALSE(rein::is_suspended(s));
    CHECK(rein::run_status_from_string(rein::to_string(s)) == s);
  }
  for (auto s : {RunStatus::awaiting_approval, RunStatus::awaiting_input}) {
    CHECK(rein::is_suspended(s));
    CHECK_FALSE(rein::is_terminal(s));
  }
  CHECK_FALSE(rein::is_terminal(RunStatus::running));
}
