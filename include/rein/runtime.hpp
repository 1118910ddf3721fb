// rein::Runtime: the observe → plan → authorize → act → verify loop.
//
// The agent is configuration (AgentConfig: tools, policy, planner, critic); the runtime owns
// the loop. Each step:
//   observe    take in host observations queued with observe() (and, at the first step,
//              what RuntimeOptions::memory recalls for the goal);
//   plan       ask the planner when nothing of the current plan is left to do, or after a
//              replan verdict; a final answer goes straight to the critic;
//   authorize  for every step whose dependencies succeeded: the tool exists, its arguments
//              satisfy its schema, the principal holds its permissions, the PolicyEngine
//              allows it within the budgets; require_approval parks the step;
//   act        run the authorized calls through ToolRegistry::invoke, concurrently (at most
//              RuntimeOptions::max_parallel_calls at once); side-effecting calls carry
//              idempotency keys and their outcomes are journaled as they finish;
//   verify     the critic judges each result, applied in plan order (so runs reproduce):
//              accept, retry (up to max_retries_per_step), replan (up to max_replans),
//              needs_review (flagged, dependents skipped), fail;
//   commit     the state and the step's audit entries, in one transaction.
//
// Termination — a run ends or suspends by exactly one of these rules:
//   1. Final answer verified: the critic accepts the planner's answer → completed, or
//      needs_review when any item of the run was flagged on the way.
//   2. Budget exhausted: a step, call, token, cost or wall-time budget (or the safety net
//      RuntimeOptions::max_steps) has no room → budget_exhausted; outputs are marked partial
//      and what was left undone is listed for review.
//   3. Unrecoverable error: the critic says fail, the planner errs, or the store cannot commit
//      → failed (a store failure is also returned as the Error of step()/run()).
//   4. Cancelled by the host: cancel() → cancelled, at the next step boundary; calls in
//      flight are told through their cancellation tokens.
//   5. Awaiting approval: steps wait for a person and nothing else can run → awaiting_approval
//      (suspended; approve()/deny(), then run() again — also after a restart).
//   6. Awaiting input: the planner asked a question → awaiting_input (suspended; answer(),
//      then run() again).
//
// Durability: with a durable RunStore (SqliteStore) a run survives a crash of the process.
// Before a step hands side-effecting calls to their tools, the state with those steps marked
// running is committed (the intent); each outcome is journaled as soon as the tool returns.
// On resume, a running step whose outcome was journaled is not run again; one whose tool has
// an idempotency key (key_pointer or key_required) is run again with the same key; a
// side-effecting step with neither is not replayed blindly: the host's reconcile callback
// decides, or it becomes a needs-review item. Side-effect-free steps are simply run again.
//
// Nothing throws into the host: tool, planner, critic and LLM exceptions become errors in the
// run's status, audit and trace.
//
// Threads: run() and step() take turns on the calling thread (synchronous tools of one turn on a
// small worker pool, max_parallel_calls); run_async() drives runs on an Executor (executor.hpp),
// where a run that waits holds no thread and synchronous callbacks run on its blocking pool.
// Destroying the Runtime cancels the runs it drives and waits until they have stopped.
//
// Thread safety: one Runtime may drive many runs from many threads at once; calls for the
// same run are serialised.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/agent_state.hpp"
#include "rein/audit.hpp"
#include "rein/critic.hpp"
#include "rein/env.hpp"
#include "rein/executor.hpp"
#include "rein/llm.hpp"
#include "rein/memory.hpp"
#include "rein/planner.hpp"
#include "rein/policy.hpp"
#include "rein/run_store.hpp"
#include "rein/tool_registry.hpp"
#include "rein/tracing.hpp"

