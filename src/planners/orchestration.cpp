// The multi-agent patterns of orchestration.hpp: planners whose steps call other agents.
#include "rein/orchestration.hpp"

#include <algorithm>
#include <set>

#include "rein/prompt.hpp"
#include "rein/tool_registry.hpp"

namespace rein {

using nlohmann::json;

namespace {

constexpr std::string_view kAgentPrefix = "agent.";

std::string tool_of(const std::string& agent) {
  return std::string(kAgentPrefix) + agent;
}

Status require_agent_tool(const PlanRequest& r, const std::string& agent, const std::string& who) {
  if (r.tools.find(tool_of(agent)) != nullptr) return {};
  return Error(ErrorCode::not_found, who + ": agent '" + agent + "' has no tool '" +
                                         tool_of(agent) + "' (register_agent_tool)");
}

// The worker's answer inside its agent tool's result.
json answer_of(const std::string& step_id) {
  return {{"$from", step_id}, {"pointer", "/answer"}};
}

PlanStep step_for(std::string id, const std::string& agent, const std::string& task, json input,
                  std::vector<std::string> depends_on) {
  json args{{"task", task}};
  if (!input.is_null()) args["input"] = std::move(input);
  return {std::move(id), tool_of(agent), std::move(args), std::move(depends_on), ""};
}
}  // namespace

std::vector<SubTaskResult> subtask_results(const AgentState& state) {
  std::vector<SubTaskResult> out;
  for (const auto& st : state.steps) {
    SubTaskResult r;
    r.id = st.step.id;
    r.agent = st.step.tool.rfind(kAgentPrefix, 0) == 0 ? st.step.tool.substr(kAgentPrefix.size())
                                                       : st.step.tool;
    r.status = st.status;
    if (st.status == StepStatus::succeeded && st.result) {
      r.answer =
          st.result->data.is_object() ? st.result->data.value("answer", json()) : st.result->data;
    } else {
      for (const auto& item : state.needs_review)
        if (item.step_id == st.step.id)
          r.issues.insert(r.issues.end(), item.issues.begin(), item.issues.end());
      if (r.issues.empty() && st.result) r.issues = st.result->errors;
      if (r.issues.empty()) r.issues.push_back(std::string(to_string(st.status)));
    }
    out.push_back(std::move(r));
  }
  return out;
}

// --- orchestrator-worker ---

Result<std::shared_ptr<OrchestratorPlanner>> OrchestratorPlanner::create(
    OrchestratorOptions options) {
  if (!options.decompose) {
    return Error(ErrorCode::invalid_argument, "OrchestratorOptions: decompose is required");
  }
  if (options.max_rounds < 1) {
    return Error(ErrorCode::invalid_argument, "OrchestratorOptions: max_rounds must be at least 1");
  }
  return std::shared_ptr<OrchestratorPlanner>(new OrchestratorPlanner(std::move(options)));
}

Result<PlanDecision> OrchestratorPlanner::plan(const PlanRequest& r) {
  const AgentState& s = r.state;
  std::set<std::int64_t> rounds;
  for (const auto& st : s.steps)
    rounds.insert(st.round);
  const bool decompose_now = (s.steps.empty() && s.planning_rounds == 0) ||
                             (r.replan && static_cast<int>(rounds.size()) < options_.max_rounds);
  if (decompose_now) {
    auto subtasks = options_.decompose(r);
    if (!subtasks) {
      return Error(subtasks.error().code(),
                   "orchestrator: decomposing the goal failed: " + subtasks.error().message());
    }
    if (!subtasks->empty()) {
      std::vector<PlanStep> steps;
      for (auto& t : *subtasks) {
        const std::string where = "orchestrator: sub-task '" + t.id + "'";
        if (auto ok = require_agent_tool(r, t.agent, where); !ok) return std::move(ok).error();
        steps.push_back(step_for(t.id, t.agent, t.task, std::move(t.input), t.depends_on));
      }
      return PlanDecision::run(std::move(steps));
    }
  }
  const std::vector<SubTaskResult> results = subtask_results(s);
  if (options_.synthesize) {
    auto answer = options_.synthesize(s, results);
    if (!answer) {
      return Error(answer.error().code(),
                   "orchestrator: synthesising the results failed: " + answer.error().message());
    }
    return PlanDecision::finish(std::move(*answer));
  }
  json by_id = json::object(), flagged = json::array();
  for (const auto& result : results) {
    if (result.status == StepStatus::succeeded) {
      by_id[result.id] = result.answer;
    } else {
      flagged.push_back({{"id", result.id},
                         {"agent", result.agent},
                         {"status", std::string(to_string(result.status))},
                         {"issues", result.issues}});
    }
  }
  json answer{{"results", std::move(by_id)}};
  if (!flagged.empty()) answer["flagged"] = std::move(flagged);
  return PlanDecision::finish(std::move(answer));
}

// --- the model's decomposition ---

namespace {

Result<std::vector<SubTask>> parse_subtasks(const std::string& content, const PlanRequest& r) {
  const auto open = content.find('{');
  const auto close = content.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return Error(ErrorCode::invalid_argument, "the answer holds no JSON object");
  }
  const json j = json::parse(content.substr(open, close - open + 1), nullptr, false);
  if (j.is_discarded()) return Error(ErrorCode::invalid_argument, "the answer is not valid JSON");
  const auto list = j.find("subtasks");
  if (list == j.end() || !list->is_array()) {
    return Error(ErrorCode::invalid_argument, "field 'subtasks' must be an array");
  }
  std::vector<SubTask> out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    const std::string where = "subtasks[" + std::to_string(i) + "]";
    auto text = [&](const char* key) -> Result<std::string> {
      const auto it = item.find(key);
      if (it == item.end() || !it->is_string() || it->get<std::string>().empty()) {
        return Error(ErrorCode::invalid_argument,
                     where + ": field '" + key + "' must be a non-empty string");
      }
      return it->get<std::string>();
    };
    if (!item.is_object()) return Error(ErrorCode::invalid_argument, where + ": not an object");
    SubTask t;
    for (auto [key, slot] :
         {std::pair{"id", &t.id}, std::pair{"agent", &t.agent}, std::pair{"task", &t.task}}) {
      auto v = text(key);
      if (!v) return std::move(v).error();
      *slot = std::move(*v);
    }
    if (r.tools.find(tool_of(t.agent)) == nullptr) {
      return Error(ErrorCode::invalid_argument,
                   where + ": agent '" + t.agent + "' is not one of this orchestrator's workers");
    }
    t.input = item.value("input", json());
    if (const auto deps = item.find("depends_on"); deps != item.end()) {
      if (!deps->is_array() ||
          !std::all_of(deps->begin(), deps->end(), [](const json& d) { return d.is_string(); })) {
        return Error(ErrorCode::invalid_argument,
                     where + ": field 'depends_on' must be an array of strings");
      }
      t.depends_on = deps->get<std::vector<std::string>>();
    }
    out.push_back(std::move(t));
  }
  // Ids and dependencies are checked as any plan's are (unique, known, no cycles).
  std::vector<PlanStep> steps;
  for (const auto& t : out)
    steps.push_back(step_for(t.id, t.agent, t.task, t.input, t.depends_on));
  if (!steps.empty()) {
    if (auto ok = validate_plan(steps, r.state); !ok) return std::move(ok).error();
  }
  return out;
}

