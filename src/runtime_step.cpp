// The loop step: observe → plan → authorize → act → verify → commit (see runtime.hpp).
#include <algorithm>
#include <cstdio>

#include "host_call.hpp"
#include "json_writer.hpp"
#include "log.hpp"
#include "runtime_core.hpp"
#include "state_text.hpp"

namespace rein::detail {

using nlohmann::json;
using detail::JsonObjectWriter;

namespace {

std::string joined(const std::vector<std::string>& parts, const char* separator = "; ") {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += separator;
    out += p;
  }
  return out;
}

bool has_key_support(const ToolSpec& spec) {
  return spec.idempotency.key_required || !spec.idempotency.key_pointer.empty();
}

// Wall-clock nanoseconds for spans: one wall reading, then the monotonic clock, so that span
// durations are exact even though Env's wall clock has millisecond resolution.
struct SpanClock {
  SpanClock(Env& e, bool needed)
      : env(e), wall0(needed ? e.unix_millis() * 1'000'000 : 0), steady0(needed ? e.now() : Env::TimePoint{}) {}
  std::int64_t now_nanos() const {
    return wall0 + std::chrono::duration_cast<std::chrono::nanoseconds>(env.now() - steady0).count();
  }
  Env& env;
  std::int64_t wall0;
  Env::TimePoint steady0;
};

// Records spans when the runtime has a tracer; costs nothing when it has none.
class SpanRecorder {
 public:
  SpanRecorder(Tracer* tracer, const SpanClock& clock, const std::string& trace_id, const std::string& parent,
               std::string name)
      : tracer_(tracer), clock_(clock) {
    if (tracer_ == nullptr) return;
    span_.emplace();
    span_->trace_id = trace_id;
    span_->parent_span_id = parent;
    span_->name = std::move(name);
    span_->span_id = new_span_id(clock_.env);
    span_->start_unix_nanos = now_nanos();
  }
  ~SpanRecorder() { end(); }
  SpanRecorder(const SpanRecorder&) = delete;
  SpanRecorder& operator=(const SpanRecorder&) = delete;

  template <typename T>
  void set(const char* key, T&& value) {
    if (tracer_ != nullptr) span_->attributes[key] = std::forward<T>(value);
  }
  void fail(std::string message) {
    if (tracer_ == nullptr) return;
    span_->error = true;
    span_->status_message = std::move(message);
  }
  const std::string& id() const {
    static const std::string none;
    return span_ ? span_->span_id : none;
  }
  void end() {
    if (tracer_ == nullptr) return;
    span_->end_unix_nanos = now_nanos();
    tracer_->record(std::move(*span_));
    tracer_ = nullptr;
  }

 private:
  std::int64_t now_nanos() const { return clock_.now_nanos(); }
  Tracer* tracer_;
  const SpanClock& clock_;
  std::optional<Span> span_;  // only when tracing: an unused Span would still allocate
};

// Everything one step works with.
class Step {
 public:
  Step(RuntimeCore& core, RunSlot& slot, AgentState& state)
      : core_(core),
        slot_(slot),
        s_(state),
        env_(*core.env),
        tools_(*core.agent.tools),
        tracer_(core.options.tracer.get()),
        trace_id_(tracer_ != nullptr ? Tracer::trace_id_for(state.run_id) : std::string()),
        clock_(env_, tracer_ != nullptr),
        started_(env_.now()),
        millis_(env_.unix_millis()),
        initial_status_(state.status) {
    entries_.reserve(8);
  }

  Status run();

 private:
  struct Acted {
    StepState* step;
    ToolResult result;
    bool executed;  // false: synthesized (invalid step) or recovered from the journal
  };

  void audit(std::string kind, const json& payload) { append_audit(s_, entries_, env_, std::move(kind), payload); }
  void audit_text(std::string kind, std::string payload) {
    append_audit_text(s_, entries_, millis_, std::move(kind), std::move(payload));
  }
  Status commit() { return core_.commit(slot_, s_, entries_); }
  // The end-of-step commit: a non-durable store needs the state only when the status moved.
  Status commit_step() { return core_.commit(slot_, s_, entries_, s_.status != initial_status_); }
  bool finish_if_stopped();
  void observe();
  void recall_memory();
  // True when the run may go on to act in this step.
  bool plan();
  bool plan_round(const std::optional<ReplanRequest>& replan);
  void settle_answer(const json& answer);
  void skip_unreachable();
  void recover();
  void authorize();
  Status act();
  void verify(Acted& acted);
  void apply(StepState& step, ToolResult result, Verdict verdict);
  Result<LlmResponse> call_llm(const LlmRequest& request);
  Verdict guarded_review(const StepState& step, const ToolResult& result);

