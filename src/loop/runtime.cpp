#include "rein/runtime.hpp"

#include <cstdio>
#include <thread>

#include "core/host_call.hpp"
#include "core/log.hpp"
#include "loop/driver.hpp"
#include "loop/runtime_core.hpp"
#include "loop/spans.hpp"
#include "loop/turn.hpp"
#include "policy/policy_internals.hpp"

namespace rein {

using nlohmann::json;

namespace {

Status validate(const RuntimeOptions& options) {
  if (options.max_parallel_calls == 0)
    return Error(ErrorCode::invalid_argument,
                 "RuntimeOptions::max_parallel_calls must be at least 1");
  if (options.max_retries_per_step < 0)
    return Error(ErrorCode::invalid_argument,
                 "RuntimeOptions::max_retries_per_step must not be negative");
  if (options.max_replans < 0)
    return Error(ErrorCode::invalid_argument, "RuntimeOptions::max_replans must not be negative");
  if (options.max_steps < 1)
    return Error(ErrorCode::invalid_argument, "RuntimeOptions::max_steps must be at least 1");
  return {};
}

}  // namespace

namespace detail {

RuntimeCore::RuntimeCore(AgentConfig agent_config, RuntimeOptions runtime_options)
    : agent(std::move(agent_config)),
      options(std::move(runtime_options)),
      env(options.env != nullptr ? options.env : &Env::system()),
      store(options.store != nullptr ? options.store : std::make_shared<MemoryRunStore>()),
      pool(std::max<std::size_t>(options.max_parallel_calls, 1)) {
  if (!agent.critic) agent.critic = std::make_shared<RuleCritic>(RuleCritic::Options{.env = env});
  configuration = validate(agent);
  if (configuration) configuration = validate(options);
}

std::shared_ptr<RunSlot> RuntimeCore::slot(const std::string& run_id) {
  std::lock_guard lock(slots_mutex);
  auto& s = slots[run_id];
  if (!s) s = std::make_shared<RunSlot>();
  return s;
}

void RuntimeCore::release(const std::string& run_id, std::shared_ptr<RunSlot> slot) {
  if (slot->resident.load(std::memory_order_acquire)) return;  // live: kept (the common case)
  std::lock_guard lock(slots_mutex);
  auto it = slots.find(run_id);
  // Only the map and `slot` hold it, and new holders take slots_mutex first: nobody else can
  // be reading or writing the slot now.
  if (it == slots.end() || it->second != slot || slot.use_count() != 2) return;
  if (slot->live || slot->has_queued) return;
  slots.erase(it);
}

std::size_t RuntimeCore::slot_count() {
  std::lock_guard lock(slots_mutex);
  return slots.size();
}

SlotHandle::SlotHandle(RuntimeCore& core, std::string run_id)
    : core_(core), run_id_(std::move(run_id)), slot_(core.slot(run_id_)) {}

SlotHandle::~SlotHandle() {
  core_.release(run_id_, std::move(slot_));
}

void RuntimeCore::let_go(RunSlot& slot) {
  if (!slot.live) return;
  // An ended run's final state is in the store; keeping a copy here only costs memory. A run
  // in a shared store is read afresh by the next operation unless a drive holds it: another
  // process may decide, answer or step it meanwhile.
  const bool ended = is_terminal(slot.live->status);
  if (!ended && !(store->shared() && !slot.driving.load(std::memory_order_acquire))) return;
  slot.drop();
  if (!ended) return;
  // Observations queued while the run took its last step can no longer be seen by it.
  std::lock_guard lock(slot.queue_mutex);
  slot.queued.clear();
  slot.has_queued = false;
}

Result<AgentState*> RuntimeCore::load(RunSlot& slot, const std::string& run_id) {
  if (slot.live) return &*slot.live;
  auto loaded = store->load(run_id);  // not_found: "no run '<id>'"
  if (!loaded) return std::move(loaded).error();
  slot.keep(std::move(*loaded));
  return &*slot.live;
}

const PolicyEngine& RuntimeCore::policy_for(RunSlot& slot, const AgentState& state) {
  const Delegation* d = state.delegation.get();
  if (d == nullptr || d->carve == Budgets{}) return agent.policy;
  if (slot.carved_policy && slot.carved_for == d) return *slot.carved_policy;
  PolicySpec spec = agent.policy.spec();
  spec.budgets = tighter(spec.budgets, d->carve);
  auto carved = PolicyEngine::create(std::move(spec));
  if (!carved) {
    // Cannot happen for a policy that compiled once; refusing everything is the safe side.
    logger()->error("rein: the carved policy of run '{}' does not compile: {}", state.run_id,
                    carved.error().message());
    carved = PolicyEngine();
  }
  slot.carved_policy = std::make_shared<const PolicyEngine>(std::move(*carved));
  slot.carved_for = d;
  return *slot.carved_policy;
}

Status RuntimeCore::commit(RunSlot&, AgentState& state, std::vector<AuditEntry>& entries,
                           bool checkpoint) {
  state.updated_millis = env->unix_millis();
  const bool with_state = checkpoint || store->durable();
  if (with_state) {
    if (auto s = store->commit(state, entries); !s) return s;
  }
  for (const auto& sink : options.audit_sinks) {
    if (auto s = call_host("an audit sink", [&] { return sink->write(entries); }); !s) {
      logger()->warn("rein: an audit sink failed: {}", s.error().message());
    }
  }
  if (!with_state) {
    auto s = store->append_audit(std::move(entries));
    entries.clear();
    return s;
  }
  entries.clear();
  return {};
}

Status take_turn_here(RuntimeCore& core, RunSlot& slot, AgentState& state) {
  // The calling thread is the executor of this turn: it may block, so blocking work runs
  // right here, and completions of asynchronous callbacks are handed back to it.
  if (!slot.here) {
    slot.here = std::make_unique<Executor>(
        ExecutorOptions{.host_driven = true, .env = core.env, .blocking_inline = true});
  }
  Executor& here = *slot.here;
  Turn turn(core, slot, state, here);
  std::optional<Status> out;
  start_detached(take_turn(turn), [&out](Status s) { out = std::move(s); });
  if (!out) here.run_until([&out] { return out.has_value(); });
  return std::move(*out);
}

std::string new_span_id(Env& env) {
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(env.random_u64() | 1));
  return id;
}

void append_audit(AgentState& state, std::vector<AuditEntry>& entries, Env& env, std::string kind,
                  const json& payload) {
  append_audit_text(state, entries, env.unix_millis(), std::move(kind), canonical_payload(payload));
}

void append_audit_text(AgentState& state, std::vector<AuditEntry>& entries,
                       std::int64_t time_millis, std::string kind, std::string payload) {
  entries.push_back(make_audit_entry(state.run_id, state.audit_count, state.audit_head,
                                     state.step_index, std::move(kind), std::move(payload),
                                     time_millis));
  state.audit_head = entries.back().hash;
  ++state.audit_count;
}

}  // namespace detail

