// Internal: one turn of the loop, as stage functions with explicit inputs and outputs.
//
// Two words the loop keeps apart:
//   - a *turn* is one iteration of the loop (Runtime::step() takes one; AgentState::step_index
//     counts them, and budgets call them steps);
//   - a *step* is a node of the plan: a tool call the planner asked for (StepState).
//
// A turn, in the order take_turn() (turn.cpp) runs its stages:
//   stop_if_due   rules 2 and 4 of runtime.hpp, checked before anything else;
//   recover       steps left running by a crash: journaled, replayed under their key, settled
//                 by the host, or flagged → outcomes to verify;
//   observe       host observations (and, at the first turn, recalled memory) → the state;
//   plan          the planner, when the plan has nothing left to do or a replan is asked for →
//                 new steps, a final answer (verified at once) or a question;
//   authorize     every ready step through schema, permissions, policy and budgets → the calls
//                 to make, the invalid ones as outcomes, a budget stop;
//   act           the calls, concurrently, journaled as they finish → outcomes;
//   verify        the critic on every outcome, in plan order → step statuses, retries,
//                 replans, review items;
//   commit        the state and the turn's audit entries, in one transaction.
// Stages that may wait (plan, act, verify) are coroutines: a run parks there, holding no
// thread, and resumes on the executor when the model, the tool or the critic answers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "loop/runtime_core.hpp"
#include "loop/spans.hpp"
#include "rein/executor.hpp"
#include "rein/task.hpp"

namespace rein::detail {

// What every stage of one turn works with.
struct Turn {
  Turn(RuntimeCore& core, RunSlot& slot, AgentState& state, Executor& executor);

  RuntimeCore& core;
  RunSlot& slot;
  AgentState& state;
  Executor& executor;
  Env& env;
  ToolRegistry& tools;
  Tracer* tracer;
  std::string trace_id;
  SpanClock clock;
  std::string span_id;  // the turn's span: parent of the stages' spans
  Env::TimePoint started;
  std::int64_t millis;  // wall time of this turn, for its records
  RunStatus initial_status;
  const PolicyEngine& policy;       // the agent's, with the run's carve (RuntimeCore::policy_for)
  std::vector<AuditEntry> entries;  // the turn's audit entries, committed with its state
  // Tokens and cost of model calls of the planning round in progress.
  std::int64_t llm_tokens = 0;
  double llm_cost = 0.0;

  void audit(std::string kind, const nlohmann::json& payload);
  void audit_text(std::string kind, std::string payload);
  SpanRecorder span(std::string name) {
    return SpanRecorder(tracer, clock, trace_id, span_id, std::move(name));
  }
};

// A call the turn will make.
struct Call {
  StepState* step;
  const ToolSpec* spec;
};

// What came back for a step, to be verified.
struct Outcome {
  StepState* step;
  ToolResult result;
  bool executed;  // false: refused as invalid, or recovered from the journal
};

struct Authorized {
  std::vector<Call> calls;
  std::vector<Outcome> invalid;               // unknown tools, arguments against the schema
  std::optional<PolicyDecision> budget_stop;  // nothing further may start
};

// --- the stages, in order ---
bool stop_if_due(Turn& turn);
// Whether a crash left steps running (recover has work to do).
bool interrupted(const AgentState& state);
Task<std::vector<Outcome>> recover(Turn& turn);
void observe(Turn& turn);
// Whether the planner is asked this turn: nothing of the plan is left to do, or a replan was
// asked for.
bool planning_due(const AgentState& state);
// Asks the planner (call when planning_due). True when the turn goes on to authorize and act.
Task<bool> plan(Turn& turn);
Authorized authorize(Turn& turn);
// An Error only when the intent (the calls about to run) could not be committed.
Task<Result<std::vector<Outcome>>> act(Turn& turn, std::vector<Call> calls);
// Whether act may run right here, without parking (the turn's thread may block, and no call
// is to an asynchronous tool), and the same stage done so.
bool act_here(const Turn& turn, const std::vector<Call>& calls);
Result<std::vector<Outcome>> act_now(Turn& turn, std::vector<Call> calls);
Task<void> verify(Turn& turn, std::vector<Outcome> outcomes);
// Whether verify may run right here, without parking (a critic that neither waits nor blocks).
bool verify_here(const Turn& turn);
void verify_now(Turn& turn, std::vector<Outcome> outcomes);
// The critic on the final answer (the plan stage settles it at once).
Task<Verdict> review_answer(Turn& turn, const nlohmann::json& answer);
Task<Status> commit(Turn& turn);
// Commits the turn's state (with `checkpoint`, as RuntimeCore::commit) and its audit entries:
// parked on a store that commits asynchronously, else on the blocking pool.
Task<Status> commit_checkpoint(Turn& turn, bool checkpoint);
// The same for a store in memory, which never waits.
Status commit_now(Turn& turn);

// The whole turn of a loaded run whose slot the caller holds. An Error only when the store
// failed.
Task<Status> take_turn(Turn& turn);

// Calls the host's model for the planner, with budgets enforced and usage counted.
Task<Result<LlmResponse>> ask_llm(Turn& turn, LlmRequest request);
// Runs store work: right here for a store in memory, on the blocking pool otherwise.
template <typename Fn>
Task<std::invoke_result_t<Fn&>> store_io(Turn& turn, Fn fn) {
  if (!turn.core.store->durable()) co_return fn();
  co_return co_await turn.executor.blocking(std::move(fn));
}

// The labels of what the run takes in (label_flow.cpp).
Label observation_label(const Observation& observation);
// A step's result: the tool's own label, else its spec's; a refusal before it ran is labelled
// as its arguments are.
Label result_label(const ToolRegistry& tools, const StepState& step, const ToolResult& result);

std::string joined(const std::vector<std::string>& parts, const char* separator = "; ");
bool has_key_support(const ToolSpec& spec);

}  // namespace rein::detail
