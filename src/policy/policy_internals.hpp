// Internal: what the policy engine's files share.
#pragma once

#include <nlohmann/json.hpp>

#include "rein/policy.hpp"

namespace rein::detail {

// A constraint in the documented policy format ({"pointer": ..., "<operator>": ...}).
nlohmann::json constraint_json(const ArgConstraint& constraint);

}  // namespace rein::detail
