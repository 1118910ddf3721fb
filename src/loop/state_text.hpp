// Internal: canonical JSON text of the state's parts, shared by checkpoints (agent_state.cpp)
// and audit payloads (runtime_step.cpp) so both always write them the same way.
#pragma once

#include <string>
#include <vector>

#include "rein/agent_state.hpp"

namespace rein::detail {

std::string plan_step_text(const PlanStep& step);
std::string evidence_text(const std::vector<Evidence>& evidence);
std::string verdict_text(const Verdict& verdict);
// {"decision", "reason", "rule"}, plus "budget_exhausted" when `with_budget_flag`.
std::string decision_text(const PolicyDecision& decision, bool with_budget_flag);

}  // namespace rein::detail
