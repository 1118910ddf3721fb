// One turn of the loop: observe → plan → authorize → act → verify → commit (see turn.hpp).
// take_turn() at the top is the whole loop body; the small stages follow it, and plan, act
// and verify have files of their own.
#include "loop/turn.hpp"

#include <algorithm>

#include "core/json_writer.hpp"
#include "core/value_fields.hpp"
#include "exec/park.hpp"
#include "loop/state_text.hpp"
#include "planners/plan_references.hpp"

namespace rein::detail {

using nlohmann::json;

namespace {

// Rule 5 of runtime.hpp: a run whose remaining steps all wait for a person suspends.
void suspend_if_only_approvals_left(Turn& t) {
  AgentState& s = t.state;
  const bool parked = std::any_of(s.steps.begin(), s.steps.end(), [](const StepState& st) {
    return st.status == StepStatus::awaiting_approval;
  });
  const bool runnable = std::any_of(s.steps.begin(), s.steps.end(), [](const StepState& st) {
    return st.status == StepStatus::pending || st.status == StepStatus::running;
  });
  if (s.status == RunStatus::running && parked && !runnable && !s.replan_step) {
    s.status = RunStatus::awaiting_approval;
    s.status_reason = "waiting for a person to approve or deny";
    t.audit("status", {{"status", "awaiting_approval"}, {"reason", s.status_reason}});
  }
}

// A suspended run stays put until what it waits for has arrived (or it is cancelled).
bool still_waiting(const Turn& t) {
  const AgentState& s = t.state;
  if (t.slot.cancel_requested) return false;
  if (s.status == RunStatus::awaiting_approval) {
    return std::any_of(s.steps.begin(), s.steps.end(), [](const StepState& st) {
      return st.status == StepStatus::awaiting_approval;
    });
  }
  return s.status == RunStatus::awaiting_input && !s.question.empty();
}

}  // namespace

Task<Status> take_turn(Turn& t) {
  AgentState& s = t.state;
  if (is_terminal(s.status) || still_waiting(t)) co_return Status{};
  if (is_suspended(s.status)) {
    s.status = RunStatus::running;
    s.status_reason.clear();
    t.audit("status", {{"status", "running"}, {"reason", "resumed"}});
  }
  SpanRecorder turn_span(t.tracer, t.clock, t.trace_id,
                         t.slot.run_span_id.empty() ? outer_span_of(s) : t.slot.run_span_id,
                         "rein.step");
  t.span_id = turn_span.id();
  turn_span.set("rein.run_id", s.run_id);
  turn_span.set("rein.step", s.step_index);

  if (!stop_if_due(t)) {
    std::vector<Outcome> outcomes;
    if (interrupted(s)) outcomes = co_await recover(t);
    observe(t);
    std::optional<PolicyDecision> budget_stop;
    // The planner is asked only when the plan has nothing left to do (or must change).
    bool go_on = true;
    if (planning_due(s)) go_on = co_await plan(t);
    if (go_on) {
      Authorized authorized = authorize(t);
      budget_stop = std::move(authorized.budget_stop);
      for (auto& o : authorized.invalid)
        outcomes.push_back(std::move(o));
      Result<std::vector<Outcome>> acted = Error(ErrorCode::internal, "not acted");
      if (act_here(t, authorized.calls)) {
        acted = act_now(t, std::move(authorized.calls));  // the common case: nothing to wait on
      } else {
        acted = co_await act(t, std::move(authorized.calls));
      }
      if (!acted) co_return std::move(acted).error();
      for (auto& o : *acted)
        outcomes.push_back(std::move(o));
    }
    if (!is_terminal(s.status)) {
      if (verify_here(t)) {
        verify_now(t, std::move(outcomes));  // the common case: a rule critic, nothing to wait on
      } else {
        co_await verify(t, std::move(outcomes));
      }
    }
    if (budget_stop && !is_terminal(s.status)) {
      finish_run(s, t.entries, t.env, RunStatus::budget_exhausted, budget_stop->reason);
    }
    suspend_if_only_approvals_left(t);
  }
  ++s.step_index;
  ++s.usage.steps;
  s.usage.wall_time +=
      std::chrono::duration_cast<std::chrono::milliseconds>(t.env.now() - t.started);
  turn_span.set("rein.status", std::string(to_string(s.status)));
  turn_span.end();
  if (!t.core.store->durable()) co_return commit_now(t);  // nothing to wait on
  co_return co_await commit(t);
}

Turn::Turn(RuntimeCore& c, RunSlot& sl, AgentState& st, Executor& ex)
    : core(c),
      slot(sl),
      state(st),
      executor(ex),
      env(*c.env),
      tools(*c.agent.tools),
      tracer(c.options.tracer.get()),
      trace_id(tracer != nullptr ? trace_id_of(st) : std::string()),
      clock(env, tracer != nullptr),
      started(env.now()),
      millis(env.unix_millis()),
      initial_status(st.status),
      policy(c.policy_for(sl, st)) {}

void Turn::audit(std::string kind, const json& payload) {
  append_audit(state, entries, env, std::move(kind), payload);
}

void Turn::audit_text(std::string kind, std::string payload) {
  append_audit_text(state, entries, millis, std::move(kind), std::move(payload));
}

bool stop_if_due(Turn& t) {
  AgentState& s = t.state;
  if (t.slot.cancel_requested) {
    finish_run(s, t.entries, t.env, RunStatus::cancelled, "cancelled by the host");
    return true;
  }
  if (auto exhausted = t.policy.check_run_budgets(s.usage)) {
    finish_run(s, t.entries, t.env, RunStatus::budget_exhausted, exhausted->reason);
    return true;
  }
  // The safety net counts this run's own turns: its children's steps count against its
  // budgets (usage.steps), not against the net for runaway loops.
  if (s.step_index >= t.core.options.max_steps) {
    finish_run(s, t.entries, t.env, RunStatus::budget_exhausted,
               "step budget exhausted: the runtime's safety net of " +
                   std::to_string(t.core.options.max_steps) + " steps was reached");
    return true;
  }
  return false;
}

namespace {

void recall_memory(Turn& t) {
  const MemoryRecall& m = t.core.options.memory;
  SpanRecorder span = t.span("rein.memory_recall");
  RecallQuery query = m.query;
  if (query.text.empty()) query.text = t.state.goal;
  auto recalled = m.manager->recall(query);
  if (!recalled) {
    // Memory is an aid: without it the run goes on, and the audit says why.
    span.fail(recalled.error().to_string());
    t.audit("memory", {{"error", recalled.error().to_string()}});
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
    // Trusted only when the host trusts recall and the item came from trusted content.
    o.trusted = m.trusted && r.item.trusted;
    o.level = r.item.level;
    o.step = t.state.step_index;
    o.at_millis = t.env.unix_millis();
    append_audit_text(t.state, t.entries, t.env.unix_millis(), "observation",
                      canonical_text(o, kAuditObservationOmits));
    t.state.context_label.join(observation_label(o));
    t.state.observations.push_back(std::move(o));
  }
}

}  // namespace

void observe(Turn& t) {
  if (t.state.step_index == 0 && t.core.options.memory.manager) recall_memory(t);
  if (!t.slot.has_queued.load(std::memory_order_acquire)) return;
  std::vector<Observation> fresh;
  {
    std::lock_guard lock(t.slot.queue_mutex);
    fresh.swap(t.slot.queued);
    t.slot.has_queued = false;
  }
  for (auto& o : fresh) {
    o.step = t.state.step_index;
    if (o.at_millis == 0) o.at_millis = t.env.unix_millis();
    append_audit_text(t.state, t.entries, t.env.unix_millis(), "observation",
                      canonical_text(o, kAuditObservationOmits));
    t.state.context_label.join(observation_label(o));
    t.state.observations.push_back(std::move(o));
  }
}

namespace {

// A pending step whose dependency did not succeed can never run: skip it (and, in turn, its
// own dependents).
void skip_unreachable(Turn& t) {
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& st : t.state.steps) {
      if (st.status != StepStatus::pending) continue;
      for (const auto& dep : st.step.depends_on) {
        const StepState* d = t.state.find_step(dep);
        if (d == nullptr || d->status == StepStatus::denied ||
            d->status == StepStatus::needs_review || d->status == StepStatus::failed ||
            d->status == StepStatus::skipped) {
          st.status = StepStatus::skipped;
          t.audit("status", {{"step", st.step.id},
                             {"status", "skipped"},
                             {"reason", "dependency '" + dep + "' did not succeed"}});
          changed = true;
          break;
        }
      }
    }
  }
}

