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

Error out_of_turns(int max_turns) {
  return Error(ErrorCode::budget_exhausted, "the model used its " + std::to_string(max_turns) +
                                                " tool-calling turns without a final answer");
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

namespace {

// What the plan needs to know of earlier turns to judge the model's next one.
struct Earlier {
  std::set<std::string> done;  // tool + arguments of calls that already succeeded
  std::set<std::string> ids;
};

Earlier earlier_of(const AgentState& state) {
  Earlier out;
  for (const auto& s : state.steps) {
    out.ids.insert(s.step.id);
    if (s.status == StepStatus::succeeded)
      out.done.insert(s.step.tool + " " + detail::json_text(s.step.args));
  }
  return out;
}

// Reads one answer of the model: the decision it makes, or (nullopt) what was wrong with it,
// appended to `repair_messages` for the next ask. Plain code, kept out of the coroutine so that
// a run waiting on its model holds none of it.
std::optional<Result<PlanDecision>> read_answer(const PlanRequest& request, LlmResponse answer,
                                                const Earlier& earlier, int turns, int repairs,
                                                int max_repairs,
                                                std::vector<Message>& repair_messages) {
  Message turn{"assistant", answer.content, std::move(answer.tool_calls), "", ""};
  std::vector<std::string> problems(turn.tool_calls.size());
  std::string general;
  bool any_problem = false;
  std::vector<PlanStep> steps;
  if (turn.tool_calls.empty()) {
    if (answer.finish_reason == "length") {
      general = "Your answer was cut off by the token limit. Answer again, more briefly.";
    } else if (detail::strip_fence(answer.content).empty()) {
      general = "Your answer was empty. Call a tool, or give the final answer.";
    } else {
      const json parsed = json::parse(detail::strip_fence(answer.content), nullptr, false);
      PlanDecision d = PlanDecision::finish(parsed.is_object() ? parsed : json(answer.content));
      d.messages.push_back(std::move(turn));
      return d;
    }
    any_problem = true;
  }
  std::set<std::string> new_ids;
  for (std::size_t i = 0; i < turn.tool_calls.size(); ++i) {
    ToolCall& call = turn.tool_calls[i];
    const auto taken = [&](const std::string& id) {
      return earlier.ids.count(id) != 0 || new_ids.count(id) != 0;
    };
    std::string id = usable_id(call.id) && !taken(call.id)
                         ? call.id
                         : "t" + std::to_string(turns + 1) + "_" + std::to_string(i + 1);
    while (taken(id))
      id += "_";
    call.id = id;  // the step id: tool messages answer it by this id
    new_ids.insert(id);
    const ToolSpec* spec = detail::resolve_tool(request.tools, call.name);
    if (spec == nullptr) {
      problems[i] = "error: there is no tool '" + call.name + "'; use one of the tools provided";
    } else if (!call.arguments.is_object()) {
      problems[i] =
          "error: the arguments are not a JSON object: " + call.raw_arguments.substr(0, 200);
    } else if (auto checked = request.tools.check_arguments(spec->name, call.arguments); !checked) {
      problems[i] = "error: invalid arguments: " + checked.error().message();
    } else if (earlier.done.count(spec->name + " " + detail::json_text(call.arguments)) != 0) {
      problems[i] =
          "error: this exact call already succeeded earlier; its result is above. Use it, or "
          "answer.";
    } else {
      steps.push_back({id, spec->name, call.arguments, {}, answer.content.substr(0, 200)});
      continue;
    }
    any_problem = true;
  }
  if (!any_problem) {
    PlanDecision d = PlanDecision::run(std::move(steps));
    d.messages.push_back(std::move(turn));
    return d;
  }
  if (repairs >= max_repairs) {
    std::string all = general;
    for (const auto& p : problems) {
      if (!p.empty()) all += (all.empty() ? "" : "; ") + p;
    }
    return Error(ErrorCode::invalid_argument, "the model's turn was still unusable after " +
                                                  std::to_string(repairs) + " repair(s): " + all);
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
  return std::nullopt;
}

}  // namespace

Task<Result<LlmResponse>> ReactPlanner::ask(const PlanRequest& request,
                                            const std::vector<Message>& repair_messages) const {
  // Built afresh for each ask and moved into it: a run waiting on the model holds no copy of
  // its prompt (repairs are rare; rebuilding is cheaper than keeping one per run).
  LlmRequest llm = detail::model_request(options_, conversation(request));
  llm.tools = request.tools.openai_catalog();
  for (const auto& m : repair_messages)
    llm.messages.push_back(m);
  return request.ask_model(std::move(llm));
}

Task<Result<PlanDecision>> ReactPlanner::plan_async(const PlanRequest& request) {
  // Only what crosses the wait for the model lives in this frame (one per run waiting);
  // building the request and reading the answer are plain functions.
  const int turns = turns_taken(request.state);
  if (turns >= options_.max_turns) co_return out_of_turns(options_.max_turns);
  const Earlier earlier = earlier_of(request.state);
  std::vector<Message> repair_messages;  // earlier unusable turns and what was wrong with them
  for (int repairs = 0;; ++repairs) {
    auto answer = co_await ask(request, repair_messages);
    if (!answer) co_return std::move(answer).error();
    auto decided = read_answer(request, std::move(*answer), earlier, turns, repairs,
                               options_.max_repairs, repair_messages);
    if (decided) co_return std::move(*decided);
  }
}

}  // namespace rein
