// rein::react_agent: the configuration of a first agent in one call.
//
// Most agents are a model calling tools until it can answer. react_agent() assembles that
// agent from the three things only the host has: its tools, its policy and its model. The
// result is an ordinary AgentConfig (a ReactPlanner, the default RuleCritic): change any
// field before handing it to Runtime::create, or build an AgentConfig by hand when the agent
// plans differently (JsonPlanPlanner, a StaticPlanner, a planner of your own).
//
//   auto runtime = rein::Runtime::create(
//       rein::react_agent({.name = "analyst", .tools = tools, .policy = *policy, .model = llm}));
#pragma once

#include <memory>
#include <string>

#include "rein/llm.hpp"
#include "rein/policy.hpp"
#include "rein/react_planner.hpp"
#include "rein/runtime.hpp"
#include "rein/tool_registry.hpp"

namespace rein {

struct ReactAgentOptions {
  std::string name = "agent";
  std::shared_ptr<ToolRegistry> tools{};  // required
  PolicyEngine policy{};                  // deny by default: an empty policy allows nothing
  LlmCallback model{};                    // the host's model; or:
  AsyncLlmCallback model_async{};         // the same, completing later (used when set)
  ReactOptions react{};                   // instructions, turns, repairs, prompt
};

// An AgentConfig whose planner is a ReactPlanner with `options.react`. Nothing is checked
// here: Runtime::create checks the result (a null registry, a missing model).
AgentConfig react_agent(ReactAgentOptions options);

}  // namespace rein
