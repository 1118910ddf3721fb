// The verify stage: the critic judges every outcome, in plan order (so runs reproduce), and
// its verdict moves the step on — accepted, retried, replanned, flagged, or the run failed.
#include "core/host_call.hpp"
#include "core/json_writer.hpp"
#include "core/value_fields.hpp"
#include "loop/state_text.hpp"
#include "loop/turn.hpp"

namespace rein::detail {

using nlohmann::json;

namespace {

// The critic's verdict, wherever it may run: in a coroutine when it is asynchronous, right
// here when it cannot block, else on the blocking pool. A critic that throws leaves the
// item for review.
template <typename Sync, typename Async>
Task<Verdict> judge(Turn& t, Sync sync, Async async) {
  Critic& critic = *t.core.agent.critic;
  Result<Verdict> reviewed = Error(ErrorCode::internal, "no verdict");
  if (critic.is_async()) {
    try {
      reviewed = co_await async(critic);
    } catch (...) {
      reviewed = Error(ErrorCode::internal, describe_current_exception("the critic"));
    }
  } else if (!critic.may_block()) {
    reviewed = call_host("the critic", [&] { return sync(critic); });
  } else {
    reviewed = co_await t.executor.blocking(
        [&] { return call_host("the critic", [&] { return sync(critic); }); });
  }
  co_return reviewed ? std::move(*reviewed) : Verdict::needs_review({reviewed.error().message()});
}

void apply(Turn& t, StepState& st, ToolResult result, Verdict verdict_in) {
  AgentState& s = t.state;
  const int max_retries = t.core.options.max_retries_per_step;
  st.output_label = result_label(t.tools, st, result);
  s.context_label.join(st.output_label);
  s.usage.add(result.spent);  // a child run's usage counts against this run (delegation.hpp)
  st.result = std::move(result);
  st.verdict = std::move(verdict_in);
  const ToolResult& r = *st.result;
  const Verdict& verdict = *st.verdict;
  switch (verdict.kind) {
    case VerdictKind::accept:
      st.status = StepStatus::succeeded;
      s.outputs[st.step.id] = r.data;
      return;
    case VerdictKind::retry:
      if (st.retries < max_retries) {
        ++st.retries;
        ++s.metrics.retries;
        st.status = StepStatus::pending;
        st.idempotency_key.clear();  // a new attempt of a side effect gets a new key
        return;
      }
      st.status = StepStatus::needs_review;
      s.needs_review.push_back({st.step.id, "critic", verdict.reasons, r.data});
      s.needs_review.back().issues.push_back("still failing after " + std::to_string(st.retries) +
                                             " retr" + (st.retries == 1 ? "y" : "ies"));
      return;
    case VerdictKind::replan:
      if (s.metrics.replans < t.core.options.max_replans) {
        ++s.metrics.replans;
        st.status = StepStatus::failed;
        s.replan_step = st.step.id;
        s.replan_reasons = verdict.reasons;
        return;
      }
      st.status = StepStatus::needs_review;
      s.needs_review.push_back({st.step.id, "critic", verdict.reasons, r.data});
      s.needs_review.back().issues.push_back("no replans left");
      return;
    case VerdictKind::needs_review:
      st.status = StepStatus::needs_review;
      s.needs_review.push_back({st.step.id, "critic", verdict.reasons, r.data});
      return;
    case VerdictKind::fail:
      st.status = StepStatus::failed;
      finish_run(s, t.entries, t.env, RunStatus::failed,
                 "the critic failed step '" + st.step.id + "': " + joined(verdict.reasons));
      return;
  }
}

}  // namespace

Task<Verdict> review_answer(Turn& t, const json& answer) {
  const AgentState& s = t.state;
  co_return co_await judge(
      t, [&](Critic& c) { return c.review_output(answer, s); },
      [&](Critic& c) { return c.review_output_async(answer, s); });
}

namespace {

// The tool_call audit entry for an outcome and its verdict, then the verdict applied.
void settle(Turn& t, Outcome& o, Verdict verdict, SpanRecorder& span) {
  StepState& st = *o.step;
  const ToolResult& r = o.result;
  span.set("rein.verdict", std::string(to_string(verdict.kind)));
  // One entry per call: the decision that let it run, what came back, and what the critic
  // made of it — the result's fields with the call's merged in. The arguments are in the
  // step's plan entry.
  const std::string decision =
      st.decision && o.executed ? canonical_text(*st.decision, kAuditDecisionOmits) : std::string();
  const std::string step = json_string(st.step.id);
  const std::string tool = json_string(st.step.tool);
  const std::string judged = canonical_text(verdict);
  const RawField call[] = {{"decision", decision},
                           {"executed", o.executed ? "true" : "false"},
                           {"step", step},
                           {"tool", tool},
                           {"verdict", judged}};
  t.audit_text("tool_call", canonical_text(r, kToolCallResultOmits, call));
  apply(t, st, std::move(o.result), std::move(verdict));
}

void count_error(Turn& t, const Outcome& o) {
  if (!o.result.ok()) ++t.state.metrics.errors_by_tool[o.step->step.tool];
}

}  // namespace

bool verify_here(const Turn& t) {
  const Critic& critic = *t.core.agent.critic;
  return !critic.is_async() && !critic.may_block();
}

void verify_now(Turn& t, std::vector<Outcome> outcomes) {
  AgentState& s = t.state;
  Critic& critic = *t.core.agent.critic;
  for (Outcome& o : outcomes) {
    count_error(t, o);
    SpanRecorder span = t.span("rein.verify");
    span.set("rein.tool", o.step->step.tool);
    auto reviewed =
        call_host("the critic", [&] { return critic.review_step(*o.step, o.result, s); });
    settle(t, o,
           reviewed ? std::move(*reviewed) : Verdict::needs_review({reviewed.error().message()}),
           span);
    if (is_terminal(s.status)) break;
  }
}

Task<void> verify(Turn& t, std::vector<Outcome> outcomes) {
  AgentState& s = t.state;
  for (Outcome& o : outcomes) {
    count_error(t, o);
    SpanRecorder span = t.span("rein.verify");
    span.set("rein.tool", o.step->step.tool);
    StepState& st = *o.step;
    const ToolResult& r = o.result;
    Verdict verdict = co_await judge(
        t, [&](Critic& c) { return c.review_step(st, r, s); },
        [&](Critic& c) { return c.review_step_async(st, r, s); });
    settle(t, o, std::move(verdict), span);
    if (is_terminal(s.status)) break;
  }
}

}  // namespace rein::detail