  RuntimeCore& core_;
  RunSlot& slot_;
  AgentState& s_;
  Env& env_;
  ToolRegistry& tools_;
  Tracer* tracer_;
  std::string trace_id_;
  SpanClock clock_;
  std::string step_span_;
  Env::TimePoint started_;
  std::int64_t millis_;  // wall time of this step, for its records
  RunStatus initial_status_;
  std::vector<AuditEntry> entries_;
  std::vector<Acted> acted_;
  std::vector<StepState*> to_run_;
  std::vector<const ToolSpec*> to_run_specs_;  // parallel to to_run_: looked up once
  std::optional<PolicyDecision> budget_stop_;
  std::int64_t llm_tokens_ = 0;
  double llm_cost_ = 0.0;
};

bool Step::finish_if_stopped() {
  if (slot_.cancel_requested) {
    finish_run(s_, entries_, env_, RunStatus::cancelled, "cancelled by the host");
    return true;
  }
  const PolicyEngine& policy = core_.agent.policy;
  if (auto exhausted = policy.check_run_budgets(s_.usage)) {
    finish_run(s_, entries_, env_, RunStatus::budget_exhausted, exhausted->reason);
    return true;
  }
  if (s_.usage.steps >= core_.options.max_steps) {
    finish_run(s_, entries_, env_, RunStatus::budget_exhausted,
               "step budget exhausted: the runtime's safety net of " + std::to_string(core_.options.max_steps) +
                   " steps was reached");
    return true;
  }
  return false;
}

void Step::recall_memory() {
  const MemoryRecall& m = core_.options.memory;
  SpanRecorder span(tracer_, clock_, trace_id_, step_span_, "rein.memory_recall");
  RecallQuery query = m.query;
  if (query.text.empty()) query.text = s_.goal;
  auto recalled = m.manager->recall(query);
  if (!recalled) {
    // Memory is an aid: without it the run goes on, and the audit says why.
    span.fail(recalled.error().to_string());
    audit("memory", {{"error", recalled.error().to_string()}});
    return;
  }
  span.set("rein.recalled", static_cast<std::int64_t>(recalled->items.size()));
  for (const auto& r : recalled->items) {
    Observation o;
    o.source = "memory:" + std::string(to_string(r.item.kind));
    o.content = {{"content", r.item.content},   {"id", r.item.id},
                 {"namespace", r.item.ns},      {"source", r.item.source},
                 {"metadata", r.item.metadata}, {"why", r.why}};
    o.confidence = r.item.confidence;
    o.trusted = m.trusted;
    o.step = s_.step_index;
    o.at_millis = env_.unix_millis();
    audit("observation", {{"source", o.source},
                          {"content", o.content},
                          {"confidence", o.confidence},
                          {"trusted", o.trusted}});
    s_.observations.push_back(std::move(o));
  }
}

void Step::observe() {
  if (s_.step_index == 0 && core_.options.memory.manager) recall_memory();
  if (!slot_.has_queued.load(std::memory_order_acquire)) return;
  std::vector<Observation> fresh;
  {
    std::lock_guard lock(slot_.queue_mutex);
    fresh.swap(slot_.queued);
    slot_.has_queued = false;
  }
  for (auto& o : fresh) {
    o.step = s_.step_index;
    if (o.at_millis == 0) o.at_millis = env_.unix_millis();
    audit("observation", {{"source", o.source}, {"content", o.content}, {"confidence", o.confidence},
                          {"trusted", o.trusted}});
    s_.observations.push_back(std::move(o));
  }
}

Result<LlmResponse> Step::call_llm(const LlmRequest& given) {
  if (!core_.options.llm) return Error(ErrorCode::unavailable, "the runtime has no LLM callback");
  Usage projected;
  projected.tokens = s_.usage.tokens + llm_tokens_;
  projected.cost = s_.usage.cost + llm_cost_;
  if (auto exhausted = core_.agent.policy.check_run_budgets(projected)) {
    return Error(ErrorCode::budget_exhausted, exhausted->reason);
  }
  // Refused before it is sent when the prompt (and the answer it allows) cannot fit.
  const std::int64_t expected = estimate_prompt_tokens(given) + given.max_tokens.value_or(0);
  if (auto exhausted = core_.agent.policy.check_llm_call(projected, expected, 0.0)) {
    return Error(ErrorCode::budget_exhausted, exhausted->reason);
  }
  LlmRequest request = given;
  if (request.run_id.empty()) request.run_id = s_.run_id;
  if (request.principal.empty()) request.principal = s_.principal.id;
  SpanRecorder span(tracer_, clock_, trace_id_, step_span_, "rein.llm_call");
  Result<LlmResponse> response = call_host("the LLM callback", [&] { return core_.options.llm(request); });
  if (response) {
    llm_tokens_ += response->total_tokens();
    llm_cost_ += response->cost;
    span.set("rein.tokens", response->total_tokens());
    span.set("rein.model", response->model);
  } else {
    span.fail(response.error().to_string());
  }
  return response;
}

bool Step::plan_round(const std::optional<ReplanRequest>& replan) {
  SpanRecorder span(tracer_, clock_, trace_id_, step_span_, "rein.plan");
  PlanRequest request{s_, tools_, [this](const LlmRequest& r) { return call_llm(r); }, replan,
                      core_.options.memory.manager};
  Result<PlanDecision> decision = call_host("the planner", [&] { return core_.agent.planner->plan(request); });
  s_.usage.tokens += llm_tokens_;
  s_.usage.cost += llm_cost_;
  llm_tokens_ = 0;
  llm_cost_ = 0;
  if (decision && decision->kind == PlanDecision::Kind::steps) {
    if (auto valid = validate_plan(decision->steps, s_); !valid) decision = std::move(valid).error();
  }
  if (!decision) {
    span.fail(decision.error().to_string());
    audit("plan", {{"error", decision.error().to_string()}, {"replan", replan.has_value()}});
    if (replan) {
      // The planner could not find another way: flag what failed and go on with the rest.
      s_.needs_review.push_back({replan->step_id, "planner",
                                 {"replanning failed: " + decision.error().message(), joined(replan->reasons)},
                                 nullptr});
      return true;
    }
    if (decision.error().code() == ErrorCode::budget_exhausted) {
      finish_run(s_, entries_, env_, RunStatus::budget_exhausted, decision.error().message());
    } else {
      finish_run(s_, entries_, env_, RunStatus::failed, "planner: " + decision.error().to_string());
    }
    return false;
  }
  for (auto& m : decision->messages) s_.messages.push_back(std::move(m));
  switch (decision->kind) {
    case PlanDecision::Kind::steps: {
      const auto round = ++s_.planning_rounds;
      std::string planned = "[";
      for (auto& step : decision->steps) {
        if (planned.size() > 1) planned.push_back(',');
        planned += detail::plan_step_text(step);
        StepState state;
        state.step = std::move(step);
        state.round = round;
        s_.steps.push_back(std::move(state));
      }
      planned.push_back(']');
      span.set("rein.steps", static_cast<std::int64_t>(decision->steps.size()));
      audit_text("plan", JsonObjectWriter().boolean("replan", replan.has_value()).integer("round", round).raw("steps", planned).finish());
      return true;
    }
    case PlanDecision::Kind::finish:
      ++s_.planning_rounds;
      settle_answer(decision->answer);
      return false;
    case PlanDecision::Kind::ask:
      ++s_.planning_rounds;
      s_.question = decision->question.empty() ? std::string("(the planner asked without a question)")
                                               : decision->question;
      s_.status = RunStatus::awaiting_input;
      s_.status_reason = "the planner asked: " + s_.question;
      audit("status", {{"status", "awaiting_input"}, {"question", s_.question}});
      return false;
  }
  return false;
}

void Step::settle_answer(const json& answer) {
  SpanRecorder span(tracer_, clock_, trace_id_, step_span_, "rein.verify");
  auto reviewed = call_host("the critic", [&] { return core_.agent.critic->review_output(answer, s_); });
  const Verdict verdict = reviewed ? std::move(*reviewed) : Verdict::needs_review({reviewed.error().message()});
  span.set("rein.verdict", std::string(to_string(verdict.kind)));
  audit("answer", {{"answer", answer}, {"verdict", verdict.to_json()}});
  switch (verdict.kind) {
    case VerdictKind::accept:
      s_.final_answer = answer;
      if (s_.needs_review.empty()) {
        finish_run(s_, entries_, env_, RunStatus::completed, "final answer verified");
      } else {
        finish_run(s_, entries_, env_, RunStatus::needs_review,
                   "final answer verified; " + std::to_string(s_.needs_review.size()) + " item(s) need review");
      }
      return;
    case VerdictKind::retry:
    case VerdictKind::replan:
      if (s_.metrics.replans < core_.options.max_replans) {
        ++s_.metrics.replans;
        s_.replan_step = std::string();
        s_.replan_reasons = verdict.reasons;
        return;
      }
      [[fallthrough]];
    case VerdictKind::needs_review:
      s_.final_answer = answer;
      s_.needs_review.push_back({"", "critic", verdict.reasons, answer});
      finish_run(s_, entries_, env_, RunStatus::needs_review, "the final answer could not be verified");
      return;
    case VerdictKind::fail:
      finish_run(s_, entries_, env_, RunStatus::failed, "the critic rejected the answer: " + joined(verdict.reasons));
      return;
  }
}

bool Step::plan() {
  if (s_.replan_step) {
    ReplanRequest replan{*s_.replan_step, s_.replan_reasons};
    s_.replan_step.reset();
    s_.replan_reasons.clear();
    return plan_round(replan);
  }
  const bool work_left = std::any_of(s_.steps.begin(), s_.steps.end(), [](const StepState& st) {
    return st.status == StepStatus::pending || st.status == StepStatus::running ||
           st.status == StepStatus::awaiting_approval;
  });
  if (work_left) return true;
  return plan_round(std::nullopt);
}

void Step::skip_unreachable() {
  // Repeat until stable: skipping one step can make its dependents unreachable too.
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& st : s_.steps) {
      if (st.status != StepStatus::pending) continue;
      for (const auto& dep : st.step.depends_on) {
        const StepState* d = s_.find_step(dep);
        if (d == nullptr || d->status == StepStatus::denied || d->status == StepStatus::needs_review ||
            d->status == StepStatus::failed || d->status == StepStatus::skipped) {
          st.status = StepStatus::skipped;
          audit("status", {{"step", st.step.id}, {"status", "skipped"},
                           {"reason", "dependency '" + dep + "' did not succeed"}});
          changed = true;
          break;
        }
      }
    }
  }
}