struct Runtime::Impl {
  Impl(AgentConfig agent, RuntimeOptions options)
      : core(std::move(agent), std::move(options)), driver(core) {}
  detail::RuntimeCore core;
  detail::Driver driver;  // after core: it is stopped first

  // One step of the locked, loaded run; `view` picks what to return.
  template <typename View>
  auto stepped(std::string_view run_id, View view)
      -> Result<decltype(view(std::declval<const AgentState&>()))> {
    detail::SlotHandle slot(core, std::string(run_id));
    std::lock_guard lock(slot->mutex);
    Stepping stepping(*slot);
    auto state = core.load(*slot, slot.run_id());
    if (!state) return std::move(state).error();
    if (auto s = detail::take_turn_here(core, *slot, **state); !s) {
      slot->drop();
      return std::move(s).error();
    }
    auto out = view(**state);
    core.let_go(*slot);
    return out;
  }

  // Runs `fn(state, entries)` on the locked, loaded run and commits what it appended.
  template <typename Fn>
  Status change(std::string_view run_id, Fn fn) {
    detail::SlotHandle slot(core, std::string(run_id));
    std::lock_guard lock(slot->mutex);
    auto state = core.load(*slot, slot.run_id());
    if (!state) return std::move(state).error();
    std::vector<AuditEntry> entries;
    if (auto s = fn(**state, entries); !s) return s;
    if (entries.empty()) return {};
    if (auto s = core.commit(*slot, **state, entries); !s) {
      slot->drop();  // the store is the truth: reload next time
      return s;
    }
    core.let_go(*slot);
    driver.wake(slot.run_id());  // a run driven by run_async moves on by itself
    return {};
  }