std::string workers_of(const ToolRegistry& tools) {
  std::string out;
  for (const auto& name : tools.names()) {
    const ToolSpec* spec = tools.find(name);
    if (spec == nullptr || name.rfind(kAgentPrefix, 0) != 0) continue;
    out += "- " + name.substr(kAgentPrefix.size()) + ": " + spec->description + "\n";
  }
  return out.empty() ? std::string("(none)\n") : out;
}

}  // namespace

OrchestratorOptions::Decompose model_decomposition(ModelDecompositionOptions options) {
  return [options = std::move(options)](const PlanRequest& r) -> Result<std::vector<SubTask>> {
    if (!r.llm) return Error(ErrorCode::unavailable, "the orchestrator has no model to ask");
    LlmRequest ask;
    ask.messages.push_back(
        {"system",
         "You coordinate a team of agents. Split the goal into sub-tasks, each for one agent. "
         "Sub-tasks that do not depend on each other run at the same time; a sub-task that "
         "needs another's result lists it in depends_on and may refer to it in its input as "
         "{\"$from\": \"<id>\", \"pointer\": \"/answer\"}. Answer with JSON only: "
         "{\"subtasks\": [{\"id\": \"...\", \"agent\": \"...\", \"task\": \"...\", "
         "\"input\": {...}, \"depends_on\": [\"...\"]}]}. An empty list means the goal needs "
         "nothing more.\n\nThe agents:\n" +
             workers_of(r.tools) +
             (options.instructions.empty() ? std::string() : "\n" + options.instructions),
         {},
         "",
         ""});
    std::string user = describe_task(r.state);
    if (r.replan) user += "\n\n" + describe_replan(*r.replan, r.state);
    ask.messages.push_back({"user", user, {}, "", ""});
    for (int attempt = 0;; ++attempt) {
      auto answer = r.llm(ask);
      if (!answer) return std::move(answer).error();
      auto subtasks = parse_subtasks(answer->content, r);
      if (subtasks || attempt >= options.max_repairs) {
        if (!subtasks) {
          return Error(subtasks.error().code(),
                       "the model's decomposition: " + subtasks.error().message());
        }
        return subtasks;
      }
      ask.messages.push_back({"assistant", answer->content, {}, "", ""});
      ask.messages.push_back({"user",
                              "That answer cannot be used: " + subtasks.error().message() +
                                  ". Answer again with the JSON only.",
                              {},
                              "",
                              ""});
    }
  };
}

