#include "rein/json_plan_planner.hpp"

#include <algorithm>
#include <set>

#include "core/json_text.hpp"
#include "planners/plan_references.hpp"
#include "planners/planner_support.hpp"

namespace rein {

using nlohmann::json;

namespace {

constexpr std::string_view kFormat =
    "Answer with one JSON object and nothing else, in one of these forms:\n"
    "{\"steps\": [{\"id\": \"s1\", \"tool\": \"<tool name>\", \"arguments\": {...}, "
    "\"depends_on\": [\"<ids of steps it needs>\"], "
    "\"why\": \"<one sentence>\"}]}  to run tools (steps without dependencies run in parallel; ids "
    "must be new);\n"
    "{\"final_answer\": <the answer as JSON>}  when the goal is reached (or cannot be, saying "
    "why);\n"
    "{\"question\": \"...\"}  when only the user can supply something you need.\n"
    "Use only the tools listed, with arguments that satisfy their schemas. Do not invent results: "
    "steps run after you answer, "
    "and you will see their outputs in the next round.";

constexpr std::string_view kPlanThenExecuteFormat =
    "Plan the whole task now: you will not see any tool's output. Answer with one JSON object "
    "and nothing else, in one of these forms:\n"
    "{\"steps\": [{\"id\": \"s1\", \"tool\": \"<tool name>\", \"arguments\": {...}, "
    "\"depends_on\": [\"<ids of steps it needs>\"], \"why\": \"<one sentence>\"}], "
    "\"final_answer\": <the answer as JSON, with references>}  to run tools;\n"
    "{\"final_answer\": <the answer as JSON>}  when no tool is needed;\n"
    "{\"question\": \"...\"}  when only the user can supply something you need.\n"
    "Where an argument or the answer needs a value a tool returns, write a reference to that "
    "step's output instead: {\"$from\": \"s1\"} for all of it, or {\"$from\": \"s1\", "
    "\"pointer\": \"/field/0\"} (a JSON pointer) for a part; a step may refer only to steps in "
    "its depends_on. Use only the tools listed.";

constexpr std::size_t kMaxProblems = 20;

Result<PlanDecision> parse_plan(std::string_view text, const ToolRegistry& tools,
                                const AgentState& state, bool then_execute);

// The request alone: goal, input and the user's answers, never what tools or others wrote.
std::string describe_request(const AgentState& state, const std::optional<ReplanRequest>& replan) {
  std::string out = "Task:\n" + state.goal + "\n";
  if (!state.input.is_null()) out += "\nInput:\n" + detail::json_text(state.input) + "\n";
  if (!state.answers.empty()) {
    out += "\nThe user's answers to your earlier questions:\n";
    for (const auto& a : state.answers)
      out += detail::json_text(a) + "\n";
  }
  if (replan) {
    out += "\nYour earlier plan did not work out. Done so far:";
    for (const auto& st : state.steps)
      out += "\n- " + st.step.id + " (" + st.step.tool + "): " + std::string(to_string(st.status));
    out += "\nStep '" + replan->step_id +
           "' failed. Plan the rest of the task again, with new step ids; you may refer to the "
           "outputs of steps that succeeded.\n";
  }
  return out;
}

// Once the round's steps are done: the final answer of the plan the model wrote last, its
// references filled in from the outputs (a reference to a step without output becomes null:
// the run's review items say why it has none).
std::optional<PlanDecision> answer_of_plan(const AgentState& state) {
  auto it = std::find_if(state.messages.rbegin(), state.messages.rend(),
                         [](const Message& m) { return m.role == "assistant"; });
  if (it == state.messages.rend()) return std::nullopt;
  json plan = json::parse(detail::strip_fence(it->content), nullptr, false);
  if (!plan.is_object() || !plan.contains("steps")) return std::nullopt;
  auto answer = plan.find("final_answer");
  if (answer == plan.end()) return PlanDecision::finish(state.outputs);
  return PlanDecision::finish(detail::filled_in(*answer, state));
}

}  // namespace

const json& json_plan_schema() {
  static const json schema = {
      {"type", "object"},
      {"properties",
       {{"steps",
         {{"type", "array"},
          {"items",
           {{"type", "object"},
            {"properties",
             {{"id", {{"type", "string"}}},
              {"tool", {{"type", "string"}}},
              {"arguments", {{"type", "object"}}},
              {"depends_on", {{"type", "array"}, {"items", {{"type", "string"}}}}},
              {"why", {{"type", "string"}}}}},
            {"required", {"id", "tool", "arguments"}}}}}},
        {"final_answer", json::object()},
        {"question", {{"type", "string"}}}}}};
  return schema;
}

Result<PlanDecision> parse_json_plan(std::string_view text, const ToolRegistry& tools,
                                     const AgentState& state) {
  return parse_plan(text, tools, state, false);
}

Result<PlanDecision> parse_json_plan_then_execute(std::string_view text, const ToolRegistry& tools,
                                                  const AgentState& state) {
  return parse_plan(text, tools, state, true);
}

namespace {

Result<PlanDecision> parse_plan(std::string_view text, const ToolRegistry& tools,
                                const AgentState& state, bool then_execute) {
  auto invalid = [](const std::string& what) { return Error(ErrorCode::invalid_argument, what); };
  const std::string_view body = detail::strip_fence(text);
  if (body.empty()) return invalid("the answer is empty");
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return invalid("the answer is not valid JSON");
  if (!parsed.is_object()) return invalid("the answer must be a JSON object");
  const int forms = static_cast<int>(parsed.contains("steps")) +
                    static_cast<int>(parsed.contains("final_answer")) +
                    static_cast<int>(parsed.contains("question"));
  const bool steps_with_answer =
      then_execute && forms == 2 && parsed.contains("steps") && parsed.contains("final_answer");
  if (forms != 1 && !steps_with_answer) {
    return invalid(then_execute ? "the answer must have 'steps' (with an optional "
                                  "'final_answer'), 'final_answer' or 'question'"
                                : "the answer must have exactly one of 'steps', 'final_answer' "
                                  "or 'question'");
  }
  if (parsed.contains("final_answer") && !steps_with_answer)
    return PlanDecision::finish(parsed["final_answer"]);
  if (parsed.contains("question")) {
    const json& q = parsed["question"];
    if (!q.is_string() || q.get<std::string>().empty())
      return invalid("question: must be a non-empty string");
    return PlanDecision::ask(q.get<std::string>());
  }
  const json& steps = parsed["steps"];
  if (!steps.is_array() || steps.empty()) return invalid("steps: must be a non-empty array");
  std::vector<std::string> problems;
  auto problem = [&](std::string p) {
    if (problems.size() < kMaxProblems) problems.push_back(std::move(p));
  };
  std::vector<PlanStep> plan;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string where = "steps[" + std::to_string(i) + "]";
    const json& s = steps[i];
    if (!s.is_object()) {
      problem(where + ": must be an object");
      continue;
    }
    PlanStep step;
    if (!s.contains("id") || !s["id"].is_string() || s["id"].get<std::string>().empty()) {
      problem(where + ".id: must be a non-empty string");
    } else {
      step.id = s["id"].get<std::string>();
    }
    const ToolSpec* spec = nullptr;
    if (!s.contains("tool") || !s["tool"].is_string()) {
      problem(where + ".tool: must be a string naming a tool");
    } else if ((spec = detail::resolve_tool(tools, s["tool"].get<std::string>())) == nullptr) {
      std::string known;
      for (const auto& n : tools.names())
        known += (known.empty() ? "" : ", ") + n;
      problem(where + ".tool: unknown tool '" + s["tool"].get<std::string>() +
              "' (known: " + known + ")");
    } else {
      step.tool = spec->name;
    }
    if (!s.contains("arguments") || !s["arguments"].is_object()) {
      problem(where + ".arguments: must be an object");
    } else {
      step.args = s["arguments"];
      // A reference is checked once it is filled in, when the step is authorized.
      if (spec != nullptr && !(then_execute && detail::holds_reference(step.args))) {
        if (auto checked = tools.check_arguments(spec->name, step.args); !checked) {
          problem(where + ".arguments: " + checked.error().message());
        }
      }
    }
    if (s.contains("depends_on")) {
      const json& deps = s["depends_on"];
      if (!deps.is_array() ||
          !std::all_of(deps.begin(), deps.end(), [](const json& d) { return d.is_string(); })) {
        problem(where + ".depends_on: must be an array of step ids");
      } else {
        for (const auto& d : deps)
          step.depends_on.push_back(d.get<std::string>());
      }
    }
    if (s.contains("why")) {
      if (!s["why"].is_string()) {
        problem(where + ".why: must be a string");
      } else {
        step.why = s["why"].get<std::string>();
      }
    }
    plan.push_back(std::move(step));
  }
  if (problems.empty()) {
    if (auto valid = validate_plan(plan, state); !valid)
      problems.push_back(valid.error().message());
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems)
      message += (message.empty() ? "" : "\n") + p;
    return invalid(message);
  }
  PlanDecision decision = PlanDecision::run(std::move(plan));
  decision.from_request_only = then_execute;
  return decision;
}

}  // namespace

