// rein::JsonSchema: a compiled subset of JSON Schema, used for tool inputs and outputs.
//
// A schema is compiled once (at tool registration) and then validates many instances cheaply.
// The subset: type (string or array; "integer" is distinct from "number": 1.5 is not an
// integer, 2.0 is), properties, required, additionalProperties (boolean or schema), enum,
// const, minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers), minLength, maxLength
// (in Unicode code points), pattern (RE2 syntax, unanchored as JSON Schema specifies), items
// (one schema for every element), minItems, maxItems, uniqueItems, nested objects and arrays,
// boolean schemas, and $ref to a JSON pointer within the same document ("#/$defs/x",
// "#/definitions/x", recursion allowed). Annotations ($schema, $id, $comment, title,
// description, default, examples, readOnly, writeOnly, deprecated) are accepted and ignored.
//
// Any other keyword (oneOf, format, patternProperties, ...) is rejected by compile() with an
// error naming it and where it stands: a schema is never partly enforced in silence.
//
// validate() reports every violation, each with the JSON pointer of the offending value.
// Instances nested deeper than kMaxDepth are reported as a violation, not recursed into.
//
// Thread safety: a compiled JsonSchema is immutable; validate() may run on many threads at
// once. Copies share the compiled form.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"

namespace rein {

namespace detail {
struct CompiledSchema;
}

struct SchemaViolation {
  std::string pointer;  // JSON pointer into the instance ("" is the whole instance)
  std::string keyword;  // the schema keyword that failed, e.g. "required", "type"
  std::string message;  // for people: what was expected and what was found

  friend bool operator==(const SchemaViolation&, const SchemaViolation&) = default;
};

// "/a/b: message; /c: message" — for error messages.
std::string describe(const std::vector<SchemaViolation>& violations);

class JsonSchema {
 public:
  static constexpr int kMaxDepth = 128;

  // A schema that accepts everything (the same as `true`).
  JsonSchema();

  // Compiles `schema`; fails with invalid_argument naming the keyword and its location.
  static Result<JsonSchema> compile(const nlohmann::json& schema);

  // Every violation of the schema by `instance`; empty when valid.
  std::vector<SchemaViolation> validate(const nlohmann::json& instance) const;

  // True when `instance` is valid; stops at the first violation and allocates nothing.
  bool accepts(const nlohmann::json& instance) const;

  // The schema document this was compiled from.
  const nlohmann::json& source() const;

 private:
  explicit JsonSchema(std::shared_ptr<const detail::CompiledSchema> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const detail::CompiledSchema> impl_;
};

}  // namespace rein