  // Marks the slot as being stepped while it lives (the caller holds the slot's lock).
  class Stepping {
   public:
    explicit Stepping(detail::RunSlot& slot) : slot_(slot) {
      slot_.stepping.store(true, std::memory_order_release);
    }
    ~Stepping() { slot_.stepping.store(false, std::memory_order_release); }
    Stepping(const Stepping&) = delete;
    Stepping& operator=(const Stepping&) = delete;

   private:
    detail::RunSlot& slot_;
  };

  // Locks the slot unless a step holds it: cancel() and observe() must not wait for a step,
  // which may be waiting on tools. Other holders keep the lock briefly.
  static std::unique_lock<detail::SlotLock> lock_unless_stepping(detail::RunSlot& slot) {
    for (;;) {
      if (slot.stepping) return {};
      std::unique_lock lock(slot.mutex, std::try_to_lock);
      if (lock.owns_lock()) return lock;
      std::this_thread::yield();
    }
  }
};

Status validate(const AgentConfig& agent) {
  auto invalid = [&](std::string what) {
    return Error(ErrorCode::invalid_argument, "agent '" + agent.name + "': " + std::move(what));
  };
  if (!agent.tools) return invalid("AgentConfig::tools is null (no tool registry)");
  if (!agent.planner) return invalid("AgentConfig::planner is null");
  if (agent.planner->needs_model() && !agent.llm && !agent.llm_async) {
    return invalid("its planner asks a model, and AgentConfig::llm and llm_async are both empty");
  }
  if (agent.critic) {
    auto checked =
        detail::call_host("the critic's validate()", [&] { return agent.critic->validate(); });
    if (!checked) return invalid("AgentConfig::critic: " + checked.error().message());
  }
  return {};
}

Result<Runtime> Runtime::create(AgentConfig agent, RuntimeOptions options) {
  if (auto s = validate(agent); !s) return std::move(s).error();
  if (auto s = validate(options); !s) return std::move(s).error();
  return Runtime(std::move(agent), std::move(options));
}

Runtime::Runtime(AgentConfig agent, RuntimeOptions options)
    : impl_(std::make_unique<Impl>(std::move(agent), std::move(options))) {}

Runtime::~Runtime() = default;
Runtime::Runtime(Runtime&&) noexcept = default;
Runtime& Runtime::operator=(Runtime&&) noexcept = default;

const AgentConfig& Runtime::agent() const noexcept {
  return impl_->core.agent;
}
RunStore& Runtime::store() noexcept {
  return *impl_->core.store;
}

