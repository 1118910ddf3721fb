#include "rein/planner.hpp"

#include <functional>
#include <set>
#include <unordered_map>

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
  return std::make_shared<StaticPlanner>(
      [steps = std::move(steps), answer = std::move(answer)](const PlanRequest& request) -> Result<PlanDecision> {
        if (request.replan) {
          return Error(ErrorCode::invalid_argument,
                       "a fixed plan cannot replan (step '" + request.replan->step_id + "')");
        }
        if (request.state.planning_rounds == 0) return PlanDecision::run(steps);
        return PlanDecision::finish(answer ? answer(request.state) : request.state.outputs);
      });
}

Result<PlanDecision> StaticPlanner::plan(const PlanRequest& request) { return fn_(request); }

Status validate_plan(const std::vector<PlanStep>& steps, const AgentState& state) {
  auto bad = [](const std::string& what) {
    return Error(ErrorCode::invalid_argument, "invalid plan: " + what);
  };
  if (steps.empty()) return bad("no steps (finish with an answer instead)");
  std::unordered_map<std::string, const PlanStep*> fresh;
  for (const auto& s : steps) {
    if (s.id.empty()) return bad("a step has an empty id");
    if (s.tool.empty()) return bad("step '" + s.id + "' names no tool");
    if (!s.args.is_object()) return bad("step '" + s.id + "': args must be a JSON object");
    if (state.find_step(s.id) != nullptr || !fresh.emplace(s.id, &s).second) {
      return bad("step id '" + s.id + "' is used twice");
    }
  }
  for (const auto& s : steps) {
    for (const auto& dep : s.depends_on) {
      if (dep == s.id) return bad("step '" + s.id + "' depends on itself");
      if (fresh.count(dep) == 0 && state.find_step(dep) == nullptr) {
        return bad("step '" + s.id + "' depends on unknown step '" + dep + "'");
      }
    }
  }
  // Cycles can only form among the new steps: earlier steps never depend on later ones.
  std::unordered_map<std::string, int> mark;  // 0 unvisited, 1 on stack, 2 done
  std::function<bool(const PlanStep&)> acyclic = [&](const PlanStep& s) {
    int& m = mark[s.id];
    if (m == 1) return false;
    if (m == 2) return true;
    m = 1;
    for (const auto& dep : s.depends_on) {
      auto it = fresh.find(dep);
      if (it != fresh.end() && !acyclic(*it->second)) return false;
    }
    mark[s.id] = 2;
    return true;
  };
  for (const auto& s : steps) {
    if (!acyclic(s)) return bad("the dependencies of step '" + s.id + "' form a cycle");
  }
  return {};
}

}  // namespace rein