void Step::recover() {
  for (auto& st : s_.steps) {
    if (st.status != StepStatus::running) continue;
    auto journaled = core_.store->find_outcome(s_.run_id, st.step.id, st.attempts);
    if (journaled && journaled->has_value()) {
      audit("recovery", {{"step", st.step.id}, {"action", "outcome journaled before the interruption; not run again"}});
      acted_.push_back({&st, std::move(**journaled), false});
      continue;
    }
    const ToolSpec* spec = tools_.find(st.step.tool);
    if (spec == nullptr || !spec->side_effects || has_key_support(*spec)) {
      st.status = StepStatus::pending;
      audit("recovery", {{"step", st.step.id},
                         {"action", spec != nullptr && spec->side_effects
                                        ? "outcome unknown; running again with the same idempotency key"
                                        : "outcome unknown; running again (no side effects)"}});
      continue;
    }
    std::optional<ToolResult> reconciled;
    if (core_.options.reconcile) {
      // A reconcile callback that throws knows no more than one that says "unknown".
      auto answer = call_host("the reconcile callback", [&] { return core_.options.reconcile(s_, st); });
      if (answer) reconciled = std::move(*answer);
    }
    if (reconciled) {
      audit("recovery", {{"step", st.step.id}, {"action", "outcome settled by the host's reconcile callback"}});
      acted_.push_back({&st, std::move(*reconciled), false});
      continue;
    }
    st.status = StepStatus::needs_review;
    s_.needs_review.push_back({st.step.id, "recovery",
                               {"the outcome of side-effecting call '" + st.step.tool +
                                "' is unknown after an interruption, and it has no idempotency key: not replayed"},
                               st.step.args});
    audit("recovery", {{"step", st.step.id}, {"action", "outcome unknown; not replayed; flagged for review"}});
  }
}

