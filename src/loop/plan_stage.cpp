// The plan stage: ask the planner when the plan has nothing left to do or a replan was asked
// for, and take in what it decides — new steps, a final answer (verified at once), or a
// question for a person.
#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "core/host_call.hpp"
#include "core/json_writer.hpp"
#include "core/value_fields.hpp"
#include "exec/park.hpp"
#include "loop/state_text.hpp"
#include "loop/turn.hpp"

namespace rein::detail {

using nlohmann::json;

namespace {

// The budgets a model call must fit; fills in the request's accounting fields.
std::optional<Error> admit_llm_call(Turn& t, LlmRequest& request) {
  const AgentConfig& o = t.core.agent;
  if (!o.llm && !o.llm_async)
    return Error(ErrorCode::unavailable, "agent '" + o.name + "' has no model (AgentConfig::llm)");
  Usage projected;
  projected.tokens = t.state.usage.tokens + t.llm_tokens;
  projected.cost = t.state.usage.cost + t.llm_cost;
  if (auto exhausted = t.policy.check_run_budgets(projected)) {
    return Error(ErrorCode::budget_exhausted, exhausted->reason);
  }
  // Refused before it is sent when the prompt (and the answer it allows) cannot fit.
  const std::int64_t expected = estimate_prompt_tokens(request) + request.max_tokens.value_or(0);
  if (auto exhausted = t.policy.check_llm_call(projected, expected, 0.0)) {
    return Error(ErrorCode::budget_exhausted, exhausted->reason);
  }
  if (request.run_id.empty()) request.run_id = t.state.run_id;
  if (request.principal.empty()) request.principal = t.state.principal.id;
  return std::nullopt;
}

void account_llm_call(Turn& t, SpanRecorder& span, const Result<LlmResponse>& response) {
  if (response) {
    t.llm_tokens += response->total_tokens();
    t.llm_cost += response->cost;
    span.set("rein.tokens", response->total_tokens());
    span.set("rein.model", response->model);
  } else {
    span.fail(response.error().to_string());
  }
}

// Starts the host's asynchronous callback; an exception it throws completes the request.
void start_async_llm(const AgentConfig& o, LlmRequest request, LlmCompletion done) {
  auto started = call_host("the LLM callback", [&] { o.llm_async(std::move(request), done); });
  if (!started) done.complete(std::move(started).error());
}

Result<LlmResponse> dropped_completion() {
  return Error(ErrorCode::unavailable, "the LLM callback dropped its completion");
}

}  // namespace

namespace {

// A run waiting on its model holds the frame of one of these two waits, so each keeps only what
// crosses it. Each admits its call when it starts (when the planner awaits it), so that the
// budgets see every call answered before, and records the call's span and tokens.

// Parked until the host's completion arrives; a cancelled run stops waiting at once.
Task<Result<LlmResponse>> wait_for_async_llm(Turn& t, LlmRequest request) {
  if (auto refused = admit_llm_call(t, request)) co_return std::move(*refused);
  const AgentConfig& o = t.core.agent;
  SpanRecorder span = t.span("rein.llm_call");
  // It refers to the request in this frame (which outlives the wait) rather than holding a
  // copy: small enough for std::function to keep without allocating. Named, not a temporary
  // in the co_await operand: GCC 12 destroys such a lambda's captures twice (see task.hpp).
  auto start = [&o, &request](LlmCompletion done) {
    start_async_llm(o, std::move(request), std::move(done));
  };
  auto parked = co_await park<Result<LlmResponse>>(t.executor, std::move(start), dropped_completion,
                                                   Env::TimePoint::max(), t.slot.cancel.token());
  if (parked.end != ParkEnd::completed) {
    parked.value.emplace(Error(ErrorCode::cancelled, "cancelled by the host"));
  }
  account_llm_call(t, span, *parked.value);
  co_return std::move(*parked.value);
}

// A synchronous callback holds a thread of the blocking pool, never a run thread.
Task<Result<LlmResponse>> wait_for_llm_on_pool(Turn& t, LlmRequest request) {
  if (auto refused = admit_llm_call(t, request)) co_return std::move(*refused);
  const AgentConfig& o = t.core.agent;
  SpanRecorder span = t.span("rein.llm_call");
  Result<LlmResponse> response = co_await t.executor.blocking(
      [&o, &request] { return call_host("the LLM callback", [&] { return o.llm(request); }); });
  account_llm_call(t, span, response);
  co_return response;
}

}  // namespace

Task<Result<LlmResponse>> ask_llm(Turn& t, LlmRequest request) {
  // Not a coroutine itself: the run waits in the frame of the one wait it takes.
  if (t.core.agent.llm_async) return wait_for_async_llm(t, std::move(request));
  return wait_for_llm_on_pool(t, std::move(request));
}

Result<LlmResponse> ask_llm_blocking(Turn& t, LlmRequest request) {
  if (auto refused = admit_llm_call(t, request)) return std::move(*refused);
  const AgentConfig& o = t.core.agent;
  SpanRecorder span = t.span("rein.llm_call");
  Result<LlmResponse> response = Error(ErrorCode::internal, "no answer");
  if (o.llm_async) {
    // A synchronous planner waits here, on its own thread, never on the executor's; the
    // host's completion, a dropped completion or the run's cancellation ends the wait.
    struct Waiting {
      std::mutex mutex;
      std::condition_variable cv;
      std::optional<Result<LlmResponse>> answer;
      bool settle(Result<LlmResponse> r) {
        std::lock_guard lock(mutex);
        if (answer) return false;
        answer.emplace(std::move(r));
        cv.notify_one();
        return true;
      }
    };
    auto waiting = std::make_shared<Waiting>();
    auto cancelled = t.slot.cancel.token().on_cancel(
        [waiting] { waiting->settle(Error(ErrorCode::cancelled, "cancelled by the host")); });
    start_async_llm(
        o, std::move(request),
        LlmCompletion([waiting](Result<LlmResponse> r) { return waiting->settle(std::move(r)); },
                      dropped_completion));
    std::unique_lock lock(waiting->mutex);
    waiting->cv.wait(lock, [&] { return waiting->answer.has_value(); });
    response = std::move(*waiting->answer);
  } else {
    response = call_host("the LLM callback", [&] { return o.llm(request); });
  }
  account_llm_call(t, span, response);
  return response;
}

namespace {

// The planner's decision: in a coroutine when it is asynchronous, else on the blocking pool.
Task<Result<PlanDecision>> decide_async(Planner& planner, const PlanRequest& request) {
  Result<PlanDecision> out = Error(ErrorCode::internal, "no decision");
  try {
    out = co_await planner.plan_async(request);
  } catch (...) {
    out = Error(ErrorCode::internal, describe_current_exception("the planner"));
  }
  co_return out;
}

Task<Result<PlanDecision>> decide_on_pool(Turn& t, Planner& planner, const PlanRequest& request) {
  co_return co_await t.executor.blocking(
      [&] { return call_host("the planner", [&] { return planner.plan(request); }); });
}

// Not a coroutine itself: a run waiting on its planner holds only the frame of the wait taken.
Task<Result<PlanDecision>> decide(Turn& t, const PlanRequest& request) {
  Planner& planner = *t.core.agent.planner;
  if (planner.is_async()) return decide_async(planner, request);
  return decide_on_pool(t, planner, request);
}

// Whether asking the planner may park the turn (else it is called right here): an
// asynchronous planner, or a synchronous one that must go to the blocking pool.
bool planner_waits(const Turn& t) {
  return t.core.agent.planner->is_async() || !t.executor.options().blocking_inline;
}

// Verifies the final answer: rule 1 of runtime.hpp, or a replan, review or failure.
Task<void> settle_answer(Turn& t, const json& answer) {
  AgentState& s = t.state;
  SpanRecorder span = t.span("rein.verify");
  const Verdict verdict = co_await review_answer(t, answer);
  span.set("rein.verdict", std::string(to_string(verdict.kind)));
  t.audit_text("answer", JsonObjectWriter()
                             .value("answer", answer)
                             .object("verdict", [&](auto& f) { write_fields(f, verdict); })
                             .finish());
  switch (verdict.kind) {
    case VerdictKind::accept:
      s.final_answer = answer;
      if (s.needs_review.empty()) {
        finish_run(s, t.entries, t.env, RunStatus::completed, "final answer verified");
      } else {
        finish_run(s, t.entries, t.env, RunStatus::needs_review,
                   "final answer verified; " + std::to_string(s.needs_review.size()) +
                       " item(s) need review");
      }
      co_return;
    case VerdictKind::retry:
    case VerdictKind::replan:
      if (s.metrics.replans < t.core.options.max_replans) {
        ++s.metrics.replans;
        s.replan_step = std::string();
        s.replan_reasons = verdict.reasons;
        co_return;
      }
      [[fallthrough]];
    case VerdictKind::needs_review:
      s.final_answer = answer;
      s.needs_review.push_back({"", "critic", verdict.reasons, answer});
      finish_run(s, t.entries, t.env, RunStatus::needs_review,
                 "the final answer could not be verified");
      co_return;
    case VerdictKind::fail:
      finish_run(s, t.entries, t.env, RunStatus::failed,
                 "the critic rejected the answer: " + joined(verdict.reasons));
      co_return;
  }
}

// What a planning round comes to.
enum class AfterPlanning { act, stop, settle_answer };

// Takes in the planner's decision: new steps, a question, or an answer to verify. Plain code,
// kept out of the round's coroutine so that a run waiting on its planner holds none of it.
AfterPlanning take_decision(Turn& t, SpanRecorder& span, Result<PlanDecision>& decision,
                            const std::optional<ReplanRequest>& replan) {
  AgentState& s = t.state;
  s.usage.tokens += t.llm_tokens;
  s.usage.cost += t.llm_cost;
  t.llm_tokens = 0;
  t.llm_cost = 0;
  if (decision && decision->kind == PlanDecision::Kind::steps) {
    if (auto valid = validate_plan(decision->steps, s); !valid) decision = std::move(valid).error();
  }
  if (!decision) {
    span.fail(decision.error().to_string());
    t.audit("plan", {{"error", decision.error().to_string()}, {"replan", replan.has_value()}});
    if (t.slot.cancel_requested) {
      finish_run(s, t.entries, t.env, RunStatus::cancelled, "cancelled by the host");
      return AfterPlanning::stop;
    }
    if (replan) {
      // The planner could not find another way: flag what failed and go on with the rest.
      s.needs_review.push_back(
          {replan->step_id,
           "planner",
           {"replanning failed: " + decision.error().message(), joined(replan->reasons)},
           nullptr});
      return AfterPlanning::act;
    }
    if (decision.error().code() == ErrorCode::budget_exhausted) {
      finish_run(s, t.entries, t.env, RunStatus::budget_exhausted, decision.error().message());
    } else {
      finish_run(s, t.entries, t.env, RunStatus::failed,
                 "planner: " + decision.error().to_string());
    }
    return AfterPlanning::stop;
  }
  for (auto& m : decision->messages)
    s.messages.push_back(std::move(m));
  switch (decision->kind) {
    case PlanDecision::Kind::steps: {
      const auto round = ++s.planning_rounds;
      // A StepState is large: grow once for the round, not once per step (still geometric,
      // so that many rounds do not copy the steps each time).
      if (const auto needed = s.steps.size() + decision->steps.size(); needed > s.steps.capacity())
        s.steps.reserve(std::max(needed, 2 * s.steps.capacity()));
      // What the model wrote is as untrusted as what it had read (labels.hpp).
      // (A reference: each step copies it once, the round need not.)
      static const Label kRequestOnly;
      const Label& written_from = decision->from_request_only ? kRequestOnly : s.context_label;
      std::string planned = "[";
      for (auto& step : decision->steps) {
        if (planned.size() > 1) planned.push_back(',');
        planned += plan_step_text(step);
        StepState state;
        state.step = std::move(step);
        state.round = round;
        state.arg_labels.add("", written_from);
        s.steps.push_back(std::move(state));
      }
      planned.push_back(']');
      span.set("rein.steps", static_cast<std::int64_t>(decision->steps.size()));
      t.audit_text("plan", JsonObjectWriter()
                               .boolean("replan", replan.has_value())
                               .integer("round", round)
                               .raw("steps", planned)
                               .finish());
      return AfterPlanning::act;
    }
    case PlanDecision::Kind::finish:
      ++s.planning_rounds;
      // Written from the outputs or by a model that read them: labelled like everything read.
      s.answer_label = s.context_label;
      span.end();
      return AfterPlanning::settle_answer;
    case PlanDecision::Kind::ask:
      ++s.planning_rounds;
      s.question = decision->question.empty()
                       ? std::string("(the planner asked without a question)")
                       : decision->question;
      s.status = RunStatus::awaiting_input;
      s.status_reason = "the planner asked: " + s.question;
      t.audit("status", {{"status", "awaiting_input"}, {"question", s.question}});
      return AfterPlanning::stop;
  }
  return AfterPlanning::stop;
}

// One planning round. True when the turn goes on to act.
Task<bool> plan_round(Turn& t, std::optional<ReplanRequest> replan) {
  SpanRecorder span = t.span("rein.plan");
  PlanRequest request{t.state, t.tools, nullptr, replan, t.core.options.memory.manager, nullptr};
  request.llm = [&t](const LlmRequest& r) { return ask_llm_blocking(t, r); };
  request.ask = [&t](LlmRequest r) { return ask_llm(t, std::move(r)); };
  // (if/else, not ?: — GCC 12 mishandles co_await inside a conditional expression)
  Result<PlanDecision> decision = Error(ErrorCode::internal, "no decision");
  if (planner_waits(t)) {
    decision = co_await decide(t, request);
  } else {
    decision = call_host("the planner", [&] { return t.core.agent.planner->plan(request); });
  }
  switch (take_decision(t, span, decision, replan)) {
    case AfterPlanning::act:
      co_return true;
    case AfterPlanning::settle_answer:
      co_await settle_answer(t, decision->answer);
      co_return false;
    case AfterPlanning::stop:
      co_return false;
  }
  co_return false;
}

}  // namespace

bool planning_due(const AgentState& s) {
  if (s.replan_step) return true;
  return std::none_of(s.steps.begin(), s.steps.end(), [](const StepState& st) {
    return st.status == StepStatus::pending || st.status == StepStatus::running ||
           st.status == StepStatus::awaiting_approval;
  });
}

Task<bool> plan(Turn& t) {
  AgentState& s = t.state;
  std::optional<ReplanRequest> replan;
  if (s.replan_step) {
    replan = ReplanRequest{*s.replan_step, s.replan_reasons};
    s.replan_step.reset();
    s.replan_reasons.clear();
  }
  return plan_round(t, std::move(replan));
}

}  // namespace rein::detail
