// The sunglasses-store agent on rein's loop: the planner asks a model for a SQL plan, the policy
// authorizes running it, the tool runs it in a SqlSandbox, and the critic verifies the pending
// change set against the store's invariants before it commits (or rolls back and says why).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <rein/env.hpp>
#include <rein/error.hpp>
#include <rein/llm.hpp>

namespace sunglasses {

struct AgentOptions {
  std::string db_path;                   // the store (prepare_store() it first)
  rein::LlmCallback llm;                 // nullptr: the built-in offline store model
  std::optional<std::string> plan_text;  // run this plan instead of asking a model (--plan)
  std::string audit_dir;                 // writes <run-id>.audit.jsonl here ("" → no file)
  rein::Env* env = nullptr;              // nullptr: Env::system()
  // Plans the critic rejects go back to the model with the reasons, this many times (each
  // attempt is one more tool call under the policy). 0: the first rejection is final.
  int max_replans = 0;
  // Wall time one plan may take in the sandbox before it is stopped.
  std::chrono::milliseconds sandbox_deadline{500};
};

struct Answer {
  std::string run_id;
  std::string status;       // one of the five STATUS values; "" when the plan was rejected
  std::string answer_text;  // for the customer
  std::string plan;         // the model's full answer (or the --plan file)
  nlohmann::json steps = nlohmann::json::array();  // each statement with its comment and rows
  nlohmann::json changes =
      nlohmann::json::array();  // before/after rows (rolled back unless committed)
  bool committed = false;
  std::string error;  // why the plan was rejected or rolled back ("" when it was not)

  // {"status", "answer_text", "plan", "changes", "committed"} plus "error" when there is one.
  nlohmann::json to_json() const;
};

// Answers one request. An Error only when the agent itself cannot run (the store cannot be
// opened, the model is unreachable); a rejected plan is an Answer with `error` set.
rein::Result<Answer> answer_request(const std::string& request, const AgentOptions& options);

}  // namespace sunglasses