void Step::authorize() {
  const PolicyEngine& policy = core_.agent.policy;
  const auto window = policy.longest_rate_window();
  for (auto& st : s_.steps) {
    if (st.status != StepStatus::pending) continue;
    const bool ready = std::all_of(st.step.depends_on.begin(), st.step.depends_on.end(), [this](const std::string& dep) {
      const StepState* d = s_.find_step(dep);
      return d != nullptr && d->status == StepStatus::succeeded;
    });
    if (!ready) continue;
    SpanRecorder span(tracer_, clock_, trace_id_, step_span_, "rein.authorize");
    span.set("rein.tool", st.step.tool);
    const ToolSpec* spec = tools_.find(st.step.tool);
    if (spec == nullptr || !tools_.check_arguments(st.step.tool, st.step.args)) {
      // Invalid calls never reach policy or tool: the critic sees why.
      ToolResult invalid;
      invalid.status = ToolStatus::invalid_input;
      invalid.errors.push_back(spec == nullptr ? "unknown tool '" + st.step.tool + "'"
                                               : tools_.check_arguments(st.step.tool, st.step.args).error().message());
      span.set("rein.decision", "invalid");
      acted_.push_back({&st, std::move(invalid), false});
      continue;
    }
    s_.usage.now_millis = millis_;
    PolicyDecision d = policy.decide(*spec, st.step.args, s_.principal, s_.usage);
    if (d.decision == Decision::require_approval && st.approval && st.approval->status == "approved") {
      d = {Decision::allow, d.rule, "approved by a person" + (st.approval->note.empty() ? std::string() : ": " + st.approval->note), false};
    }
    span.set("rein.decision", std::string(to_string(d.decision)));
    // An allowed call's decision is recorded with the call (its tool_call entry); a refusal,
    // or a call sent for approval, gets an entry of its own now.
    if (d.decision != Decision::allow || d.budget_exhausted) {
      audit_text("decision", JsonObjectWriter()
                                 .string("decision", to_string(d.decision))
                                 .string("reason", d.reason)
                                 .string("rule", d.rule)
                                 .string("step", st.step.id)
                                 .string("tool", st.step.tool)
                                 .finish());
    }
    if (d.budget_exhausted) {
      st.decision = d;
      budget_stop_ = std::move(d);
      break;  // nothing further may start
    }
    st.decision = std::move(d);
    const PolicyDecision& decided = *st.decision;
    switch (decided.decision) {
      case Decision::allow:
        s_.usage.record_call(st.step.tool, s_.usage.now_millis, window);
        to_run_.push_back(&st);
        to_run_specs_.push_back(spec);
        break;
      case Decision::require_approval: {
        Approval a;
        a.id = env_.new_id("approval");
        a.rule = decided.rule;
        a.reason = decided.reason;
        a.requested_millis = env_.unix_millis();
        st.approval = a;
        st.status = StepStatus::awaiting_approval;
        ++s_.metrics.approvals_requested;
        audit("approval", {{"step", st.step.id}, {"tool", st.step.tool}, {"decision", "requested"},
                           {"approval_id", a.id}, {"rule", decided.rule}, {"reason", decided.reason}});
        break;
      }
      case Decision::deny:
        st.status = StepStatus::denied;
        ++s_.metrics.denials;
        s_.needs_review.push_back({st.step.id, "policy", {"denied by rule '" + decided.rule + "': " + decided.reason}, st.step.args});
        break;
    }
  }
}

