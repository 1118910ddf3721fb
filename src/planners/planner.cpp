#include "rein/planner.hpp"

#include <algorithm>
#include <functional>
#include <optional>

#include "planners/plan_references.hpp"

namespace rein {

PlanDecision PlanDecision::run(std::vector<PlanStep> steps) {
  PlanDecision d;
  d.kind = Kind::steps;
  d.steps = std::move(steps);
  return d;
}

PlanDecision PlanDecision::finish(nlohmann::json answer) {
  PlanDecision d;
  d.kind = Kind::finish;
  d.answer = std::move(answer);
  return d;
}

PlanDecision PlanDecision::ask(std::string question) {
  PlanDecision d;
  d.kind = Kind::ask;
  d.question = std::move(question);
  return d;
}

std::shared_ptr<StaticPlanner> StaticPlanner::fixed(std::vector<PlanStep> steps, AnswerFn answer) {
  return std::make_shared<StaticPlanner>([steps = std::move(steps), answer = std::move(answer)](
                                             const PlanRequest& request) -> Result<PlanDecision> {
    if (request.replan) {
      return Error(ErrorCode::invalid_argument,
                   "a fixed plan cannot replan (step '" + request.replan->step_id + "')");
    }
    if (request.state.planning_rounds == 0) return PlanDecision::run(steps);
    return PlanDecision::finish(answer ? answer(request.state) : request.state.outputs);
  });
}

Result<PlanDecision> StaticPlanner::plan(const PlanRequest& request) {
  return fn_(request);
}

Status validate_plan(const std::vector<PlanStep>& steps, const AgentState& state) {
  auto bad = [](const std::string& what) {
    return Error(ErrorCode::invalid_argument, "invalid plan: " + what);
  };
  if (steps.empty()) return bad("no steps (finish with an answer instead)");
  // Positions of the new steps by id: a sorted index keeps this allocation-light for the
  // usual few steps and O(n log n) for large plans.
  std::vector<std::size_t> order(steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return steps[a].id < steps[b].id; });
  auto position_of = [&](const std::string& id) -> std::optional<std::size_t> {
    auto it =
        std::lower_bound(order.begin(), order.end(), id,
                         [&](std::size_t i, const std::string& key) { return steps[i].id < key; });
    if (it == order.end() || steps[*it].id != id) return std::nullopt;
    return *it;
  };
  for (std::size_t k = 0; k < order.size(); ++k) {
    const PlanStep& s = steps[order[k]];
    if (s.id.empty()) return bad("a step has an empty id");
    if (k > 0 && steps[order[k - 1]].id == s.id) return bad("step id '" + s.id + "' is used twice");
  }
  for (const auto& s : steps) {
    if (s.tool.empty()) return bad("step '" + s.id + "' names no tool");
    if (!s.args.is_object()) return bad("step '" + s.id + "': args must be a JSON object");
    if (auto refs = detail::check_references(s); !refs) return bad(refs.error().message());
    if (state.find_step(s.id) != nullptr) return bad("step id '" + s.id + "' is used twice");
    for (const auto& dep : s.depends_on) {
      if (dep == s.id) return bad("step '" + s.id + "' depends on itself");
      if (!position_of(dep) && state.find_step(dep) == nullptr) {
        return bad("step '" + s.id + "' depends on unknown step '" + dep + "'");
      }
    }
  }
  // Cycles can only form among the new steps: earlier steps never depend on later ones.
  const bool linked = std::any_of(steps.begin(), steps.end(), [&](const PlanStep& s) {
    return std::any_of(s.depends_on.begin(), s.depends_on.end(),
                       [&](const std::string& dep) { return position_of(dep).has_value(); });
  });
  if (!linked) return {};
  std::vector<int> mark(steps.size(), 0);  // 0 unvisited, 1 on the path, 2 done
  std::function<bool(std::size_t)> acyclic = [&](std::size_t i) {
    if (mark[i] == 1) return false;
    if (mark[i] == 2) return true;
    mark[i] = 1;
    for (const auto& dep : steps[i].depends_on) {
      if (auto p = position_of(dep); p && !acyclic(*p)) return false;
    }
    mark[i] = 2;
    return true;
  };
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (!acyclic(i)) return bad("the dependencies of step '" + steps[i].id + "' form a cycle");
  }
  return {};
}

}  // namespace rein

namespace rein {

namespace {

Task<Result<LlmResponse>> ask_directly(LlmCallback llm, LlmRequest request) {
  if (!llm) co_return Error(ErrorCode::unavailable, "the planner needs a model (AgentConfig::llm)");
  co_return llm(request);
}

}  // namespace

Task<Result<LlmResponse>> PlanRequest::ask_model(LlmRequest request) const {
  // Not a coroutine itself: the runtime's task is handed on as it is, so a run waiting on its
  // model holds one frame fewer.
  if (ask) return ask(std::move(request));
  return ask_directly(llm, std::move(request));
}

Task<Result<PlanDecision>> Planner::plan_async(const PlanRequest& request) {
  co_return plan(request);
}

}  // namespace rein