Result<AgentState> Runtime::start(RunRequest request) {
  auto& core = impl_->core;
  if (!core.configuration) return core.configuration.error();
  AgentState state;
  state.run_id = request.run_id.empty() ? core.env->new_id("run") : std::move(request.run_id);
  if (auto existing = core.store->load(state.run_id); existing) {
    return Error(ErrorCode::already_exists, "run '" + state.run_id + "' already exists");
  } else if (!is_not_found(existing)) {
    return std::move(existing).error();
  }
  state.goal = std::move(request.goal);
  state.principal = std::move(request.principal);
  state.input = std::move(request.input);
  state.created_millis = core.env->unix_millis();
  state.usage.now_millis = state.created_millis;
  json started = {{"goal", state.goal},
                  {"principal", state.principal.id},
                  {"roles", state.principal.roles},
                  {"agent", core.agent.name}};
  if (request.delegation && !request.delegation->empty()) {
    // The task came from the parent's arguments: the run's context starts with their label.
    state.delegation = std::move(request.delegation);
    state.context_label.join(state.delegation->input_label);
    const Ancestor& parent = state.delegation->ancestors.back();
    started["parent"] = {{"run_id", parent.run_id},
                         {"step_id", parent.step_id},
                         {"entry", state.delegation->parent_audit_entry}};
    started["chain"] = state.delegation->chain();
    started["carve"] = detail::budgets_json(state.delegation->carve);
  }
  detail::SlotHandle slot(core, state.run_id);
  std::lock_guard lock(slot->mutex);
  std::vector<AuditEntry> entries;
  detail::append_audit(state, entries, *core.env, "run", started);
  if (auto s = core.commit(*slot, state, entries); !s) return std::move(s).error();
  if (!core.store->shared()) slot->keep(state);  // (see let_go)
  return state;
}

Result<RunStatus> Runtime::step(std::string_view run_id) {
  return impl_->stepped(run_id, [](const AgentState& s) { return s.status; });
}

namespace {

// The rein.run span: from the first step Runtime::run takes to the state it returns.
class RunSpan {
 public:
  RunSpan(detail::RuntimeCore& core, detail::RunSlot& slot, const AgentState& state)
      : tracer_(core.options.tracer.get()), env_(*core.env), slot_(slot) {
    if (tracer_ == nullptr) return;
    span_.trace_id = detail::trace_id_of(state);
    span_.parent_span_id = detail::outer_span_of(state);
    span_.span_id = detail::new_span_id(env_);
    span_.name = "rein.run";
    span_.attributes["rein.run_id"] = state.run_id;
    wall0_ = env_.unix_millis() * 1'000'000;
    steady0_ = env_.now();
    span_.start_unix_nanos = wall0_;
    slot_.run_span_id = span_.span_id;  // the caller holds the slot's lock
  }
  // Call with the slot locked.
  void end(const AgentState& s) {
    if (tracer_ == nullptr) return;
    slot_.run_span_id.clear();
    span_.end_unix_nanos =
        wall0_ +
        std::chrono::duration_cast<std::chrono::nanoseconds>(env_.now() - steady0_).count();
    span_.attributes["rein.status"] = std::string(to_string(s.status));
    span_.attributes["rein.steps"] = s.step_index;
    span_.attributes["rein.tool_calls"] = s.usage.tool_calls;
    span_.attributes["rein.tokens"] = s.usage.tokens;
    span_.error = s.status == RunStatus::failed;
    if (span_.error) span_.status_message = s.status_reason;
    tracer_->record(std::move(span_));
    tracer_ = nullptr;
  }

 private:
  Tracer* tracer_;
  Env& env_;
  detail::RunSlot& slot_;
  Span span_;
  std::int64_t wall0_ = 0;
  Env::TimePoint steady0_{};
};

}  // namespace