// Rule 1 of delegation.hpp: every ancestor's policy must allow the call too (for the
// ancestor's principal), and the most restrictive answer wins. Ancestors' rate limits and
// per-tool budgets do not apply (the usage they see is empty); a limit of zero refuses.
PolicyDecision narrowed(PolicyDecision own, const Delegation& delegation, const ToolSpec& spec,
                        const json& args, const ValueLabels& labels, std::int64_t now_millis) {
  if (own.decision == Decision::deny) return own;
  Usage none;
  none.now_millis = now_millis;
  for (const Ancestor& a : delegation.ancestors) {
    PolicyDecision theirs = a.policy.decide(spec, args, labels, a.principal, none);
    if (theirs.decision == Decision::allow && !theirs.budget_exhausted) continue;
    if (theirs.budget_exhausted) theirs.decision = Decision::deny;
    if (theirs.decision != Decision::deny && own.decision != Decision::allow) continue;
    const std::string whose =
        "the policy of agent '" + a.agent + "' (ancestor run '" + a.run_id + "')";
    own = {
        theirs.decision, a.agent + "/" + theirs.rule,
        (theirs.decision == Decision::deny ? "denied by " + whose : whose + " asks for approval") +
            ": " + theirs.reason,
        false};
    if (own.decision == Decision::deny) return own;
  }
  return own;
}

}  // namespace

