// rein::JsonSchema: JSON Schema (draft 2020-12 and draft-07), compiled once, validated many times.
//
// Used for tool inputs and outputs, including schemas written elsewhere (Pydantic, zod, MCP
// servers, OpenAPI 3.1). Supported: the core, applicator, validation and unevaluated
// vocabularies of draft 2020-12 — type, enum, const, numeric and length bounds, multipleOf,
// pattern, properties, patternProperties, additionalProperties, propertyNames, required,
// dependentRequired, dependentSchemas, min/maxProperties, prefixItems, items, contains,
// min/maxContains, min/maxItems, uniqueItems, allOf, anyOf, oneOf, not, if/then/else,
// unevaluatedProperties, unevaluatedItems, $ref, $dynamicRef, $id, $anchor, $dynamicAnchor,
// $defs — and draft-07's forms (tuple items, additionalItems, dependencies, $id anchors,
// $ref overriding its siblings), chosen by `$schema` or by JsonSchemaOptions::default_draft; a
// custom meta-schema's $vocabulary is honoured. "integer" is distinct from "number": 1.5 is not
// an integer, 2.0 is. Lengths count Unicode code points. `pattern` and `patternProperties` run
// on RE2 (linear time), translated from ECMA-262 where RE2 spells things differently (\s,
// \p{Letter}, \cX); look-around and back-references are compile errors. docs/tools.md lists
// every difference.
//
// References: within the document by JSON pointer, $id-based URIs (relative, embedded
// resources), $anchor, $dynamicRef/$dynamicAnchor. The standard meta-schemas are built in;
// other documents come only from the host's JsonSchemaOptions::resolver, never from the
// network; a reference nobody resolves is a compile error naming it. Cycles of references that
// would loop without consuming the instance are compile errors; what compile-time analysis cannot
// see ($dynamicRef) is bounded at validation.
//
// Keywords rein does not know are rejected by compile() with an error naming the keyword and its
// location (a typo is never ignored in silence) unless unknown_keywords is `ignore`.
// `format` is an annotation by default; with FormatMode::assertion the formats listed in
// docs/tools.md are checked (others stay annotations).
//
// validate() reports every violation with the JSON pointer of the offending value and the
// schema location of the failing keyword, as evaluated (through $ref). accepts() stops at the
// first violation and does not allocate for the common keywords.
//
// Limits (hostile schemas and instances): instances nested deeper than kMaxDepth and
// evaluations deeper than kMaxEvaluationDepth are violations, not recursed into; schemas nested
// deeper than kMaxDepth subschemas, more than max_nodes subschemas or max_documents resolved
// documents fail to compile; one validation evaluates at most max_evaluations subschemas (a
// violation beyond that). Every check is linear or n·log n in the instance's size.
//
// Thread safety: a compiled JsonSchema is immutable; validate() may run on many threads at
// once. Copies share the compiled form. The resolver is called only during compile().
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"

namespace rein {

namespace detail {
struct CompiledSchema;
}

struct SchemaViolation {
  std::string pointer{};  // JSON pointer into the instance ("" is the whole instance)
  std::string keyword{};  // the schema keyword that failed, e.g. "required", "type"
  std::string message{};  // for people: what was expected and what was found
  // JSON pointer of the failing keyword in the schema, along the evaluation path (through
  // $ref), e.g. "/properties/limit/$ref/maximum": JSON Schema's keywordLocation.
  std::string keyword_location{};

  friend bool operator==(const SchemaViolation&, const SchemaViolation&) = default;
};

// "/a/b: message; /c: message" — for error messages.
std::string describe(const std::vector<SchemaViolation>& violations);

enum class SchemaDraft { draft2020_12, draft7 };
enum class FormatMode { annotation, assertion };
enum class UnknownKeywords { reject, ignore };

// The document for an absolute URI (without fragment), or nullopt when the host has none.
// Called only during compile(), on the compiling thread; an exception counts as nullopt.
using SchemaResolver = std::function<std::optional<nlohmann::json>(const std::string& uri)>;

struct JsonSchemaOptions {
  SchemaDraft default_draft = SchemaDraft::draft2020_12;  // when the root has no $schema
  FormatMode format = FormatMode::annotation;
  UnknownKeywords unknown_keywords = UnknownKeywords::reject;
  SchemaResolver resolver{};        // empty: only the document itself and the built-in meta-schemas
  std::string base_uri{};           // the root's URI when it has no $id ("" : none)
  std::size_t max_documents = 64;   // documents loaded besides the root (resolver, meta-schemas)
  std::size_t max_nodes = 100'000;  // compiled subschemas, all documents together
  std::size_t max_evaluations = 10'000'000;  // subschema evaluations in one validation
};

class JsonSchema {
 public:
  static constexpr int kMaxDepth = 128;
  static constexpr int kMaxEvaluationDepth = 512;

  // A schema that accepts everything (the same as `true`).
  JsonSchema();

  // Compiles `schema`; fails with invalid_argument naming the keyword and its location.
  static Result<JsonSchema> compile(const nlohmann::json& schema);
  static Result<JsonSchema> compile(const nlohmann::json& schema, const JsonSchemaOptions& options);

  // Every violation of the schema by `instance`; empty when valid.
  std::vector<SchemaViolation> validate(const nlohmann::json& instance) const;

  // True when `instance` is valid; stops at the first violation.
  bool accepts(const nlohmann::json& instance) const;

  // The schema document this was compiled from.
  const nlohmann::json& source() const;

  // The draft the root was compiled as.
  SchemaDraft draft() const;

 private:
  explicit JsonSchema(std::shared_ptr<const detail::CompiledSchema> impl)
      : impl_(std::move(impl)) {}
  std::shared_ptr<const detail::CompiledSchema> impl_;
};

}  // namespace rein
