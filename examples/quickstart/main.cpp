// rein quickstart: a first agent from the three things only the host has (its tools, its
// policy, its model), one run, its answer and its audit.
//
// The model is scripted here so that the example runs offline; in production it is the host's
// LLM callback (or rein::OpenAiClient's).
#include <cstdio>
#include <string>

#include <rein/rein.hpp>

using nlohmann::json;

namespace {

int fail(const rein::Error& error) {
  std::fprintf(stderr, "quickstart: %s\n", error.to_string().c_str());
  return 1;
}

// A tool the agent may call: a name, what it does, the JSON Schema of its arguments, and the
// function that runs it.
rein::Status register_billing_tool(rein::ToolRegistry& tools) {
  rein::ToolSpec mrr{
      .name = "billing.mrr",
      .description = "Monthly recurring revenue of an account",
      .input_schema = json::parse(R"({
        "type": "object",
        "properties": {"account_id": {"type": "string", "pattern": "^A[0-9]{3}$"}},
        "required": ["account_id"]
      })"),
  };
  return tools.register_tool(mrr, [](const json& args, rein::ToolContext&) {
    const std::string account = args["account_id"].get<std::string>();
    return rein::ToolResult::success({{"account_id", account}, {"current_mrr", 12480}},
                                     {rein::Evidence::source("billing://mrr/" + account)});
  });
}

// Who may call what, within which budgets. Anything no rule allows is denied.
constexpr const char* kPolicy = R"({
  "rules": [{"id": "analysts-read-billing", "decision": "allow",
             "tool_glob": "billing.*", "roles": ["analyst"]}],
  "budgets": {"max_steps": 8}
})";

// Plays a model that calls the tool once, then answers.
rein::ScriptedLlm scripted_model() {
  return rein::ScriptedLlm({
      rein::LlmResponse{.tool_calls = {{.id = "call-1",
                                        .name = "billing__mrr",  // the tool's wire name
                                        .arguments = {{"account_id", "A100"}}}}},
      rein::LlmResponse{.content = "Acme Health (A100) has an MRR of $12,480."},
  });
}

}  // namespace

int main() {
  // 1. Tools.
  auto tools = std::make_shared<rein::ToolRegistry>();
  if (auto registered = register_billing_tool(*tools); !registered) return fail(registered.error());

  // 2. Policy.
  auto policy = rein::PolicyEngine::from_json(json::parse(kPolicy));
  if (!policy) return fail(policy.error());

  // 3. Model.
  rein::ScriptedLlm model = scripted_model();

  // 4. The agent, and the runtime that runs it.
  auto runtime = rein::Runtime::create(rein::react_agent({
      .name = "quickstart",
      .tools = tools,
      .policy = *policy,
      .model = model.callback(),
  }));
  if (!runtime) return fail(runtime.error());

  // 5. A run: the goal, and who asks.
  auto run = runtime->run({
      .goal = "What is A100's MRR?",
      .principal = {.id = "riley", .roles = {"analyst"}},
  });
  if (!run) return fail(run.error());

  // 6. What it did: status, answer, and the audit's hash chain checked end to end.
  std::printf("status: %s\n", std::string(rein::to_string(run->status)).c_str());
  std::printf("answer: %s\n", run->final_answer.value_or(json()).dump().c_str());
  auto audit = runtime->store().read_audit(run->run_id);
  if (!audit) return fail(audit.error());
  std::printf("audit: %s\n", rein::verify_audit(*audit).to_json().dump().c_str());
  return run->status == rein::RunStatus::completed ? 0 : 1;
}
