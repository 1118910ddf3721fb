// Internal: what the policy engine's files share.
#pragma once

#include <nlohmann/json.hpp>

#include "rein/policy.hpp"

namespace rein::detail {

// A constraint in the documented policy format ({"pointer": ..., "<operator>": ...}).
nlohmann::json constraint_json(const ArgConstraint& constraint);

// Budgets in the policy format's "budgets" object, and back (errors name the field).
nlohmann::json budgets_json(const Budgets& budgets);
Result<Budgets> budgets_from_json(const nlohmann::json& j);

}  // namespace rein::detail