Status Step::act() {
  bool side_effects = false;
  for (std::size_t i = 0; i < to_run_.size(); ++i) {
    StepState* st = to_run_[i];
    const ToolSpec* spec = to_run_specs_[i];
    st->status = StepStatus::running;
    ++st->attempts;
    if (spec->side_effects && has_key_support(*spec) && st->idempotency_key.empty()) {
      st->idempotency_key = s_.run_id + ":" + st->step.id + (st->retries > 0 ? "#" + std::to_string(st->retries) : "");
    }
    side_effects = side_effects || spec->side_effects;
  }
  // The intent: once committed, a crash can no longer lose track of these calls.
  if (side_effects && core_.store->durable()) {
    if (auto s = commit(); !s) return s;
  }
  std::vector<ToolResult> results(to_run_.size());
  const CancellationToken cancel = slot_.cancel.token();
  auto call = [this, &results, &cancel](std::size_t i) {
      StepState& st = *to_run_[i];
      SpanRecorder span(tracer_, clock_, trace_id_, step_span_, "rein.tool_call");
      span.set("rein.tool", st.step.tool);
      results[i] = tools_.invoke(st.step.tool, st.step.args, {.idempotency_key = st.idempotency_key, .cancellation = cancel});
      span.set("rein.status", std::string(to_string(results[i].status)));
      span.set("rein.attempts", static_cast<std::int64_t>(results[i].attempts));
      span.set("rein.duration_us", static_cast<std::int64_t>(results[i].duration.count()));
      if (!results[i].ok()) span.fail(results[i].errors.empty() ? "tool failed" : results[i].errors.front());
      if (to_run_specs_[i]->side_effects && core_.store->durable()) {
        if (auto s = core_.store->record_outcome(s_.run_id, st.step.id, st.attempts, results[i]); !s) {
          logger()->warn("rein: journaling the outcome of step '{}' failed: {}", st.step.id, s.error().message());
        }
      }
  };
  if (to_run_.size() == 1) {
    call(0);  // the common case: no hand-off at all
  } else if (to_run_.size() > 1) {
    std::vector<std::function<void()>> tasks;
    tasks.reserve(to_run_.size());
    for (std::size_t i = 0; i < to_run_.size(); ++i) tasks.emplace_back([&call, i] { call(i); });
    core_.pool.run_all(tasks);
  }
  for (std::size_t i = 0; i < to_run_.size(); ++i) acted_.push_back({to_run_[i], std::move(results[i]), true});
  return {};
}