Result<AgentState> Runtime::run(std::string_view run_id) {
  auto& core = impl_->core;
  const std::string id(run_id);
  detail::SlotHandle slot(core, id);
  std::optional<RunSpan> span;
  for (;;) {
    std::lock_guard lock(slot->mutex);
    Impl::Stepping stepping(*slot);
    auto state = core.load(*slot, id);
    if (!state) {
      slot->run_span_id.clear();
      return std::move(state).error();
    }
    AgentState& s = **state;
    if (!span) span.emplace(core, *slot, s);
    const auto before = std::make_pair(s.step_index, s.audit_count);
    if (auto st = detail::take_turn_here(core, *slot, s); !st) {
      slot->run_span_id.clear();
      slot->drop();
      return std::move(st).error();
    }
    // Stop when the run ended or suspended, or when a suspended run could not move.
    if (is_terminal(s.status) || is_suspended(s.status) ||
        before == std::make_pair(s.step_index, s.audit_count)) {
      span->end(s);
      AgentState out = s;
      core.let_go(*slot);
      return out;
    }
  }
}

Result<AgentState> Runtime::run(RunRequest request) {
  auto started = start(std::move(request));
  if (!started) return started;
  return run(started->run_id);
}

Result<AgentState> Runtime::state(std::string_view run_id) {
  auto& core = impl_->core;
  detail::SlotHandle slot(core, std::string(run_id));
  std::lock_guard lock(slot->mutex);
  auto state = core.load(*slot, slot.run_id());
  if (!state) return std::move(state).error();
  AgentState out = **state;
  core.let_go(*slot);
  return out;
}

Result<std::vector<PendingApproval>> Runtime::pending_approvals() {
  return impl_->core.store->pending_approvals();
}

namespace {
Status decide_approval(detail::RuntimeCore& core, AgentState& s, std::vector<AuditEntry>& entries,
                       std::string_view step_id, bool approve, std::string note) {
  StepState* step = s.find_step(step_id);
  if (step == nullptr) {
    return Error(ErrorCode::not_found,
                 "run '" + s.run_id + "' has no step '" + std::string(step_id) + "'");
  }
  if (step->status != StepStatus::awaiting_approval || !step->approval ||
      step->approval->status != "pending") {
    return Error(ErrorCode::invalid_argument,
                 "step '" + std::string(step_id) + "' is not awaiting approval");
  }
  step->approval->status = approve ? "approved" : "denied";
  step->approval->note = std::move(note);
  step->approval->decided_millis = core.env->unix_millis();
  if (approve) {
    step->status = StepStatus::pending;  // authorized on the next step
  } else {
    step->status = StepStatus::denied;
    ++s.metrics.denials;
    s.needs_review.push_back(
        {step->step.id,
         "approval",
         {"denied by a person" +
          (step->approval->note.empty() ? std::string() : ": " + step->approval->note)},
         step->step.args});
  }
  detail::append_audit(s, entries, *core.env, "approval",
                       {{"step", step->step.id},
                        {"tool", step->step.tool},
                        {"decision", step->approval->status},
                        {"note", step->approval->note},
                        {"approval_id", step->approval->id}});
  return {};
}
}  // namespace

Status Runtime::approve(std::string_view run_id, std::string_view step_id, std::string note) {
  return impl_->change(run_id, [&](AgentState& s, std::vector<AuditEntry>& entries) {
    return decide_approval(impl_->core, s, entries, step_id, true, std::move(note));
  });
}

Status Runtime::deny(std::string_view run_id, std::string_view step_id, std::string note) {
  return impl_->change(run_id, [&](AgentState& s, std::vector<AuditEntry>& entries) {
    return decide_approval(impl_->core, s, entries, step_id, false, std::move(note));
  });
}

Status Runtime::answer(std::string_view run_id, json answer) {
  return impl_->change(run_id, [&](AgentState& s, std::vector<AuditEntry>& entries) -> Status {
    if (s.status != RunStatus::awaiting_input || s.question.empty()) {
      return Error(ErrorCode::invalid_argument,
                   "run '" + s.run_id + "' is not waiting for an answer");
    }
    detail::append_audit(s, entries, *impl_->core.env, "observation",
                         {{"source", "human"}, {"question", s.question}, {"answer", answer}});
    s.answers.push_back(std::move(answer));
    s.question.clear();
    return {};
  });
}

