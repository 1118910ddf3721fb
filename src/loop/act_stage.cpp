// The act stage: make the authorized calls, concurrently, with side effects made safe across
// crashes — and, before anything else in a turn, recover the calls a crash interrupted.
#include <algorithm>
#include <optional>

#include "core/host_call.hpp"
#include "core/log.hpp"
#include "exec/gather.hpp"
#include "loop/turn.hpp"

namespace rein::detail {

bool interrupted(const AgentState& s) {
  return std::any_of(s.steps.begin(), s.steps.end(),
                     [](const StepState& st) { return st.status == StepStatus::running; });
}

Task<std::vector<Outcome>> recover(Turn& t) {
  std::vector<Outcome> out;
  AgentState& s = t.state;
  for (auto& st : s.steps) {
    if (st.status != StepStatus::running) continue;
    auto journaled = co_await store_io(
        t, [&] { return t.core.store->find_outcome(s.run_id, st.step.id, st.attempts); });
    if (journaled) {
      t.audit("recovery", {{"step", st.step.id},
                           {"action", "outcome journaled before the interruption; not run again"}});
      out.push_back({&st, std::move(*journaled), false});
      continue;
    }
    const ToolSpec* spec = t.tools.find(st.step.tool);
    if (spec == nullptr || !spec->side_effects || has_key_support(*spec)) {
      st.status = StepStatus::pending;
      t.audit("recovery",
              {{"step", st.step.id},
               {"action", spec != nullptr && spec->side_effects
                              ? "outcome unknown; running again with the same idempotency key"
                              : "outcome unknown; running again (no side effects)"}});
      continue;
    }
    std::optional<ToolResult> reconciled;
    if (const ReconcileFn& reconcile = t.core.options.reconcile) {
      // A reconcile callback that throws knows no more than one that says "unknown".
      auto answer = co_await t.executor.blocking(
          [&] { return call_host("the reconcile callback", [&] { return reconcile(s, st); }); });
      if (answer) reconciled = std::move(*answer);
    }
    if (reconciled) {
      t.audit("recovery", {{"step", st.step.id},
                           {"action", "outcome settled by the host's reconcile callback"}});
      out.push_back({&st, std::move(*reconciled), false});
      continue;
    }
    st.status = StepStatus::needs_review;
    s.needs_review.push_back(
        {st.step.id,
         "recovery",
         {"the outcome of side-effecting call '" + st.step.tool +
          "' is unknown after an interruption, and it has no idempotency key: not replayed"},
         st.step.args});
    t.audit("recovery", {{"step", st.step.id},
                         {"action", "outcome unknown; not replayed; flagged for review"}});
  }
  co_return out;
}

namespace {

void record_span(SpanRecorder& span, const ToolResult& r) {
  span.set("rein.status", std::string(to_string(r.status)));
  span.set("rein.attempts", static_cast<std::int64_t>(r.attempts));
  span.set("rein.duration_us", static_cast<std::int64_t>(r.duration.count()));
  if (!r.ok()) span.fail(r.errors.empty() ? "tool failed" : r.errors.front());
}

// Journals a side effect's outcome as soon as it is known, so a crash cannot lose it.
void journal(Turn& t, const Call& c, const ToolResult& r) {
  if (!c.spec->side_effects || !t.core.store->durable()) return;
  const StepState& st = *c.step;
  if (auto s = t.core.store->record_outcome(t.state.run_id, st.step.id, st.attempts, r); !s) {
    logger()->warn("rein: journaling the outcome of step '{}' failed: {}", st.step.id,
                   s.error().message());
  }
}

// What a tool that asks for it (ToolSpec::wants_caller) learns of the run calling it: enough
// to start a child run in its place, with its share of what the run has left (delegation.hpp).
std::shared_ptr<const CallerRun> caller_of(const Turn& t, const Call& c, std::size_t calls,
                                           const std::string& span_id) {
  const AgentState& s = t.state;
  auto caller = std::make_shared<CallerRun>();
  caller->run_id = s.run_id;
  caller->step_id = c.step->step.id;
  caller->agent = t.core.agent.name;
  caller->principal = s.principal;
  caller->policy = t.core.agent.policy;
  caller->delegation = s.delegation;
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.env.now() - t.started);
  caller->left = remaining(t.policy.spec().budgets, s.usage, calls, elapsed);
  caller->arguments_label = c.step->arg_labels.whole();
  caller->audit_head = s.audit_head;
  caller->span_id = span_id;
  return caller;
}

InvokeOptions invoke_options(const Turn& t, const Call& c, const CancellationToken& cancel,
                             std::size_t calls, const SpanRecorder& span) {
  InvokeOptions o{.idempotency_key = c.step->idempotency_key, .cancellation = cancel};
  if (c.spec->wants_caller) o.caller = caller_of(t, c, calls, span.id());
  return o;
}

// One call, without blocking a run thread.
Task<void> call_async(Turn& t, const Call& c, ToolResult& result, CancellationToken cancel,
                      std::size_t calls) {
  const StepState& st = *c.step;
  SpanRecorder span = t.span("rein.tool_call");
  span.set("rein.tool", st.step.tool);
  result = co_await t.tools.invoke_async(st.step.tool, st.step.args,
                                         invoke_options(t, c, cancel, calls, span), t.executor);
  record_span(span, result);
  if (c.spec->side_effects && t.core.store->durable())
    co_await store_io(t, [&] { journal(t, c, result); });
}

// One call on the calling thread (synchronous tools of a turn taken by a blocking call).
void call_here(Turn& t, const Call& c, ToolResult& result, const CancellationToken& cancel,
               std::size_t calls) {
  const StepState& st = *c.step;
  SpanRecorder span = t.span("rein.tool_call");
  span.set("rein.tool", st.step.tool);
  result = t.tools.invoke(st.step.tool, st.step.args, invoke_options(t, c, cancel, calls, span));
  record_span(span, result);
  journal(t, c, result);
}

}  // namespace

