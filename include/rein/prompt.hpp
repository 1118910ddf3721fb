// Prompt building blocks for model-driven planners: the run described to a model, with
// everything that came from tools or users marked as untrusted data.
//
// Untrusted content is delimited and labelled with its source:
//     <untrusted source="tool:crm.search">
//     ...the tool's output...
//     </untrusted>
// and kUntrustedContentRule, placed in the system message, tells the model that such blocks
// are data to reason about, never instructions. Text inside a block cannot close it: any
// "<untrusted" or "</untrusted" it contains is escaped. This does not make injection
// impossible (nothing in a prompt can); the policy engine, which holds even when the model is
// compromised, is the layer that must.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "rein/agent_state.hpp"
#include "rein/planner.hpp"
#include "rein/tool_registry.hpp"

namespace rein {

// The paragraph for system messages that explains untrusted blocks.
extern const std::string_view kUntrustedContentRule;

struct PromptOptions {
  std::size_t max_result_chars = 4000;  // a step's output beyond this is cut (and says so)
  bool goal_is_untrusted = true;        // the goal is end-user text (false: the host wrote it)
  bool show_input = true;               // include the run's input (untrusted, source "input")
};

// `content` delimited and labelled as untrusted data from `source` (e.g. "tool:crm.search",
// "user"). The source is reduced to [A-Za-z0-9_.:/-].
std::string mark_untrusted(std::string_view source, std::string_view content);

// The task: the goal, the run's input and its observations (untrusted unless the host marked
// an observation trusted), and the host's answers to earlier questions.
std::string describe_task(const AgentState& state, const PromptOptions& options = {});
// The steps so far: id, tool, status, and each output or error as an untrusted block.
std::string describe_progress(const AgentState& state, const PromptOptions& options = {});
// Why a replan is needed: the failed step, its arguments and the critic's reasons.
std::string describe_replan(const ReplanRequest& replan, const AgentState& state);
// The tool catalog for a prompt: name, description and JSON Schema of the arguments.
std::string describe_tools(const ToolRegistry& tools);

}  // namespace rein
