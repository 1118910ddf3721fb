// Internal: references from a step's arguments to earlier steps' outputs.
//
// An argument written as {"$from": "<step id>"} or {"$from": "<step id>", "pointer": "/a/0"}
// is filled in, when the step is authorized, with that step's accepted output (or the part of
// it at the JSON pointer); the filled-in value carries the output's label (labels.hpp). The
// referenced step must be one of the step's dependencies, so it has succeeded by then.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "rein/agent_state.hpp"
#include "rein/error.hpp"

namespace rein::detail {

// Whether `value` is written as a reference (an object with a "$from" key).
bool is_reference(const nlohmann::json& value);
// Whether `value` holds a reference anywhere inside it.
bool holds_reference(const nlohmann::json& value);

// Checks the references in a planned step: each well formed ("$from" a string, "pointer" a JSON
// pointer, no other keys) and naming one of the step's dependencies.
Status check_references(const PlanStep& step);

// Fills in every reference of the step's arguments from the run's outputs, joining the
// referenced step's output label into the step's argument labels at that argument. An error
// names the reference that cannot be filled in; the step is then left as it was.
Status fill_in_references(StepState& step, const AgentState& state);

// `value` (a final answer template) with every reference replaced by the output it names; null
// where that step has no accepted output or the pointer finds nothing.
nlohmann::json filled_in(nlohmann::json value, const AgentState& state);

}  // namespace rein::detail
