#include "agent.hpp"

#include <algorithm>
#include <ctime>
#include <filesystem>

#include <rein/critic.hpp>
#include <rein/planner.hpp>
#include <rein/policy.hpp>
#include <rein/runtime.hpp>
#include <rein/sql_sandbox.hpp>
#include <rein/tool_registry.hpp>

#include "critic.hpp"
#include "model.hpp"
#include "prompt.hpp"
#include "store.hpp"

namespace sunglasses {
namespace {

using nlohmann::json;

constexpr const char* kPolicy = R"({
  "version": 1,
  "description": "The store assistant may run plans in the SQL sandbox, one plan per attempt.",
  "rules": [
    {"id": "store-plans", "description": "store assistants may run SQL plans in the sandbox",
     "priority": 10, "decision": "allow", "tool": "store.run_plan", "roles": ["store-assistant"]}
  ],
  "budgets": {"max_tool_calls": 1}
})";

std::string iso_time(std::int64_t unix_millis) {
  const std::time_t seconds = static_cast<std::time_t>(unix_millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buffer, static_cast<int>(unix_millis % 1000));
  return out;
}

json steps_json(const std::vector<rein::SqlStepResult>& steps) {
  json out = json::array();
  for (const auto& s : steps) {
    out.push_back({{"number", s.number},
                   {"comment", s.comment},
                   {"sql", s.sql},
                   {"rows", s.rows},
                   {"changes", s.changes}});
  }
  return out;
}

json changes_json(const std::vector<rein::SqlRowChange>& changes) {
  json out = json::array();
  for (const auto& c : changes)
    out.push_back(c.to_json());
  return out;
}

// The plan that ran, between the tool and the critic.
struct Pending {
  rein::SqlSandbox* sandbox = nullptr;
  std::optional<rein::SqlOutcome> outcome;
};

// rein's verify stage made transactional: commit only what passes the store's invariants.
// A rejected plan is rolled back; it goes back to the model (a replan verdict) while replans
// are left, and is final otherwise.
class StoreCritic final : public rein::Critic {
 public:
  StoreCritic(std::shared_ptr<Pending> pending, int max_replans)
      : pending_(std::move(pending)), max_replans_(max_replans) {}

  rein::Verdict review_step(const rein::StepState&, const rein::ToolResult& result,
                            const rein::AgentState& state) override {
    const rein::VerdictKind rejected =
        state.metrics.replans < max_replans_ ? rein::VerdictKind::replan : rein::VerdictKind::fail;
    if (!result.ok()) {
      std::string why;
      for (const auto& e : result.errors)
        why += (why.empty() ? "" : "; ") + e;
      return rein::Verdict{
          rejected, {"plan rejected: " + (why.empty() ? std::string("the plan failed") : why)}};
    }
    if (!pending_->outcome || !pending_->sandbox->pending())
      return rein::Verdict::fail("no pending plan to verify");
    const auto problems = store_invariant_violations(*pending_->outcome, *pending_->sandbox);
    if (!problems.empty()) {
      (void)pending_->sandbox->rollback();
      return rein::Verdict{rejected, problems};
    }
    if (auto committed = pending_->sandbox->commit(); !committed) {
      return rein::Verdict::fail("commit failed: " + committed.error().message());
    }
    return rein::Verdict::accept();
  }
  rein::Verdict review_output(const json&, const rein::AgentState&) override {
    return rein::Verdict::accept();
  }

 private:
  std::shared_ptr<Pending> pending_;
  int max_replans_ = 0;
};

}  // namespace

json Answer::to_json() const {
  json out = {{"status", status.empty() ? json(nullptr) : json(status)},
              {"answer_text", answer_text},
              {"plan", plan},
              {"changes", changes},
              {"committed", committed}};
  if (!error.empty()) out["error"] = error;
  return out;
}