Verdict Step::guarded_review(const StepState& step, const ToolResult& result) {
  auto reviewed = call_host("the critic", [&] { return core_.agent.critic->review_step(step, result, s_); });
  return reviewed ? std::move(*reviewed) : Verdict::needs_review({reviewed.error().message()});
}

void Step::verify(Acted& acted) {
  StepState& st = *acted.step;
  const ToolResult& r = acted.result;
  if (!r.ok()) ++s_.metrics.errors_by_tool[st.step.tool];
  SpanRecorder span(tracer_, clock_, trace_id_, step_span_, "rein.verify");
  span.set("rein.tool", st.step.tool);
  Verdict verdict = guarded_review(st, r);
  span.set("rein.verdict", std::string(to_string(verdict.kind)));

  // One entry per call: the decision that let it run, what came back, and what the critic
  // made of it. The arguments are in the step's plan entry.
  JsonObjectWriter call;
  call.integer("attempts", r.attempts).value("data", r.data);
  if (st.decision && acted.executed) call.raw("decision", detail::decision_text(*st.decision, false));
  audit_text("tool_call", call
                              .integer("duration_us", r.duration.count())
                              .strings("errors", r.errors)
                              .raw("evidence", detail::evidence_text(r.evidence))
                              .boolean("executed", acted.executed)
                              .string("idempotency_key", r.idempotency_key)
                              .boolean("replayed", r.replayed)
                              .string("status", to_string(r.status))
                              .string("step", st.step.id)
                              .string("tool", st.step.tool)
                              .raw("verdict", detail::verdict_text(verdict))
                              .finish());
  apply(st, std::move(acted.result), std::move(verdict));
}

void Step::apply(StepState& st, ToolResult result, Verdict verdict_in) {
  st.result = std::move(result);
  st.verdict = std::move(verdict_in);
  const ToolResult& r = *st.result;
  const Verdict& verdict = *st.verdict;
  switch (verdict.kind) {
    case VerdictKind::accept:
      st.status = StepStatus::succeeded;
      s_.outputs[st.step.id] = r.data;
      return;
    case VerdictKind::retry:
      if (st.retries < core_.options.max_retries_per_step) {
        ++st.retries;
        ++s_.metrics.retries;
        st.status = StepStatus::pending;
        st.idempotency_key.clear();  // a new attempt of a side effect gets a new key
        return;
      }
      st.status = StepStatus::needs_review;
      s_.needs_review.push_back({st.step.id, "critic", verdict.reasons, r.data});
      s_.needs_review.back().issues.push_back("still failing after " + std::to_string(st.retries) + " retr" +
                                              (st.retries == 1 ? "y" : "ies"));
      return;
    case VerdictKind::replan:
      if (s_.metrics.replans < core_.options.max_replans) {
        ++s_.metrics.replans;
        st.status = StepStatus::failed;
        s_.replan_step = st.step.id;
        s_.replan_reasons = verdict.reasons;
        return;
      }
      st.status = StepStatus::needs_review;
      s_.needs_review.push_back({st.step.id, "critic", verdict.reasons, r.data});
      s_.needs_review.back().issues.push_back("no replans left");
      return;
    case VerdictKind::needs_review:
      st.status = StepStatus::needs_review;
      s_.needs_review.push_back({st.step.id, "critic", verdict.reasons, r.data});
      return;
    case VerdictKind::fail:
      st.status = StepStatus::failed;
      finish_run(s_, entries_, env_, RunStatus::failed,
                 "the critic failed step '" + st.step.id + "': " + joined(verdict.reasons));
      return;
  }
}