// --- pipeline ---

Result<std::shared_ptr<PipelinePlanner>> PipelinePlanner::create(
    std::vector<PipelineStage> stages) {
  if (stages.empty()) return Error(ErrorCode::invalid_argument, "pipeline: no stages");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    auto& st = stages[i];
    const std::string where = "pipeline: stages[" + std::to_string(i) + "]";
    if (st.agent.empty() || st.task.empty()) {
      return Error(ErrorCode::invalid_argument, where + ": agent and task are required");
    }
    if (st.id.empty()) st.id = st.agent;
    if (!ids.insert(st.id).second) {
      return Error(ErrorCode::invalid_argument, where + ": id '" + st.id + "' is used twice");
    }
  }
  return std::shared_ptr<PipelinePlanner>(new PipelinePlanner(std::move(stages)));
}

Result<PlanDecision> PipelinePlanner::plan(const PlanRequest& r) {
  const AgentState& s = r.state;
  if (r.replan) {
    return Error(ErrorCode::invalid_argument,
                 "pipeline: a pipeline cannot replan (stage '" + r.replan->step_id + "')");
  }
  if (s.steps.empty()) {
    std::vector<PlanStep> steps;
    for (std::size_t i = 0; i < stages_.size(); ++i) {
      const auto& st = stages_[i];
      if (auto ok = require_agent_tool(r, st.agent, "pipeline: stage '" + st.id + "'"); !ok)
        return std::move(ok).error();
      // The first stage works on the run's input; each later one on the answer before it.
      json input = i == 0 ? s.input : answer_of(stages_[i - 1].id);
      std::vector<std::string> deps;
      if (i > 0) deps.push_back(stages_[i - 1].id);
      steps.push_back(step_for(st.id, st.agent, st.task, std::move(input), std::move(deps)));
    }
    // Only the run's own request feeds the first stage's arguments.
    PlanDecision d = PlanDecision::run(std::move(steps));
    d.from_request_only = true;
    return d;
  }
  json stages = json::object();
  json failed = nullptr;
  for (const auto& result : subtask_results(s)) {
    if (result.status == StepStatus::succeeded) {
      stages[result.id] = result.answer;
    } else if (failed.is_null() && result.status != StepStatus::skipped) {
      failed = result.id;
    }
  }
  const bool complete = failed.is_null() && stages.size() == stages_.size();
  json answer{{"output", complete ? stages[stages_.back().id] : json()},
              {"stages", std::move(stages)},
              {"complete", complete}};
  if (!failed.is_null()) answer["failed_stage"] = failed;
  return PlanDecision::finish(std::move(answer));
}

