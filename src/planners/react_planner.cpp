#include "rein/react_planner.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/json_text.hpp"
#include "planners/planner_support.hpp"

namespace rein {

using nlohmann::json;

namespace {

constexpr std::string_view kFormat =
    "Call the tools you need; calls made in one turn run in parallel, and you see their results in "
    "the next. "
    "When the goal is reached, or cannot be, answer in text (or a JSON object) without calling "
    "tools.";

int turns_taken(const AgentState& state) {
  int turns = 0;
  for (const auto& m : state.messages)
    turns += m.role == "assistant" && !m.tool_calls.empty() ? 1 : 0;
  return turns;
}

// What a call produced, for its tool message: its step as the JSON planner sees it.
std::string result_text(const StepState* step, const PromptOptions& options,
                        const AgentState& state) {
  if (step == nullptr) return "error: this call was not run";
  auto it = state.outputs.find(step->step.id);
  std::string text;
  detail::append_step_text(text, *step, it != state.outputs.end() ? &*it : nullptr, options);
  return text;
}

bool usable_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == ':';
  });
}

}  // namespace

ReactPlanner::ReactPlanner(ReactOptions options) : options_(std::move(options)) {}

std::vector<Message> ReactPlanner::conversation(const PlanRequest& request) const {
  const AgentState& state = request.state;
  std::vector<Message> out = {
      {"system", detail::system_text(options_.instructions, kFormat), {}, "", ""},
      {"user", describe_task(state, options_.prompt), {}, "", ""}};
  for (const auto& m : state.messages) {
    if (m.role != "assistant" || m.tool_calls.empty()) continue;
    out.push_back(m);
    for (const auto& call : m.tool_calls) {
      out.push_back(
          {"tool", result_text(state.find_step(call.id), options_.prompt, state), {}, call.id, ""});
    }
  }
  if (request.replan) out.push_back({"user", describe_replan(*request.replan, state), {}, "", ""});
  return out;
}

Result<PlanDecision> ReactPlanner::plan(const PlanRequest& request) {
  return sync_wait(plan_async(request));
}

Task<Result<PlanDecision>> ReactPlanner::plan_async(const PlanRequest& request) {
  const AgentState& state = request.state;
  const int turns = turns_taken(state);
  if (turns >= options_.max_turns) {
    co_return Error(ErrorCode::budget_exhausted, "the model used its " +
                                                     std::to_string(options_.max_turns) +
                                                     " tool-calling turns without a final answer");
  }
  std::set<std::string> done;  // tool + arguments of calls that already succeeded
  std::set<std::string> ids;
  for (const auto& s : state.steps) {
    ids.insert(s.step.id);
    if (s.status == StepStatus::succeeded)
      done.insert(s.step.tool + " " + detail::json_text(s.step.args));
  }
  // Built afresh for each ask and moved into it: a run waiting on the model holds no copy of
  // its prompt (repairs are rare; rebuilding is cheaper than keeping one per run).
  std::vector<Message> repair_messages;  // earlier unusable turns and what was wrong with them
  for (int repairs = 0;; ++repairs) {
    LlmRequest llm = detail::model_request(options_, conversation(request));
    llm.tools = request.tools.openai_catalog();
    for (const auto& m : repair_messages)
      llm.messages.push_back(m);
    auto answer = co_await request.ask_model(std::move(llm));
    if (!answer) co_return answer.error();
    Message turn{"assistant", answer->content, answer->tool_calls, "", ""};
    std::vector<std::string> problems(turn.tool_calls.size());
    std::string general;
    bool any_problem = false;
    std::vector<PlanStep> steps;
    if (turn.tool_calls.empty()) {
      if (answer->finish_reason == "length") {
        general = "Your answer was cut off by the token limit. Answer again, more briefly.";
      } else if (detail::strip_fence(answer->content).empty()) {
        general = "Your answer was empty. Call a tool, or give the final answer.";
      } else {
        const json parsed = json::parse(detail::strip_fence(answer->content), nullptr, false);
        PlanDecision d = PlanDecision::finish(parsed.is_object() ? parsed : json(answer->content));
        d.messages.push_back(std::move(turn));
        co_return d;
      }
      any_problem = true;
    }
    std::set<std::string> new_ids;
    for (std::size_t i = 0; i < turn.tool_calls.size(); ++i) {
      ToolCall& call = turn.tool_calls[i];
      std::string id = usable_id(call.id) && ids.count(call.id) == 0 && new_ids.count(call.id) == 0
                           ? call.id
                           : "t" + std::to_string(turns + 1) + "_" + std::to_string(i + 1);
      while (ids.count(id) != 0 || new_ids.count(id) != 0)
        id += "_";
      call.id = id;  // the step id: tool messages answer it by this id
      new_ids.insert(id);
      const ToolSpec* spec = detail::resolve_tool(request.tools, call.name);
      if (spec == nullptr) {
        problems[i] = "error: there is no tool '" + call.name + "'; use one of the tools provided";
      } else if (!call.arguments.is_object()) {
        problems[i] =
            "error: the arguments are not a JSON object: " + call.raw_arguments.substr(0, 200);
      } else if (auto checked = request.tools.check_arguments(spec->name, call.arguments);
                 !checked) {
        problems[i] = "error: invalid arguments: " + checked.error().message();
      } else if (done.count(spec->name + " " + detail::json_text(call.arguments)) != 0) {
        problems[i] =
            "error: this exact call already succeeded earlier; its result is above. Use it, or "
            "answer.";
      } else {
        steps.push_back({id, spec->name, call.arguments, {}, answer->content.substr(0, 200)});
        continue;
      }
      any_problem = true;
    }
    if (!any_problem) {
      PlanDecision d = PlanDecision::run(std::move(steps));
      d.messages.push_back(std::move(turn));
      co_return d;
    }
    if (repairs >= options_.max_repairs) {
      std::string all = general;
      for (const auto& p : problems) {
        if (!p.empty()) all += (all.empty() ? "" : "; ") + p;
      }
      co_return Error(ErrorCode::invalid_argument, "the model's turn was still unusable after " +
                                                       std::to_string(repairs) +
                                                       " repair(s): " + all);
    }
    // Explain each call's problem in its tool message (the wire format needs one per call).
    repair_messages.push_back(turn);
    for (std::size_t i = 0; i < turn.tool_calls.size(); ++i) {
      const std::string text =
          !problems[i].empty()
              ? problems[i]
              : "not run: another call of this turn was invalid; call it again if still needed";
      repair_messages.push_back({"tool", text, {}, turn.tool_calls[i].id, ""});
    }
    if (!general.empty()) repair_messages.push_back({"user", general, {}, "", ""});
  }
}

}  // namespace rein