Status Runtime::observe(std::string_view run_id, Observation observation) {
  auto& core = impl_->core;
  detail::SlotHandle slot(core, std::string(run_id));
  // A run being stepped exists and has not ended; otherwise look.
  if (auto lock = Impl::lock_unless_stepping(*slot); lock.owns_lock()) {
    auto state = core.load(*slot, slot.run_id());
    if (!state) return std::move(state).error();
    const RunStatus status = (*state)->status;
    if (is_terminal(status)) {
      core.let_go(*slot);
      return Error(ErrorCode::invalid_argument, "run '" + slot.run_id() + "' has ended (" +
                                                    std::string(to_string(status)) +
                                                    "): it takes no observations");
    }
  }
  std::lock_guard queue_lock(slot->queue_mutex);
  slot->queued.push_back(std::move(observation));
  slot->has_queued = true;
  return {};
}

Status Runtime::cancel(std::string_view run_id) {
  auto& core = impl_->core;
  detail::SlotHandle slot(core, std::string(run_id));
  auto lock = Impl::lock_unless_stepping(*slot);
  if (!lock.owns_lock()) {
    // Being stepped: the step stops at its next boundary; calls in flight are told now.
    slot->cancel_requested = true;
    slot->cancel.cancel();
    return {};
  }
  auto state = core.load(*slot, slot.run_id());
  if (!state) return std::move(state).error();  // not_found: nothing is remembered for later
  if (is_terminal((*state)->status)) {
    core.let_go(*slot);
    return {};
  }
  std::vector<AuditEntry> entries;
  detail::finish_run(**state, entries, *core.env, RunStatus::cancelled, "cancelled by the host");
  if (auto s = core.commit(*slot, **state, entries); !s) {
    slot->drop();
    return s;
  }
  core.let_go(*slot);
  impl_->driver.wake(slot.run_id());  // tells run_async's callback
  return {};
}

std::size_t Runtime::runs_in_memory() {
  return impl_->core.slot_count();
}

Executor& Runtime::executor() {
  return impl_->driver.executor();
}

Result<std::string> Runtime::run_async(RunRequest request, RunCallback on_stop) {
  auto started = start(std::move(request));
  if (!started) return std::move(started).error();
  auto& core = impl_->core;
  detail::SlotHandle slot(core, started->run_id);
  if (auto s = impl_->driver.attach(slot.shared(), slot.run_id(), std::move(on_stop)); !s)
    return std::move(s).error();
  return started->run_id;
}

std::future<Result<AgentState>> Runtime::run_async(RunRequest request) {
  auto promise = std::make_shared<std::promise<Result<AgentState>>>();
  auto future = promise->get_future();
  auto told = std::make_shared<std::atomic<bool>>(false);
  auto id = run_async(std::move(request), [promise, told](const Result<AgentState>& stopped) {
    if (!told->exchange(true)) promise->set_value(stopped);
  });
  if (!id && !told->exchange(true)) promise->set_value(std::move(id).error());
  return future;
}

Status Runtime::unload(std::string_view run_id) {
  auto& core = impl_->core;
  const std::string id(run_id);
  if (!core.store->durable()) {
    return Error(ErrorCode::invalid_argument,
                 "run '" + id + "' cannot be unloaded: the store is not durable");
  }
  detail::SlotHandle slot(core, id);
  // The slot first (as attach takes it before the driver's lock), so that a refusal leaves the
  // run attached as it was.
  std::unique_lock lock(slot->mutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    return Error(ErrorCode::unavailable, "run '" + id + "' is being stepped");
  }
  if (auto s = impl_->driver.detach(id); !s) return s;
  slot->drop();
  return {};
}

Status Runtime::resume_async(std::string_view run_id, RunCallback on_stop) {
  detail::SlotHandle slot(impl_->core, std::string(run_id));
  return impl_->driver.attach(slot.shared(), slot.run_id(), std::move(on_stop));
}

}  // namespace rein
