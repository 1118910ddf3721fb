// Validation of one instance against a compiled schema.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "rein/json_schema.hpp"
#include "schema/node.hpp"

namespace rein::detail {

// True when `instance` is valid. With `out`, every violation is collected there; without,
// validation stops at the first.
bool validate_instance(const CompiledSchema& schema, const nlohmann::json& instance,
                       std::vector<SchemaViolation>* out);

}  // namespace rein::detail
