// Internal: canonical JSON text of a plan step, shared by checkpoints (agent_state.cpp) and
// plan entries of the audit (plan_stage.cpp) so both always write it the same way. The values
// inside steps that the audit hashes have their field lists in core/value_fields.hpp.
#pragma once

#include <string>
#include <vector>

#include "rein/agent_state.hpp"

namespace rein::detail {

std::string plan_step_text(const PlanStep& step);

}  // namespace rein::detail