namespace {

// Marks the calls running, with their idempotency keys; true when any has side effects.
bool begin_calls(Turn& t, const std::vector<Call>& calls) {
  AgentState& s = t.state;
  bool side_effects = false;
  for (const Call& c : calls) {
    StepState& st = *c.step;
    st.status = StepStatus::running;
    ++st.attempts;
    if (c.spec->side_effects && has_key_support(*c.spec) && st.idempotency_key.empty()) {
      st.idempotency_key =
          s.run_id + ":" + st.step.id + (st.retries > 0 ? "#" + std::to_string(st.retries) : "");
    }
    side_effects = side_effects || c.spec->side_effects;
  }
  return side_effects;
}

}  // namespace

bool act_here(const Turn& t, const std::vector<Call>& calls) {
  if (!t.executor.options().blocking_inline) return false;
  return std::none_of(calls.begin(), calls.end(),
                      [&t](const Call& c) { return t.tools.is_async(c.step->step.tool); });
}

Result<std::vector<Outcome>> act_now(Turn& t, std::vector<Call> calls) {
  std::vector<Outcome> out;
  if (calls.empty()) return out;
  // The intent: once committed, a crash can no longer lose track of these calls.
  if (begin_calls(t, calls) && t.core.store->durable()) {
    if (auto s = t.core.commit(t.slot, t.state, t.entries); !s) return std::move(s).error();
  }
  std::vector<ToolResult> results(calls.size());
  const CancellationToken cancel = t.slot.cancel.token();
  if (calls.size() == 1) {
    call_here(t, calls[0], results[0], cancel, 1);  // the common case: no hand-off at all
  } else {
    std::vector<std::function<void()>> tasks;
    tasks.reserve(calls.size());
    for (std::size_t i = 0; i < calls.size(); ++i) {
      tasks.emplace_back([&t, &calls, &results, &cancel, i] {
        call_here(t, calls[i], results[i], cancel, calls.size());
      });
    }
    t.core.pool.run_all(tasks);
  }
  for (std::size_t i = 0; i < calls.size(); ++i)
    out.push_back({calls[i].step, std::move(results[i]), true});
  return out;
}

Task<Result<std::vector<Outcome>>> act(Turn& t, std::vector<Call> calls) {
  std::vector<Outcome> out;
  if (calls.empty()) co_return out;
  // The intent: once committed, a crash can no longer lose track of these calls.
  if (begin_calls(t, calls) && t.core.store->durable()) {
    auto committed = co_await commit_checkpoint(t, true);
    if (!committed) co_return std::move(committed).error();
  }
  std::vector<ToolResult> results(calls.size());
  const CancellationToken cancel = t.slot.cancel.token();
  // A turn taken by a blocking call runs synchronous tools on the runtime's worker pool, in
  // parallel, as it always has; everything else goes through the executor.
  const bool here = t.executor.options().blocking_inline;
  std::optional<Gather> gather;  // only when something goes through the executor
  std::vector<std::size_t> blocking;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (here && !t.tools.is_async(calls[i].step->step.tool)) {
      blocking.push_back(i);
    } else {
      if (!gather) gather.emplace(t.executor, t.core.options.max_parallel_calls);
      gather->add(call_async(t, calls[i], results[i], cancel, calls.size()));
    }
  }
  if (blocking.size() == 1) {
    call_here(t, calls[blocking[0]], results[blocking[0]], cancel, calls.size());
  } else if (!blocking.empty()) {
    std::vector<std::function<void()>> tasks;
    tasks.reserve(blocking.size());
    for (std::size_t i : blocking) {
      tasks.emplace_back([&t, &calls, &results, &cancel, i] {
        call_here(t, calls[i], results[i], cancel, calls.size());
      });
    }
    t.core.pool.run_all(tasks);
  }
  if (gather) co_await gather->wait();
  for (std::size_t i = 0; i < calls.size(); ++i)
    out.push_back({calls[i].step, std::move(results[i]), true});
  co_return out;
}

}  // namespace rein::detail
