// rein quickstart: one tool, a policy, a model (scripted here), a run, its answer, its audit.
#include <cstdio>
#include <rein/rein.hpp>
using nlohmann::json;

int main() {
  auto tools = std::make_shared<rein::ToolRegistry>();
  rein::ToolSpec mrr{.name = "billing.mrr", .description = "Monthly recurring revenue of an account",
                     .input_schema = {{"type", "object"}, {"required", {"account_id"}},
                                      {"properties", {{"account_id", {{"type", "string"}, {"pattern", "^A[0-9]{3}$"}}}}}}};
  if (!tools->register_tool(mrr, [](const json& a, rein::ToolContext&) {
        return rein::ToolResult::success({{"current_mrr", 12480}}, {{"source", "billing://mrr/" + a["account_id"].get<std::string>(), ""}});
      })) return 1;
  auto policy = rein::PolicyEngine::from_json(json::parse(R"({"rules": [{"id": "analysts-read-billing",
      "decision": "allow", "tool_glob": "billing.*", "roles": ["analyst"]}], "budgets": {"max_steps": 8}})"));
  // In production this is the host's LLM callback; the script plays a model that calls one tool.
  rein::ScriptedLlm model({rein::LlmResponse{.tool_calls = {{"call-1", "billing__mrr", {{"account_id", "A100"}}, ""}}},
                           rein::LlmResponse{.content = "Acme Health (A100) has an MRR of $12,480."}});
  auto planner = std::make_shared<rein::StaticPlanner>([](const rein::PlanRequest& req) -> rein::Result<rein::PlanDecision> {
    auto reply = req.llm({.messages = {{"user", req.state.goal}}, .tools = req.tools.openai_catalog()});
    if (!reply) return std::move(reply).error();
    if (reply->tool_calls.empty()) return rein::PlanDecision::finish({{"answer", reply->content}, {"facts", req.state.outputs}});
    std::vector<rein::PlanStep> steps;
    for (const auto& call : reply->tool_calls) {
      const rein::ToolSpec* spec = req.tools.find_by_wire_name(call.name);  // unknown names fail authorization
      steps.push_back({call.id, spec ? spec->name : call.name, call.arguments});
    }
    return rein::PlanDecision::run(std::move(steps));
  });
  auto audit = std::make_shared<rein::MemoryAuditSink>();
  rein::Runtime runtime({"quickstart", tools, *policy, planner}, {.audit_sinks = {audit}, .llm = model.callback()});
  auto run = runtime.run({.goal = "What is A100's MRR?", .principal = {"riley", {"analyst"}}});
  if (!run) return std::printf("error: %s\n", run.error().to_string().c_str()), 1;
  std::printf("status: %s\nanswer: %s\n", std::string(rein::to_string(run->status)).c_str(), run->final_answer.value_or(json()).dump(2).c_str());
  std::printf("audit: %s\n", rein::verify_audit(audit->entries()).to_json().dump().c_str());
  return run->status == rein::RunStatus::completed ? 0 : 1;
}
