// rein::JsonPlanPlanner: asks a model for a whole plan as JSON, checks it, and shows it to the
// host before it runs.
//
// Each planning round the model sees the host's instructions, the tool catalog (names,
// descriptions, argument schemas), the task, the steps so far with their outputs (marked
// untrusted, see prompt.hpp) and, on a replan, the failed step with the critic's reasons. It
// answers with one JSON object, one of:
//   {"steps": [{"id": "s1", "tool": "crm.search", "arguments": {...},
//               "depends_on": [], "why": "..."}, ...]}
//   {"final_answer": <any JSON>}
//   {"question": "what to ask the user"}
// The answer is checked: valid JSON (a ```json fence is tolerated), known tools (registry or
// wire names), arguments valid against each tool's schema, unique ids, known dependencies,
// no cycles. Every problem found is fed back to the model, which gets max_repairs attempts
// to correct it; then the planner returns an error naming the problems.
//
// Plan-then-execute (`plan_then_execute`, see docs/security.md): the model plans once from the
// trusted request alone — the goal, the input and the user's answers, never a tool result, an
// observation or memory — so nothing it reads can carry an injected instruction. Arguments
// that need a value from a tool name it with a reference ({"$from": "s1", "pointer": "/to"},
// planner.hpp), left unchecked against the schema until it is filled in; the answer may hold a
// "final_answer" template of references next to "steps", filled in from the outputs once the
// steps are done (by default: every step's output). A replan tells the model only which step
// failed, never why (the reasons may quote a result). The steps are labelled trusted
// (PlanDecision::from_request_only) apart from their references.
//
// Plan visibility: with `approve` set, a valid plan is shown to the host before it runs. The
// host approves it, asks for a revision (its feedback goes to the model, at most
// max_revisions times) or rejects it (the planner returns permission_denied with the reason).
//
// Thread safety: plan() may be called concurrently (the options are read-only); `approve` must
// allow that too.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/planner.hpp"
#include "rein/prompt.hpp"

namespace rein {

struct PlanReview {
  enum class Kind { approve, revise, reject };
  Kind kind = Kind::approve;
  std::string feedback{};  // revise: what to change; reject: why

  static PlanReview approved() { return {}; }
  static PlanReview revise(std::string feedback) { return {Kind::revise, std::move(feedback)}; }
  static PlanReview reject(std::string reason) { return {Kind::reject, std::move(reason)}; }
};
using PlanApprovalFn =
    std::function<PlanReview(const std::vector<PlanStep>& steps, const AgentState& state)>;

enum class ResponseFormatMode { none, json_object, json_schema };

struct JsonPlanOptions {
  std::string instructions{};  // the host's system instructions: role, rules, style
  std::string model{};         // "" → the callback's default
  std::optional<double> temperature = 0.0;
  std::optional<int> max_tokens = 2048;
  ResponseFormatMode response_format = ResponseFormatMode::json_schema;
  int max_repairs = 2;       // corrections after an invalid answer
  int max_revisions = 2;     // rounds of host feedback per planning round
  PlanApprovalFn approve{};  // nullptr: plans run without being shown
  PromptOptions prompt{};
  std::vector<std::string> tags = {"planner"};
  std::string complexity{};  // for LlmGateway routing
  bool plan_then_execute = false;
};

class JsonPlanPlanner final : public Planner {
 public:
  explicit JsonPlanPlanner(JsonPlanOptions options = {});
  // Blocks until the plan is made (sync_wait of plan_async).
  Result<PlanDecision> plan(const PlanRequest& request) override;
  // Asynchronous end to end, repairs included: the task parks while the model answers.
  bool is_async() const noexcept override { return true; }
  bool needs_model() const noexcept override { return true; }
  Task<Result<PlanDecision>> plan_async(const PlanRequest& request) override;

  // The messages of the first request of a round (system and user), for hosts and tests.
  std::vector<Message> prompt(const PlanRequest& request) const;

 private:
  JsonPlanOptions options_;
};

// Parses and checks a model's answer against the catalog and the run. The error lists every
// problem found, one per line, each naming the field ("steps[1].tool: unknown tool 'x'").
Result<PlanDecision> parse_json_plan(std::string_view text, const ToolRegistry& tools,
                                     const AgentState& state);
// The same for plan_then_execute: "steps" may come with a "final_answer" template, and
// arguments holding references are checked against the schema only once filled in.
Result<PlanDecision> parse_json_plan_then_execute(std::string_view text, const ToolRegistry& tools,
                                                  const AgentState& state);
// The JSON Schema of an answer (used as the response_format).
const nlohmann::json& json_plan_schema();

}  // namespace rein