Authorized authorize(Turn& t) {
  skip_unreachable(t);
  Authorized out;
  AgentState& s = t.state;
  const PolicyEngine& policy = t.policy;
  const auto window = policy.longest_rate_window();
  for (auto& st : s.steps) {
    if (st.status != StepStatus::pending) continue;
    const bool ready = std::all_of(st.step.depends_on.begin(), st.step.depends_on.end(),
                                   [&s](const std::string& dep) {
                                     const StepState* d = s.find_step(dep);
                                     return d != nullptr && d->status == StepStatus::succeeded;
                                   });
    if (!ready) continue;
    SpanRecorder span = t.span("rein.authorize");
    span.set("rein.tool", st.step.tool);
    const ToolSpec* spec = t.tools.find(st.step.tool);
    // References to earlier outputs are filled in first: schema and policy see the values.
    Status arguments = fill_in_references(st, s);
    if (spec != nullptr && arguments)
      arguments = t.tools.check_arguments(st.step.tool, st.step.args);
    if (spec == nullptr || !arguments) {
      // Invalid calls never reach policy or tool: the critic sees why.
      ToolResult invalid;
      invalid.status = ToolStatus::invalid_input;
      invalid.errors.push_back(spec == nullptr ? "unknown tool '" + st.step.tool + "'"
                                               : arguments.error().message());
      span.set("rein.decision", "invalid");
      out.invalid.push_back({&st, std::move(invalid), false});
      continue;
    }
    s.usage.now_millis = t.millis;
    PolicyDecision d = policy.decide(*spec, st.step.args, st.arg_labels, s.principal, s.usage);
    if (s.delegation)
      d = narrowed(std::move(d), *s.delegation, *spec, st.step.args, st.arg_labels, t.millis);
    if (d.decision == Decision::require_approval && st.approval &&
        st.approval->status == "approved") {
      d = {Decision::allow, d.rule,
           "approved by a person" +
               (st.approval->note.empty() ? std::string() : ": " + st.approval->note),
           false};
    }
    span.set("rein.decision", std::string(to_string(d.decision)));
    // An allowed call's decision is recorded with the call (its tool_call entry); a refusal,
    // or a call sent for approval, gets an entry of its own now.
    if (d.decision != Decision::allow || d.budget_exhausted) {
      const std::string step = json_string(st.step.id);
      const std::string tool = json_string(st.step.tool);
      const RawField call[] = {{"step", step}, {"tool", tool}};
      t.audit_text("decision", canonical_text(d, kAuditDecisionOmits, call));
    }
    if (d.budget_exhausted) {
      st.decision = d;
      out.budget_stop = std::move(d);
      break;
    }
    st.decision = std::move(d);
    const PolicyDecision& decided = *st.decision;
    switch (decided.decision) {
      case Decision::allow:
        s.usage.record_call(st.step.tool, s.usage.now_millis, window);
        out.calls.push_back({&st, spec});
        break;
      case Decision::require_approval: {
        Approval a;
        a.id = t.env.new_id("approval");
        a.rule = decided.rule;
        a.reason = decided.reason;
        a.requested_millis = t.env.unix_millis();
        st.approval = a;
        st.status = StepStatus::awaiting_approval;
        ++s.metrics.approvals_requested;
        t.audit("approval", {{"step", st.step.id},
                             {"tool", st.step.tool},
                             {"decision", "requested"},
                             {"approval_id", a.id},
                             {"rule", decided.rule},
                             {"reason", decided.reason}});
        break;
      }
      case Decision::deny:
        st.status = StepStatus::denied;
        ++s.metrics.denials;
        s.needs_review.push_back({st.step.id,
                                  "policy",
                                  {"denied by rule '" + decided.rule + "': " + decided.reason},
                                  st.step.args});
        break;
    }
  }
  return out;
}