namespace rein {

// The agent: what it may use and how it thinks. Shared by every run of a Runtime.
//
// The model belongs to the agent, next to the planner that asks it: two agents of one host
// (a cheap triage agent, a careful analyst) differ in their model as much as in their tools,
// while the runtime only accounts for the calls (budgets, usage, spans) whichever model
// answers. react_agent() (agent.hpp) fills this in for the common case.
struct AgentConfig {
  std::string name = "agent";
  std::shared_ptr<ToolRegistry> tools{};  // required
  PolicyEngine policy{};                  // deny by default: an empty policy allows nothing
  std::shared_ptr<Planner> planner{};     // required
  std::shared_ptr<Critic> critic{};       // nullptr: a RuleCritic with default options
  // The model planners (and model-based critics) ask, through PlanRequest::llm. Either may
  // be set; the asynchronous one is used when both are. Neither: planners that ask a model
  // get `unavailable` (fixed planners need none).
  LlmCallback llm{};
  AsyncLlmCallback llm_async{};
};

// Checks what Runtime::create checks: a registry and a planner are set, the critic's own
// configuration is valid (Critic::validate), and the options' limits are usable. The error
// names the field.
Status validate(const AgentConfig& agent);

// Long-term memory wired into the observe stage (opt-in): at a run's first step, items recalled
// for the goal (or query.text) become observations with source "memory:<kind>", their content,
// id, namespace, source, metadata and why they were picked; untrusted unless `trusted` is set,
// so planners show them to models as data. A failed recall is audited and the run goes on.
struct MemoryRecall {
  std::shared_ptr<Memory> manager{};  // nullptr: no recall (MemoryManager, or the host's own)
  RecallQuery query{};                // text "" → the run's goal
  // Recalled items are trusted observations only when this is true and the item itself is
  // (MemoryItem::trusted); they keep the item's confidentiality level.
  bool trusted = false;
};

// Decides the outcome of a side-effecting step whose outcome is unknown after a crash:
// return the result (e.g. found by asking the external system) or nullopt for "unknown".
using ReconcileFn = std::function<std::optional<ToolResult>(const AgentState&, const StepState&)>;

struct RuntimeOptions {
  Env* env = nullptr;                                     // nullptr: Env::system()
  std::shared_ptr<RunStore> store{};                      // nullptr: a MemoryRunStore
  std::vector<std::shared_ptr<AuditSink>> audit_sinks{};  // further copies of every entry
  std::shared_ptr<Tracer> tracer{};                       // nullptr: no spans
  ReconcileFn reconcile{};
  MemoryRecall memory{};               // recalled into the first observe stage
  std::size_t max_parallel_calls = 4;  // tool calls of one step running at once
  int max_retries_per_step = 1;        // critic retries of one plan step
  int max_replans = 2;                 // replans per run
  // Safety net against runaway loops: the most turns one run takes (its child runs' turns,
  // which count against its policy's step budget, do not count here).
  std::int64_t max_steps = 1000;
  // Where runs driven by run_async() advance, and where their synchronous callbacks block
  // (its blocking pool). nullptr: the runtime makes one from executor_options (its env
  // defaulting to this runtime's) the first time it is needed. Share one among runtimes to
  // keep the thread count fixed.
  std::shared_ptr<Executor> executor{};
  ExecutorOptions executor_options{};
};

// Told each time a run driven by run_async() stops: when it ends, and when it suspends for a
// person (rules 5 and 6) — approve(), deny(), answer() or cancel() then drive it on by
// themselves, and the callback is told again at the next stop. An Error when the store
// failed (the run is no longer driven). Called on an executor thread, outside any lock: it
// may call the Runtime, and should return soon.
using RunCallback = std::function<void(const Result<AgentState>& stopped)>;

struct RunRequest {
  std::string goal{};
  Principal principal{};
  nlohmann::json input{};  // for the planner (null when none)
  std::string run_id{};    // "" → generated
  // The run's place in a tree of runs (delegation.hpp): ancestors whose policies must also
  // allow each call, and a carve of budgets. Set by agent tools (agent_tool.hpp); a host may
  // set one too, which only narrows what the run may do. nullptr or empty: a top-level run.
  std::shared_ptr<const Delegation> delegation{};
};

class Runtime {
 public:
  // Checks the configuration (validate() and the options) and makes the runtime; the error
  // names what is missing or malformed. The way to make a Runtime.
  static Result<Runtime> create(AgentConfig agent, RuntimeOptions options = {});
  // Makes the runtime without checking: a configuration that create() would refuse makes
  // every start() fail with the same error. For configurations known to be good.
  explicit Runtime(AgentConfig agent, RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  // Moving hands over every run: the moved-from Runtime may only be destroyed or assigned.
  Runtime(Runtime&&) noexcept;
  Runtime& operator=(Runtime&&) noexcept;

  // Creates and commits a run (status running) without stepping it.
  Result<AgentState> start(RunRequest request);
  // One loop step; returns the status it leaves the run in (state() has the rest). A
  // terminal or still-suspended run is left unchanged.
  Result<RunStatus> step(std::string_view run_id);
  // Steps until the run ends or suspends. Resumes a run loaded from the store (after a crash
  // or a restart) the same way.
  Result<AgentState> run(std::string_view run_id);
  // start + run.
  Result<AgentState> run(RunRequest request);

  // The asynchronous API: start + drive the run on the executor without blocking, and return
  // its id at once. A run waiting on a model, a tool, a timer or a person holds no thread.
  // Errors are those of start(); later ones reach `on_stop`.
  Result<std::string> run_async(RunRequest request, RunCallback on_stop);
  // The same with a future of the run's first stop.
  std::future<Result<AgentState>> run_async(RunRequest request);
  // Drives an existing run the same way (after a restart, say). already_exists when the run is
  // driven by run_async already; not_found when there is no such run. A run that has ended
  // only has its final state told to `on_stop`, as run(run_id) would return it.
  Status resume_async(std::string_view run_id, RunCallback on_stop);
  // The executor run_async uses (made on first use when the options name none).
  Executor& executor();

  Result<AgentState> state(std::string_view run_id);
  Result<std::vector<PendingApproval>> pending_approvals();
  // Decide a pending approval; the run resumes on its next step()/run().
  Status approve(std::string_view run_id, std::string_view step_id, std::string note = {});
  Status deny(std::string_view run_id, std::string_view step_id, std::string note = {});
  // Answers the planner's question (awaiting_input).
  Status answer(std::string_view run_id, nlohmann::json answer);
  // Queues an observation for the run's next observe stage. Errors: not_found for a run that
  // does not exist, invalid_argument for one that has ended. An observation queued while the
  // run takes its last step is dropped with the run.
  Status observe(std::string_view run_id, Observation observation);
  // Ends the run at its next step boundary (at once if it is not being stepped). Cancelling an
  // ended run does nothing; a run that does not exist is not_found, and nothing is remembered
  // for a run started later under that id.
  Status cancel(std::string_view run_id);

  // Lets go of a run that is not being stepped: detaches it from run_async (its callback is not
  // told again) and forgets the copy held in memory, so that the next operation on it reads
  // the store. For runs kept in a store that other processes share, which may change them
  // meanwhile (RunWorker unloads each run it lets go of). Nothing happens for a run not held.
  // Errors: invalid_argument when the store is not durable (the copy in memory is the only
  // one); unavailable while a turn of the run is being taken (try again after it).
  Status unload(std::string_view run_id);

  // Runs the runtime holds in memory now: those being stepped, suspended or queued for. Ended
  // runs are let go (their state stays in the store, subject to its retention).
  std::size_t runs_in_memory();

  const AgentConfig& agent() const noexcept;
  RunStore& store() noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rein