// --- debate ---

Result<std::shared_ptr<DebatePlanner>> DebatePlanner::create(DebateOptions options) {
  if (options.debaters.size() < 2) {
    return Error(ErrorCode::invalid_argument, "debate: at least two debaters are needed");
  }
  if (options.judge.empty()) return Error(ErrorCode::invalid_argument, "debate: a judge is needed");
  if (!options.compare_pointer.empty()) {
    try {
      (void)json::json_pointer(options.compare_pointer);
    } catch (const json::exception&) {
      return Error(
          ErrorCode::invalid_argument,
          "debate: compare_pointer '" + options.compare_pointer + "' is not a JSON pointer");
    }
  }
  return std::shared_ptr<DebatePlanner>(new DebatePlanner(std::move(options)));
}

Result<PlanDecision> DebatePlanner::plan(const PlanRequest& r) {
  const AgentState& s = r.state;
  if (r.replan) {
    return Error(ErrorCode::invalid_argument,
                 "debate: a debate cannot replan (step '" + r.replan->step_id + "')");
  }
  // Debaters are told apart by position: the same agent may take part more than once.
  auto debater_id = [](std::size_t i) { return "answer" + std::to_string(i + 1); };
  if (s.steps.empty()) {
    const std::string question = options_.question.empty() ? s.goal : options_.question;
    std::vector<PlanStep> steps;
    json answers = json::object();
    std::vector<std::string> all;
    for (std::size_t i = 0; i < options_.debaters.size(); ++i) {
      const auto& agent = options_.debaters[i];
      if (auto ok = require_agent_tool(r, agent, "debate: debater '" + agent + "'"); !ok)
        return std::move(ok).error();
      steps.push_back(step_for(debater_id(i), agent, question, s.input, {}));
      answers[debater_id(i)] = answer_of(debater_id(i));
      all.push_back(debater_id(i));
    }
    if (auto ok = require_agent_tool(r, options_.judge, "debate: judge"); !ok)
      return std::move(ok).error();
    steps.push_back(step_for("verdict", options_.judge,
                             "Decide the question from the answers given: " + question,
                             {{"question", question}, {"answers", std::move(answers)}}, all));
    PlanDecision d = PlanDecision::run(std::move(steps));
    d.from_request_only = true;
    return d;
  }
  const json::json_pointer at(options_.compare_pointer);  // checked by create()
  auto compared = [&](const json& v) {
    if (options_.compare_pointer.empty()) return v;
    return v.contains(at) ? v.at(at) : json();
  };
  json answers = json::object();
  json verdict = nullptr;
  for (const auto& result : subtask_results(s)) {
    if (result.id == "verdict") {
      if (result.status == StepStatus::succeeded) verdict = result.answer;
    } else if (result.status == StepStatus::succeeded) {
      answers[result.id] = result.answer;
    }
  }
  bool agreed = answers.size() == options_.debaters.size();
  json dissent = json::array();
  const json* first = answers.empty() ? nullptr : &answers.begin().value();
  for (const auto& [id, a] : answers.items()) {
    if (first != nullptr && compared(a) != compared(*first)) agreed = false;
    if (!verdict.is_null() && compared(a) != compared(verdict)) dissent.push_back(id);
  }
  return PlanDecision::finish({{"verdict", verdict},
                               {"answers", std::move(answers)},
                               {"agreed", agreed},
                               {"dissent", std::move(dissent)}});
}

}  // namespace rein