Task<Status> commit(Turn& t) {
  co_return co_await commit_checkpoint(t, t.state.status != t.initial_status);
}

Task<Status> commit_checkpoint(Turn& t, bool checkpoint) {
  RunStore& store = *t.core.store;
  // The parked form needs a store that commits without blocking, a turn that may park, and no
  // audit sinks (host code that may block, called where the commit runs).
  if (!store.durable() || !store.commits_asynchronously() || t.executor.options().blocking_inline ||
      !t.core.options.audit_sinks.empty()) {
    auto write = [&t, checkpoint] { return t.core.commit(t.slot, t.state, t.entries, checkpoint); };
    co_return co_await store_io(t, write);
  }
  t.state.updated_millis = t.env.unix_millis();
  // Not cancellable: the state and entries must stay put until the store is done with them.
  // Parked on a Result<bool> rather than a Status: GCC 12 at -O1 takes the moves of an
  // optional<Status> through the awaiter for uses of uninitialized memory.
  auto start = [&t](Completion<Result<bool>> parked) {
    t.core.store->commit_async(
        t.state, t.entries,
        Completion<Status>(
            [parked](Status s) {
              return parked.complete(s ? Result<bool>(true) : Result<bool>(s.error()));
            },
            nullptr));
  };
  auto parked = co_await park<Result<bool>>(t.executor, std::move(start), [] {
    return Result<bool>(
        Error(ErrorCode::internal, "the store dropped a commit without finishing it"));
  });
  if (!parked.value) co_return Error(ErrorCode::internal, "the commit ended without a status");
  if (!*parked.value) co_return parked.value->error();
  t.entries.clear();
  co_return Status();
}

Status commit_now(Turn& t) {
  // A store that is not durable needs the state only when the status moved (the runtime's
  // copy is the truth in between).
  const bool checkpoint = t.state.status != t.initial_status;
  return t.core.commit(t.slot, t.state, t.entries, checkpoint);
}

std::string joined(const std::vector<std::string>& parts, const char* separator) {
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

void finish_run(AgentState& s, std::vector<AuditEntry>& entries, Env& env, RunStatus status,
                std::string reason) {
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
    std::string what =
        "the run stopped (" + std::string(to_string(status)) + ": " + s.status_reason + ")";
    if (!undone.empty()) what += " before these steps finished: " + joined(undone, ", ");
    s.needs_review.push_back(
        {"", status == RunStatus::budget_exhausted ? "budget" : "run", {what}, s.outputs});
  }
  append_audit_text(s, entries, env.unix_millis(), "status",
                    JsonObjectWriter()
                        .boolean("partial", s.partial)
                        .string("reason", s.status_reason)
                        .string("status", to_string(status))
                        .finish());
}

}  // namespace rein::detail