JsonPlanPlanner::JsonPlanPlanner(JsonPlanOptions options) : options_(std::move(options)) {}

std::vector<Message> JsonPlanPlanner::prompt(const PlanRequest& request) const {
  if (options_.plan_then_execute) {
    std::string system = detail::system_text(options_.instructions, kPlanThenExecuteFormat);
    system += "\n\nTools:\n" + describe_tools(request.tools);
    return {{"system", std::move(system), {}, "", ""},
            {"user", describe_request(request.state, request.replan), {}, "", ""}};
  }
  std::string system = detail::system_text(options_.instructions, kFormat);
  system += "\n\nTools:\n" + describe_tools(request.tools);
  std::string user = describe_task(request.state, options_.prompt) + "\n" +
                     describe_progress(request.state, options_.prompt);
  if (request.replan) user += "\n" + describe_replan(*request.replan, request.state);
  return {{"system", std::move(system), {}, "", ""}, {"user", std::move(user), {}, "", ""}};
}

Result<PlanDecision> JsonPlanPlanner::plan(const PlanRequest& request) {
  return sync_wait(plan_async(request));
}

Task<Result<PlanDecision>> JsonPlanPlanner::plan_async(const PlanRequest& request) {
  // Built afresh for each ask and moved into it: a run waiting on the model holds no copy of
  // its prompt.
  if (options_.plan_then_execute && !request.replan && request.state.planning_rounds > 0) {
    if (auto answer = answer_of_plan(request.state)) co_return std::move(*answer);
  }
  std::vector<Message> feedback_messages;  // earlier answers and what was wrong with them
  int repairs = 0;
  int revisions = 0;
  while (true) {
    LlmRequest llm = detail::model_request(options_, prompt(request));
    if (options_.response_format == ResponseFormatMode::json_object) {
      llm.response_format = {{"type", "json_object"}};
    } else if (options_.response_format == ResponseFormatMode::json_schema) {
      llm.response_format = {
          {"type", "json_schema"},
          {"json_schema",
           {{"name", "rein_plan"}, {"schema", json_plan_schema()}, {"strict", false}}}};
    }
    for (const auto& m : feedback_messages)
      llm.messages.push_back(m);
    auto answer = co_await request.ask_model(std::move(llm));
    if (!answer) co_return answer.error();
    auto decision =
        parse_plan(answer->content, request.tools, request.state, options_.plan_then_execute);
    std::string feedback;
    if (!decision) {
      if (repairs >= options_.max_repairs) {
        co_return Error(ErrorCode::invalid_argument,
                        "the model's plan was still invalid after " + std::to_string(repairs) +
                            " repair(s): " + decision.error().message());
      }
      ++repairs;
      feedback = "Your answer could not be used:\n" + decision.error().message() +
                 "\nReply with the corrected JSON object only.";
    } else if (decision->kind == PlanDecision::Kind::steps && options_.approve) {
      const PlanReview review = options_.approve(decision->steps, request.state);
      if (review.kind == PlanReview::Kind::reject) {
        co_return Error(ErrorCode::permission_denied,
                        "the plan was rejected by the host: " + review.feedback);
      }
      if (review.kind == PlanReview::Kind::revise) {
        if (revisions >= options_.max_revisions) {
          co_return Error(ErrorCode::permission_denied, "the plan was not approved after " +
                                                            std::to_string(revisions) +
                                                            " revision(s): " + review.feedback);
        }
        ++revisions;
        feedback = "The reviewer did not approve this plan and asks: " + review.feedback +
                   "\nReply with a revised JSON object only.";
      }
    }
    if (feedback.empty()) {
      decision->messages.push_back({"assistant", answer->content, {}, "", ""});
      co_return decision;
    }
    feedback_messages.push_back({"assistant", answer->content, {}, "", ""});
    feedback_messages.push_back({"user", std::move(feedback), {}, "", ""});
  }
}

}  // namespace rein
