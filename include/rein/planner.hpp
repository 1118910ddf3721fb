// rein::Planner: decides what the run does next.
//
// The runtime asks its planner when the current plan has nothing left to do, and again when a
// critic asks for a replan. The planner answers with one PlanDecision:
//   - steps: tool calls forming a DAG (each step names the ids it depends on; a step may
//     depend on steps of earlier rounds); they are added to the run's plan;
//   - finish: the final answer (JSON), which the critic then verifies;
//   - ask: a question for a person; the run suspends (awaiting_input) until the host answers.
// A planner may be fixed code (StaticPlanner) or ask a model through PlanRequest::llm.
//
// An argument may be a reference to an earlier step's output, filled in when the step is
// authorized: {"$from": "<step id>"} for the whole output, {"$from": "<step id>", "pointer":
// "/rows/0/email"} for a part of it. The step named must be among the step's depends_on. The
// value filled in keeps the label of the output it came from (labels.hpp), so a planner that
// never reads tool results can still let tools supply values — and the policy sees exactly
// which argument came from where.
//
// Thread safety: the runtime calls a planner for one run at a time per run, but several runs
// may share a planner, so plan() and plan_async() must be safe to call concurrently
// (StaticPlanner is, provided its function is).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/agent_state.hpp"
#include "rein/error.hpp"
#include "rein/llm.hpp"
#include "rein/memory.hpp"
#include "rein/message.hpp"
#include "rein/task.hpp"
#include "rein/tool_registry.hpp"

namespace rein {

struct PlanDecision {
  enum class Kind { steps, finish, ask };
  Kind kind = Kind::steps;
  std::vector<PlanStep> steps{};
  nlohmann::json answer{};          // finish
  std::string question{};           // ask
  std::vector<Message> messages{};  // appended to the run's messages (e.g. the model's turn)
  // The planner (and any model it asked) read only the run's goal and input, never tool
  // results, observations or memory: the steps' arguments are then labelled trusted (apart
  // from the references they hold). Otherwise they get AgentState::context_label — whatever
  // the model may have read. Only set this when it is true of the planner's code.
  bool from_request_only = false;

  static PlanDecision run(std::vector<PlanStep> steps);
  static PlanDecision finish(nlohmann::json answer);
  static PlanDecision ask(std::string question);
};

// Why a replan was asked for.
struct ReplanRequest {
  std::string step_id{};               // the step that failed ("" when the final answer did)
  std::vector<std::string> reasons{};  // the critic's reasons
};

struct PlanRequest {
  const AgentState& state;
  const ToolRegistry& tools;
  // Calls the host's model with usage accounted and budgets enforced; unavailable when the
  // runtime has no LLM callback. Blocks the calling thread until the answer is in.
  std::function<Result<LlmResponse>(const LlmRequest&)> llm;
  std::optional<ReplanRequest> replan{};
  // RuntimeOptions::memory's manager (nullptr when none): planners may recall more, or
  // remember what they learned.
  std::shared_ptr<Memory> memory{};
  // The same without blocking: the planning task parks until the answer is in (set by the
  // Runtime; when empty, ask_model() falls back on `llm`).
  std::function<Task<Result<LlmResponse>>(LlmRequest)> ask;

  // For asynchronous planners: `co_await request.ask_model(r)` — through `ask` when set, else
  // through `llm`.
  Task<Result<LlmResponse>> ask_model(LlmRequest request) const;
};

class Planner {
 public:
  virtual ~Planner() = default;
  // An Error stops the run (status failed) unless it answers a replan request, in which case
  // the failed step is flagged for review and the run goes on. The runtime calls a planner
  // that is not asynchronous on its executor's blocking pool, so plan() may block.
  virtual Result<PlanDecision> plan(const PlanRequest& request) = 0;

  // Asynchronous planners (is_async() true) plan in a coroutine that parks, holding no
  // thread, while it waits on the model: `auto answer = co_await request.ask_model(r);`. The
  // request, and the state it refers to, outlive the task. The default runs plan().
  virtual bool is_async() const noexcept { return false; }
  virtual Task<Result<PlanDecision>> plan_async(const PlanRequest& request);

  // Whether every plan asks a model: Runtime::create then refuses an agent without one
  // (AgentConfig::llm), instead of the first run failing.
  virtual bool needs_model() const noexcept { return false; }
};

// Plans from host code: a function of the request (typically of the state's outputs and
// observations), or a fixed DAG.
class StaticPlanner final : public Planner {
 public:
  using PlanFn = std::function<Result<PlanDecision>(const PlanRequest&)>;
  using AnswerFn = std::function<nlohmann::json(const AgentState&)>;

  explicit StaticPlanner(PlanFn fn) : fn_(std::move(fn)) {}

  // Plans `steps` in the first round, then finishes with `answer(state)` (by default the
  // outputs of every step). A fixed plan cannot replan: replan requests get an error.
  static std::shared_ptr<StaticPlanner> fixed(std::vector<PlanStep> steps,
                                              AnswerFn answer = nullptr);

  Result<PlanDecision> plan(const PlanRequest& request) override;

 private:
  PlanFn fn_;
};

// Checks a proposed round against the run so far: ids present and unique (also against earlier
// rounds), dependencies known, no cycles. Returns an error naming the step at fault.
Status validate_plan(const std::vector<PlanStep>& steps, const AgentState& state);

}  // namespace rein