rein::Result<Answer> answer_request(const std::string& request, const AgentOptions& options) {
  rein::Env& env = options.env != nullptr ? *options.env : rein::Env::system();
  auto sandbox_options = store_sandbox_options();
  sandbox_options.deadline = options.sandbox_deadline;
  sandbox_options.env = &env;
  auto opened = rein::SqlSandbox::open(options.db_path, std::move(sandbox_options));
  if (!opened) return opened.error();
  std::shared_ptr<rein::SqlSandbox> sandbox = std::move(opened).value();
  auto pending = std::make_shared<Pending>();
  pending->sandbox = sandbox.get();

  auto tools = std::make_shared<rein::ToolRegistry>();
  const std::string now = iso_time(env.unix_millis());
  auto registered = tools->register_tool(
      {.name = "store.run_plan",
       .description = "Runs a SQL plan (plan as code) in the store's sandbox; changes stay pending "
                      "until verified.",
       .input_schema = {{"type", "object"},
                        {"properties", {{"plan", {{"type", "string"}, {"minLength", 1}}}}},
                        {"required", {"plan"}},
                        {"additionalProperties", false}},
       .side_effects = true,
       .timeout =
           std::chrono::milliseconds(0)},  // runs inline: the sandbox enforces its own deadline
      [pending, sandbox, now, request](const json& args, rein::ToolContext&) {
        pending->outcome.reset();
        auto plan = rein::parse_sql_plan(args["plan"].get<std::string>());
        if (!plan) return rein::ToolResult::failure(plan.error().message());
        auto outcome = sandbox->execute(*plan, {{"now", now}, {"user_request", request}});
        if (!outcome) return rein::ToolResult::failure(outcome.error().message());
        json data = {{"intent", rein::to_string(outcome->intent)},
                     {"steps", steps_json(outcome->steps)},
                     {"result", outcome->result},
                     {"changes", changes_json(outcome->changes)}};
        pending->outcome = std::move(outcome).value();
        return rein::ToolResult::success(std::move(data));
      });
  if (!registered) return registered.error();

  auto schema = schema_block(*sandbox);
  if (!schema) return schema.error();
  const std::string prompt = build_prompt(*schema, request);
  const std::optional<std::string> given_plan = options.plan_text;
  auto planner = std::make_shared<rein::StaticPlanner>([prompt,
                                                        given_plan](const rein::PlanRequest& req)
                                                           -> rein::Result<rein::PlanDecision> {
    const auto& steps = req.state.steps;
    if (!steps.empty() && !req.replan) {
      return rein::PlanDecision::finish(req.state.outputs.value(steps.back().step.id, json()));
    }
    std::string text;
    std::vector<rein::Message> messages;
    if (given_plan) {
      if (req.replan)
        return rein::Error(rein::ErrorCode::invalid_argument, "a given plan cannot be replanned");
      text = *given_plan;
    } else {
      rein::LlmRequest ask;
      ask.messages = {{"system", kSystemPrompt}, {"user", prompt}};
      if (req.replan) {
        // The rejected plan and why, so the model can correct it (nothing was changed).
        std::string why;
        for (const auto& r : req.replan->reasons)
          why += "- " + r + "\n";
        ask.messages.push_back({"assistant", steps.back().step.args.value("plan", "")});
        ask.messages.push_back({"user", "That plan was rejected and nothing was changed:\n" + why +
                                            "Write a corrected plan in the same format."});
      }
      ask.temperature = 0.0;
      ask.tags = {"planner"};
      auto response = req.llm(ask);
      if (!response) return response.error();
      text = response->content;
      messages.push_back({"assistant", text});
    }
    const std::string id = steps.empty() ? "plan" : "plan-" + std::to_string(steps.size() + 1);
    auto decision = rein::PlanDecision::run(
        {{id, "store.run_plan", {{"plan", text}}, {}, "run the plan-as-code in the SQL sandbox"}});
    decision.messages = std::move(messages);
    return decision;
  });

  auto policy = rein::PolicyEngine::from_json(json::parse(kPolicy));
  if (!policy) return policy.error();
  rein::PolicySpec policy_spec = policy->spec();
  policy_spec.budgets.max_tool_calls =
      1 + std::max(0, options.max_replans);  // one plan per attempt
  policy = rein::PolicyEngine::create(std::move(policy_spec));
  if (!policy) return policy.error();
  rein::RuntimeOptions runtime_options;
  runtime_options.env = &env;
  runtime_options.max_retries_per_step = 0;
  runtime_options.max_replans = std::max(0, options.max_replans);
  const std::string run_id = env.new_id("run");
  if (!options.audit_dir.empty()) {
    std::error_code ignored;
    std::filesystem::create_directories(options.audit_dir, ignored);
    auto sink = rein::JsonlAuditSink::open(std::filesystem::path(options.audit_dir) /
                                           (run_id + ".audit.jsonl"));
    if (!sink) return sink.error();
    runtime_options.audit_sinks.push_back(*sink);
  }
  rein::Runtime runtime(rein::AgentConfig{.name = "sunglasses",
                                          .tools = tools,
                                          .policy = *policy,
                                          .planner = planner,
                                          .critic = std::make_shared<StoreCritic>(
                                              pending, std::max(0, options.max_replans)),
                                          .llm = options.llm ? options.llm : builtin_store_model()},
                        runtime_options);
  auto run = runtime.run(rein::RunRequest{"answer a sunglasses-store customer",
                                          {"store-assistant-1", {"store-assistant"}},
                                          {{"request", request}},
                                          run_id});
  (void)sandbox->rollback();  // whatever was not verified and committed is discarded
  if (!run) return run.error();

  Answer answer;
  answer.run_id = run->run_id;
  const rein::StepState* step = run->steps.empty() ? nullptr : &run->steps.back();
  if (step == nullptr) {
    answer.error = run->status_reason.empty() ? "no plan was made" : run->status_reason;
    answer.answer_text = "Sorry, I couldn't work that out; nothing was changed.";
    return answer;
  }
  answer.plan = step->step.args.value("plan", "");
  if (pending->outcome) {
    answer.steps = steps_json(pending->outcome->steps);
    answer.changes = changes_json(pending->outcome->changes);
  }
  answer.committed = step->verdict && step->verdict->accepted();
  if (answer.committed) {
    // The critic accepted, so the yield has a known status and an answer_text.
    const json row = yield_row(*pending->outcome);
    answer.status = row["status"].get<std::string>();
    answer.answer_text = row["answer_text"].get<std::string>();
  } else {
    std::string reasons;
    if (step->verdict) {
      for (const auto& r : step->verdict->reasons)
        reasons += (reasons.empty() ? "" : "; ") + r;
    }
    if (reasons.empty())
      reasons = run->status_reason.empty() ? "the plan did not run" : run->status_reason;
    answer.error = reasons;
    answer.answer_text = "Sorry, I couldn't complete that safely; nothing was changed.";
  }
  return answer;
}

}  // namespace sunglasses
