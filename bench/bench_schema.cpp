// JSON Schema validation beyond schema_validate_10_props (bench_tools.cpp):
// schema_validate_pydantic: a Pydantic v2-style model (optional fields as anyOf with null,
//   nested models under $defs, enums, a list of nested models), one valid instance.
// schema_validate_unevaluated: allOf composition closed by unevaluatedProperties: false.
// With valijson installed (libvalijson-dev; REIN_HAVE_VALIJSON), the same draft-07 schemas and
// instances through both validators, for docs/performance.md:
//   schema_draft7_10_props / valijson_draft7_10_props
//   schema_draft7_pydantic / valijson_draft7_pydantic
#include <memory>

#include "benchmarks.hpp"
#include "harness.hpp"
#include "rein/json_schema.hpp"

#ifdef REIN_HAVE_VALIJSON
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>
#endif

namespace rein::bench {
namespace {

using nlohmann::json;

// What `class Order(BaseModel)` with nested models and Optional[...] fields exports.
const char* kPydantic = R"({
  "$defs": {
    "Address": {"type": "object", "title": "Address",
      "properties": {"street": {"type": "string", "title": "Street"},
                     "city": {"type": "string", "title": "City"},
                     "postcode": {"anyOf": [{"type": "string", "pattern": "^[0-9]{5}$"}, {"type": "null"}],
                                  "default": null, "title": "Postcode"}},
      "required": ["street", "city"]},
    "Status": {"type": "string", "enum": ["draft", "open", "paid", "void"], "title": "Status"},
    "Line": {"type": "object", "title": "Line",
      "properties": {"sku": {"type": "string", "title": "Sku"},
                     "quantity": {"type": "integer", "minimum": 1, "title": "Quantity"},
                     "discount": {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}],
                                  "default": null}},
      "required": ["sku", "quantity"]}},
  "type": "object", "title": "Order",
  "properties": {
    "id": {"type": "string", "title": "Id"},
    "status": {"$ref": "#/$defs/Status"},
    "customer": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
    "shipping": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}], "default": null},
    "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}, "title": "Lines"},
    "note": {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}], "default": null},
    "priority": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": null}},
  "required": ["id", "status", "lines"]})";

const char* kPydanticInstance = R"({
  "id": "o-1", "status": "open", "customer": "Riley", "shipping": {"street": "1 Main St",
  "city": "Springfield", "postcode": "12345"},
  "lines": [{"sku": "A1", "quantity": 2, "discount": null}, {"sku": "B2", "quantity": 1, "discount": 0.1}],
  "note": null, "priority": 3})";

const char* kUnevaluated = R"({
  "$defs": {
    "Base": {"properties": {"id": {"type": "string"}, "created": {"type": "string"}}, "required": ["id"]},
    "Audited": {"properties": {"by": {"type": "string"}, "at": {"type": "integer"}}}},
  "allOf": [{"$ref": "#/$defs/Base"}, {"$ref": "#/$defs/Audited"}],
  "properties": {"kind": {"enum": ["invoice", "refund"]}, "amount": {"type": "number"}},
  "if": {"properties": {"kind": {"const": "refund"}}},
  "then": {"properties": {"reason": {"type": "string"}}, "required": ["reason"]},
  "unevaluatedProperties": false})";

const char* kUnevaluatedInstance = R"({
  "id": "r-7", "created": "2024-05-01", "by": "ops", "at": 1714550400, "kind": "refund",
  "amount": 12.5, "reason": "damaged"})";

std::shared_ptr<JsonSchema> compiled(const json& schema, const json& instance) {
  auto s = JsonSchema::compile(schema);
  if (!s || !s->accepts(instance)) std::abort();
  return std::make_shared<JsonSchema>(*s);
}

void add_rein(std::vector<Benchmark>& out, const std::string& name, const json& schema,
              const json& instance) {
  auto s = compiled(schema, instance);
  auto data = std::make_shared<json>(instance);
  out.push_back({name, [s, data] {
                   bool ok = s->accepts(*data);
                   keep(ok);
                 }});
}

#ifdef REIN_HAVE_VALIJSON
void add_valijson(std::vector<Benchmark>& out, const std::string& name, const json& schema,
                  const json& instance) {
  auto parsed = std::make_shared<valijson::Schema>();
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema);
  parser.populateSchema(schema_adapter, *parsed);
  auto data = std::make_shared<json>(instance);
  auto validator = std::make_shared<valijson::Validator>();
  valijson::adapters::NlohmannJsonAdapter first(*data);
  if (!validator->validate(*parsed, first, nullptr)) std::abort();
  out.push_back({name, [parsed, data, validator] {
                   valijson::adapters::NlohmannJsonAdapter target(*data);
                   bool ok = validator->validate(*parsed, target, nullptr);
                   keep(ok);
                 }});
}
#endif

// The 2020-12 schemas above, in draft-07 spelling, so valijson (draft-07 at most) reads them too.
json as_draft7(json schema) {
  if (schema.contains("$defs")) {
    schema["definitions"] = schema["$defs"];
    schema.erase("$defs");
  }
  std::string text = schema.dump();
  for (std::size_t at = text.find("#/$defs/"); at != std::string::npos;
       at = text.find("#/$defs/")) {
    text.replace(at, 8, "#/definitions/");
  }
  json out = json::parse(text);
  out["$schema"] = "http://json-schema.org/draft-07/schema#";
  return out;
}

}  // namespace

void add_schema_benchmarks(std::vector<Benchmark>& out) {
  const json pydantic = json::parse(kPydantic);
  const json pydantic_instance = json::parse(kPydanticInstance);
  add_rein(out, "schema_validate_pydantic", pydantic, pydantic_instance);
  add_rein(out, "schema_validate_unevaluated", json::parse(kUnevaluated),
           json::parse(kUnevaluatedInstance));

  const json ten = tool_schema_10_props();
  const json ten_instance = tool_args_10_props();
  add_rein(out, "schema_draft7_10_props", as_draft7(ten), ten_instance);
  add_rein(out, "schema_draft7_pydantic", as_draft7(pydantic), pydantic_instance);
#ifdef REIN_HAVE_VALIJSON
  add_valijson(out, "valijson_draft7_10_props", as_draft7(ten), ten_instance);
  add_valijson(out, "valijson_draft7_pydantic", as_draft7(pydantic), pydantic_instance);
#endif
}

}  // namespace rein::bench
