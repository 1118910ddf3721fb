// Multi-agent patterns as planners over sub-runs: orchestrator-worker, pipeline, debate and
// (by nesting orchestrators) hierarchy. See docs/multi-agent.md for when to use which.
//
// Each pattern is a Planner for the agent that coordinates: its plan's steps call other
// agents through their agent tools (agent_tool.hpp), so the runtime's loop does the rest, as
// for any plan — independent steps run side by side (at most RuntimeOptions::max_parallel_calls
// at once), dependencies wait, the critic judges each worker's result (accept, retry with a
// fresh child run, replan, flag for review, fail), a flagged step's dependents are skipped,
// and every child runs under the rules of delegation.hpp. A worker's result reaches the steps
// that depend on it as a reference ({"$from": id, "pointer": "/answer"}), which keeps its label.
//
// The agent tools are named "agent." + the worker agent's name (AgentToolOptions' default);
// a planner checks, when it plans, that every agent it names has its tool, and fails the run
// naming the one that has not.
//
// Thread safety: the planners are immutable once made; their functions must be safe to call
// concurrently (several runs may share a planner).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"
#include "rein/planner.hpp"

namespace rein {

// One piece of an orchestrator's goal, for one worker agent.
struct SubTask {
  std::string id{};     // unique within the run (plan step ids)
  std::string agent{};  // the worker (its tool: "agent." + agent)
  std::string task{};   // the worker's goal
  // More for the worker (its RunRequest::input holds {"task", "input"}): may hold references
  // to the results of sub-tasks it depends on ({"$from": id, "pointer": "/answer"}).
  nlohmann::json input{};
  std::vector<std::string> depends_on{};
};

// How a worker's result stands at the end.
struct SubTaskResult {
  std::string id{};
  std::string agent{};
  StepStatus status = StepStatus::pending;  // succeeded, or why not
  nlohmann::json answer{};                  // the worker's answer (null unless it succeeded)
  std::vector<std::string> issues{};        // why it did not succeed, for people
};

// The results of a coordinating run's sub-tasks, in plan order.
std::vector<SubTaskResult> subtask_results(const AgentState& state);

// Orchestrator-worker: split the goal into sub-tasks with dependencies, run the independent
// ones in parallel, handle failures as the critic decides (a retried worker gets a fresh child
// run; on a replan the decomposition is asked again, with PlanRequest::replan saying what
// failed), and synthesise the results into the final answer.
//
// Use it when the work splits into parts that need different skills, tools or permissions,
// some of them independent of each other; the workers' policies keep each one narrow.
struct OrchestratorOptions {
  using Decompose = std::function<Result<std::vector<SubTask>>(const PlanRequest&)>;
  using Synthesize =
      std::function<Result<nlohmann::json>(const AgentState&, const std::vector<SubTaskResult>&)>;
  // Required: the sub-tasks for this round (empty: nothing more to do). Host code, or a model
  // (model_decomposition()).
  Decompose decompose{};
  // The final answer from the results. Default: {"results": {id: answer}, "flagged": [{"id",
  // "agent", "status", "issues"}]} — the flagged ones only when there are some.
  Synthesize synthesize{};
  // Rounds of decomposition at most (the first, then one per replan).
  int max_rounds = 3;
};

class OrchestratorPlanner final : public Planner {
 public:
  // invalid_argument when `decompose` is missing or max_rounds < 1.
  static Result<std::shared_ptr<OrchestratorPlanner>> create(OrchestratorOptions options);
  Result<PlanDecision> plan(const PlanRequest& request) override;
  bool needs_model() const noexcept override { return false; }

 private:
  explicit OrchestratorPlanner(OrchestratorOptions options) : options_(std::move(options)) {}
  OrchestratorOptions options_;
};

// A decomposition asked of the run's model: it is shown the goal, the worker agents (their
// tools' descriptions) and, on a replan, what failed, and answers with JSON
//   {"subtasks": [{"id", "agent", "task", "input"?, "depends_on"?}]}.
// An answer that does not parse or names an unknown agent is sent back once with the error;
// a second bad answer fails the round, naming the field at fault.
struct ModelDecompositionOptions {
  std::string instructions{};  // added to the system prompt
  int max_repairs = 1;
};
OrchestratorOptions::Decompose model_decomposition(ModelDecompositionOptions options = {});

// Pipeline: each stage's verified output is the next stage's input. A stage that does not
// succeed stops the pipeline: later stages are skipped, and the final answer names the stage
// that failed and the partial results of those before it.
//
// Use it when the work is a fixed sequence of transformations (extract → analyse → write),
// each best done by its own agent.
struct PipelineStage {
  std::string id{};  // "" → the agent's name
  std::string agent{};
  std::string task{};
};

class PipelinePlanner final : public Planner {
 public:
  // invalid_argument for no stages, a stage without agent or task, or duplicate ids.
  static Result<std::shared_ptr<PipelinePlanner>> create(std::vector<PipelineStage> stages);
  // The final answer: {"output": <last stage's answer> (null unless all succeeded),
  //   "stages": {id: answer} (those that succeeded), "failed_stage": id (when one failed),
  //   "complete": bool}.
  Result<PlanDecision> plan(const PlanRequest& request) override;

 private:
  explicit PipelinePlanner(std::vector<PipelineStage> stages) : stages_(std::move(stages)) {}
  std::vector<PipelineStage> stages_;
};

// Debate: several agents answer the same question independently (side by side), then a judge
// agent is given the question and every answer, and decides. Disagreements are recorded: the
// final answer holds every answer, whether they agreed, and which differed from the verdict.
//
// Use it when a question has no checkable answer and independent views catch each other's
// mistakes (an assessment, a diagnosis, a risk rating).
struct DebateOptions {
  std::vector<std::string> debaters{};  // at least two agents
  std::string judge{};
  std::string question{};  // "" → the run's goal
  // What the judge's answer is compared with the debaters' by: a JSON pointer into both
  // ("" compares whole answers).
  std::string compare_pointer{};
};

class DebatePlanner final : public Planner {
 public:
  // invalid_argument for fewer than two debaters, no judge or a malformed compare_pointer.
  static Result<std::shared_ptr<DebatePlanner>> create(DebateOptions options);
  // The final answer: {"verdict": <judge's answer>, "answers": {debater step id: answer},
  //   "agreed": bool, "dissent": [ids whose answers differ from the verdict]}. "verdict" is
  //   null when the judge did not succeed (its step is then flagged for review).
  Result<PlanDecision> plan(const PlanRequest& request) override;

 private:
  explicit DebatePlanner(DebateOptions options) : options_(std::move(options)) {}
  DebateOptions options_;
};

}  // namespace rein
