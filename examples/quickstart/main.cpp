// rein quickstart: one tool, one policy, two principals. The policy decides, the registry
// validates and runs, and every outcome — allowed, denied, invalid — comes back as a value.
#include <cstdio>

#include <rein/rein.hpp>

using nlohmann::json;

int main() {
  rein::ToolRegistry tools;
  rein::ToolSpec spec;
  spec.name = "billing.mrr";
  spec.description = "Monthly recurring revenue of an account";
  spec.input_schema = json::parse(R"({"type": "object", "additionalProperties": false,
      "properties": {"account_id": {"type": "string", "pattern": "^A[0-9]{3}$"}},
      "required": ["account_id"]})");
  spec.permissions = {"analyst", "manager"};
  auto registered = tools.register_tool(spec, [](const json& args, rein::ToolContext&) {
    const std::string id = args["account_id"];
    return rein::ToolResult::success({{"account_id", id}, {"current_mrr", 12'480}},
                                     {{"source", "billing://mrr/" + id, ""}});
  });
  if (!registered) return std::fprintf(stderr, "%s\n", registered.error().to_string().c_str()), 1;

  auto policy = rein::PolicyEngine::from_json(json::parse(R"({"rules": [
      {"id": "analysts-read-billing", "decision": "allow", "tool_glob": "billing.*",
       "roles": ["analyst"]}],
      "budgets": {"max_tool_calls": 10}})"));
  if (!policy) return std::fprintf(stderr, "%s\n", policy.error().to_string().c_str()), 1;

  const rein::Principal analyst{"riley", {"analyst"}}, guest{"sam", {"guest"}};
  rein::Usage usage;
  for (const auto& [who, args] : {std::pair{analyst, json{{"account_id", "A100"}}},
                                  std::pair{guest, json{{"account_id", "A100"}}},
                                  std::pair{analyst, json{{"account_id", "100"}}}}) {
    auto decision = policy->decide(spec, args, who, usage);
    std::printf("%-6s %s -> %s\n", who.id.c_str(), args.dump().c_str(), decision.to_json().dump().c_str());
    if (!decision.allowed()) continue;
    auto result = tools.invoke(spec.name, args);
    usage.record_call(spec.name, 0, policy->longest_rate_window());
    std::printf("       result: %s\n", result.to_json().dump().c_str());
  }
  return 0;
}
