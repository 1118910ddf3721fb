// Compiles a schema document (and what its references reach) into the flat node form.
#pragma once

#include "rein/error.hpp"
#include "rein/json_schema.hpp"
#include "schema/node.hpp"

namespace rein::detail {

// Fills `out.nodes` (root first), `out.resources` and the flags from `out.source`.
Status compile_schema(const JsonSchemaOptions& options, CompiledSchema& out);

}  // namespace rein::detail