Status Step::run() {
  if (is_terminal(s_.status)) return {};
  if (s_.status == RunStatus::awaiting_approval) {
    const bool waiting = std::any_of(s_.steps.begin(), s_.steps.end(), [](const StepState& st) {
      return st.status == StepStatus::awaiting_approval;
    });
    if (waiting && !slot_.cancel_requested) return {};
  }
  if (s_.status == RunStatus::awaiting_input && !s_.question.empty() && !slot_.cancel_requested) return {};
  if (is_suspended(s_.status)) {
    s_.status = RunStatus::running;
    s_.status_reason.clear();
    audit("status", {{"status", "running"}, {"reason", "resumed"}});
  }
  SpanRecorder step_span(tracer_, clock_, trace_id_, slot_.run_span_id, "rein.step");
  step_span_ = step_span.id();
  step_span.set("rein.run_id", s_.run_id);
  step_span.set("rein.step", s_.step_index);

  if (!finish_if_stopped()) {
    recover();
    observe();
    if (plan()) {
      skip_unreachable();
      authorize();
      if (auto st = act(); !st) return st;
    }
    if (!is_terminal(s_.status)) {
      for (auto& acted : acted_) {
        verify(acted);
        if (is_terminal(s_.status)) break;
      }
    }
    if (budget_stop_ && !is_terminal(s_.status)) {
      finish_run(s_, entries_, env_, RunStatus::budget_exhausted, budget_stop_->reason);
    }
    const bool parked = std::any_of(s_.steps.begin(), s_.steps.end(), [](const StepState& st) {
      return st.status == StepStatus::awaiting_approval;
    });
    const bool runnable = std::any_of(s_.steps.begin(), s_.steps.end(), [](const StepState& st) {
      return st.status == StepStatus::pending || st.status == StepStatus::running;
    });
    if (s_.status == RunStatus::running && parked && !runnable && !s_.replan_step) {
      s_.status = RunStatus::awaiting_approval;
      s_.status_reason = "waiting for a person to approve or deny";
      audit("status", {{"status", "awaiting_approval"}, {"reason", s_.status_reason}});
    }
  }
  ++s_.step_index;
  ++s_.usage.steps;
  s_.usage.wall_time += std::chrono::duration_cast<std::chrono::milliseconds>(env_.now() - started_);
  step_span.set("rein.status", std::string(to_string(s_.status)));
  step_span.end();
  return commit_step();
}

}  // namespace

void finish_run(AgentState& s, std::vector<AuditEntry>& entries, Env& env, RunStatus status, std::string reason) {
  s.status = status;
  s.status_reason = std::move(reason);
  const bool complete = status == RunStatus::completed || status == RunStatus::needs_review;
  if (!complete) {
    s.partial = true;
    std::vector<std::string> undone;
    for (const auto& st : s.steps) {
      if (st.status == StepStatus::pending || st.status == StepStatus::running ||
          st.status == StepStatus::awaiting_approval) {
        undone.push_back(st.step.id);
      }
    }
    std::string what = "the run stopped (" + std::string(to_string(status)) + ": " + s.status_reason + ")";
    if (!undone.empty()) what += " before these steps finished: " + joined(undone, ", ");
    s.needs_review.push_back({"", status == RunStatus::budget_exhausted ? "budget" : "run", {what}, s.outputs});
  }
  append_audit(s, entries, env, "status", {{"status", to_string(status)}, {"reason", s.status_reason}, {"partial", s.partial}});
}

Status run_step(RuntimeCore& core, RunSlot& slot, AgentState& state) {
  return Step(core, slot, state).run();
}

}  // namespace rein::detail
