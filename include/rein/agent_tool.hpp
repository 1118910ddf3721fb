// rein::register_agent_tool: another agent, offered to a run as a tool.
//
// Calling the tool starts a child run on the child agent's Runtime and completes when that run
// ends. The parent waits for it without holding a thread (the tool is asynchronous), and the
// child runs under the rules of delegation.hpp: its calls need every ancestor's policy as well
// as its own, its budgets are carved from what the parent has left, its usage counts against
// the parent's, cancelling the parent cancels it, and its approvals reach the host through the
// child's Runtime (pending_approvals(), approve(), deny()) with the chain of runs above it.
//
// The child run's id is the call's idempotency key (the parent's run id and step id, and the
// critic retry when there was one), so a parent resumed after a crash finds the child it had
// started and waits for it again instead of starting another; a retry starts a fresh child.
// The tool is side-effecting with a required key, so the parent journals its outcome.
//
// The result: for a child that completes (or ends needing review), success with
//   {"run_id": ..., "status": "completed" | "needs_review", "answer": <final answer>,
//    "review": [<issues>...]}  ("review" only when there are some)
// labelled with the child's answer label; for one that fails, runs out of budget or is
// cancelled, a permanent failure naming the child run and its reason. Either way
// ToolResult::spent carries the child's usage.
//
// The child's Runtime must outlive every parent run that may call it; the two may share an
// Executor and a store (they must share a store for a crash to resume the whole tree).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"
#include "rein/runtime.hpp"
#include "rein/tool_registry.hpp"

namespace rein {

struct AgentToolOptions {
  std::string name{};         // "" → "agent." + the child agent's name
  std::string description{};  // "" → "Ask the <name> agent to do a task; returns its answer."
  // The arguments the model gives: by default {"task": string, "input": any}. The child's goal
  // is the string at `goal_field` (required by the default schema); the whole arguments object
  // is its RunRequest::input.
  nlohmann::json input_schema{};
  std::string goal_field = "task";
  // The roles of the parent's principal that the child keeps; empty: all of them. The child's
  // principal id is the parent's id, "/", and the child agent's name.
  std::vector<std::string> roles{};
  // The deepest a child of this tool may sit in its tree (a top-level run is depth 0, its
  // children depth 1): a call from a run at max_depth or below fails, named, and starts
  // nothing. Bounds hierarchies of orchestrators (and an agent that delegates to itself).
  int max_depth = 8;
};

// Registers the child agent's runtime as a tool of `parent_tools`. Errors: invalid_argument
// for a null runtime or a schema without `goal_field`; those of ToolRegistry::register_tool.
Status register_agent_tool(ToolRegistry& parent_tools, std::shared_ptr<Runtime> child,
                           AgentToolOptions options = {});

}  // namespace rein
