// Shared by the JsonSchema tests: compile or fail the test with the compiler's message.
#pragma once

#include <catch2/catch.hpp>

#include "rein/json_schema.hpp"

namespace rein::testing {

inline JsonSchema compile_schema(const nlohmann::json& s, const JsonSchemaOptions& options = {}) {
  auto r = JsonSchema::compile(s, options);
  if (!r) FAIL(r.error().to_string());
  return *r;
}

}  // namespace rein::testing
