#include <catch2/catch.hpp>

#include "rein/json_schema.hpp"

using nlohmann::json;
using rein::JsonSchema;

namespace {
JsonSchema compile(const json& s) {
  auto r = JsonSchema::compile(s);
  if (!r) FAIL(r.error().to_string());
  return *r;
}
std::vector<std::string> pointers(const std::vector<rein::SchemaViolation>& v) {
  std::vector<std::string> out;
  for (const auto& x : v)
    out.push_back(x.pointer + " " + x.keyword);
  return out;
}
}  // namespace

TEST_CASE("type: integer is distinct from number", "[schema]") {
  auto integer = compile({{"type", "integer"}});
  CHECK(integer.accepts(3));
  CHECK(integer.accepts(-3));
  CHECK(integer.accepts(2.0));
  CHECK_FALSE(integer.accepts(1.5));
  CHECK_FALSE(integer.accepts("3"));
  auto number = compile({{"type", "number"}});
  CHECK(number.accepts(1.5));
  CHECK(number.accepts(3));
  CHECK_FALSE(number.accepts(true));
  auto several = compile({{"type", {"string", "null"}}});
  CHECK(several.accepts(nullptr));
  CHECK(several.accepts("x"));
  auto v = several.validate(1);
  REQUIRE(v.size() == 1);
  CHECK(v[0].message == "expected null or string, got integer");
}

TEST_CASE("objects: properties, required, additionalProperties", "[schema]") {
  auto s = compile(json::parse(R"({
    "type": "object",
    "properties": {"region": {"type": "string", "enum": ["east", "west"]},
                   "limit": {"type": "integer", "minimum": 1, "maximum": 10}},
    "required": ["region"],
    "additionalProperties": false})"));
  CHECK(s.accepts({{"region", "east"}}));
  CHECK(s.accepts({{"region", "west"}, {"limit", 10}}));
  auto v = s.validate({{"limit", 11}, {"extra", 1}});
  CHECK(pointers(v) == std::vector<std::string>{"/region required", "/extra additionalProperties",
                                                "/limit maximum"});
  CHECK(v[0].message == "required property 'region' is missing");
  CHECK(rein::describe(v).find("/limit: must be <= 10") != std::string::npos);

  auto typed_extra = compile({{"type", "object"}, {"additionalProperties", {{"type", "number"}}}});
  CHECK(typed_extra.accepts({{"a", 1}, {"b", 2.5}}));
  CHECK(pointers(typed_extra.validate({{"a", "x"}})) == std::vector<std::string>{"/a type"});
}

TEST_CASE("every violation is reported with its JSON pointer", "[schema]") {
  auto s = compile(json::parse(R"({
    "type": "object",
    "properties": {
      "deck": {"type": "object", "properties": {
        "title": {"type": "string", "minLength": 3, "maxLength": 5, "pattern": "^[A-Z]"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2,
                 "uniqueItems": true}}},
      "a/b": {"const": 1}}})"));
  json bad = json::parse(R"({"deck": {"title": "ab", "tags": ["x", "x", 3]}, "a/b": 2})");
  auto v = s.validate(bad);
  CHECK(pointers(v) == std::vector<std::string>{"/a~1b const", "/deck/tags maxItems",
                                                "/deck/tags uniqueItems", "/deck/tags/2 type",
                                                "/deck/title minLength", "/deck/title pattern"});
  CHECK_FALSE(s.accepts(bad));
  CHECK(s.accepts(json::parse(R"({"deck": {"title": "Abc", "tags": ["x"]}, "a/b": 1})")));
}

TEST_CASE("numbers: inclusive and exclusive bounds", "[schema]") {
  auto s = compile({{"exclusiveMinimum", 0}, {"exclusiveMaximum", 1}});
  CHECK(s.accepts(0.5));
  CHECK_FALSE(s.accepts(0));
  CHECK_FALSE(s.accepts(1));
  auto v = compile({{"minimum", 0}}).validate(-1);
  REQUIRE(v.size() == 1);
  CHECK(v[0].message == "must be >= 0");
}

TEST_CASE("string lengths count Unicode code points", "[schema]") {
  auto s = compile({{"type", "string"}, {"maxLength", 3}});
  CHECK(s.accepts("héé"));  // 5 bytes, 3 code points
  CHECK_FALSE(s.accepts("héél"));
}

TEST_CASE("uniqueItems compares JSON values, including objects and mixed numbers", "[schema]") {
  auto s = compile({{"uniqueItems", true}});
  CHECK(s.accepts(json::parse(R"([1, "1", {"a": 1}, {"a": 2}, [1]])")));
  CHECK_FALSE(s.accepts(json::parse(R"([{"a": 1, "b": 2}, {"b": 2, "a": 1}])")));
  CHECK_FALSE(s.accepts(json::parse("[1, 1.0]")));
}

TEST_CASE("$ref within the document, including recursion", "[schema]") {
  auto s = compile(json::parse(R"({
    "$defs": {"node": {"type": "object", "properties": {
        "value": {"type": "integer"},
        "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
      "required": ["value"]}},
    "$ref": "#/$defs/node"})"));
  CHECK(s.accepts(json::parse(R"({"value": 1, "children": [{"value": 2, "children": []}]})")));
  auto v = s.validate(json::parse(R"({"value": 1, "children": [{"children": [{"value": "x"}]}]})"));
  CHECK(pointers(v) == std::vector<std::string>{"/children/0/value required",
                                                "/children/0/children/0/value type"});
}

TEST_CASE("boolean schemas", "[schema]") {
  CHECK(compile(true).accepts(json::parse(R"({"anything": [1]})")));
  CHECK_FALSE(compile(false).accepts(1));
  auto s = compile({{"properties", {{"never", false}}}});
  CHECK(s.accepts(json::object()));
  CHECK_FALSE(s.accepts({{"never", 1}}));
  CHECK(JsonSchema().accepts(42));
}

TEST_CASE("unknown keywords are rejected at compile time, with location", "[schema]") {
  auto r =
      JsonSchema::compile(json::parse(R"({"properties": {"x": {"oneOf": [{}], "minLenght": 3}}})"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == rein::ErrorCode::invalid_argument);
  CHECK(r.error().message() ==
        "schema /properties/x: unsupported keyword 'minLenght' (not in JSON Schema draft 2020-12; "
        "UnknownKeywords::ignore accepts it)");
  // ... unless the host asks for JSON Schema's own rule: unknown keywords are ignored.
  rein::JsonSchemaOptions lenient;
  lenient.unknown_keywords = rein::UnknownKeywords::ignore;
  auto ignored = JsonSchema::compile(json::parse(R"({"x-vendor": 1, "type": "string"})"), lenient);
  REQUIRE(ignored.ok());
  CHECK(ignored->accepts("a"));
  CHECK_FALSE(ignored->accepts(1));
  // Keywords of the other draft are named as such.
  auto other =
      JsonSchema::compile(json::parse(R"({"$schema": "http://json-schema.org/draft-07/schema#",
                                                  "prefixItems": [true]})"));
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().message() ==
        "schema /prefixItems: keyword 'prefixItems' is not part of draft-07");
}

TEST_CASE("malformed schemas are rejected with the field at fault", "[schema]") {
  struct Case {
    json schema;
    std::string message;
  };
  std::vector<Case> cases = {
      {{{"type", "text"}}, "schema /type: unknown type \"text\""},
      {{{"type", json::array()}},
       "schema /type: type must be a type name or a non-empty array of them"},
      {{{"minLength", -1}}, "schema /minLength: minLength must be a non-negative integer"},
      {{{"minimum", "0"}}, "schema /minimum: minimum must be a number"},
      {{{"exclusiveMinimum", true}},
       "schema /exclusiveMinimum: exclusiveMinimum must be a number (the draft-4 boolean form is "
       "not supported)"},
      {{{"pattern", "("}}, ""},
      {{{"required", "x"}}, "schema /required: required must be an array of strings"},
      {{{"items", json::array({json::object()})}},
       "schema /items: items must be a schema in draft 2020-12 (prefixItems holds the tuple form)"},
      {{{"$ref", "other.json#/x"}},
       "schema /$ref: unresolved $ref 'other.json#/x' (no resolver for 'other.json')"},
      {{{"$ref", "#/nowhere"}}, "schema /$ref: $ref '#/nowhere' does not resolve"},
      {{{"enum", 3}}, "schema /enum: enum must be an array"},
      {{{"multipleOf", 0}}, "schema /multipleOf: multipleOf must be greater than 0"},
      {{{"$schema", "http://json-schema.org/draft-04/schema#"}},
       "schema /$schema: unsupported $schema \"http://json-schema.org/draft-04/schema#\" (rein "
       "supports draft 2020-12 and draft-07)"},
      {{{"$id", "http://x.test/a.json#frag"}},
       "schema /$id: $id must not contain a fragment: 'http://x.test/a.json#frag'"},
      {{{"minItems", 3}, {"maxItems", 1}}, "schema (root): minItems is greater than maxItems"},
      {json(42), "schema (root): a schema must be an object or a boolean"},
  };
  for (const auto& c : cases) {
    auto r = JsonSchema::compile(c.schema);
    INFO(c.schema.dump());
    REQUIRE_FALSE(r.ok());
    if (!c.message.empty()) CHECK(r.error().message() == c.message);
  }
  auto pattern = JsonSchema::compile({{"pattern", "("}});
  CHECK(pattern.error().message().rfind("schema /pattern: invalid pattern:", 0) == 0);
  CHECK_FALSE(
      compile({{"enum", json::array()}}).accepts(nullptr));  // [] is valid and admits nothing
}

TEST_CASE("annotations are accepted and ignored", "[schema]") {
  auto s = compile(json::parse(R"({"$schema": "https://json-schema.org/draft/2020-12/schema",
      "title": "t", "description": "d", "default": 1, "examples": [1], "$comment": "c",
      "type": "integer"})"));
  CHECK(s.accepts(1));
  CHECK(s.source()["title"] == "t");
}

TEST_CASE("instances nested too deep are reported, not recursed into", "[schema]") {
  auto s =
      compile(json::parse(R"({"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}},
                                   "$ref": "#/$defs/n"})"));
  json deep = json::array();
  for (int i = 0; i < 300; ++i)
    deep = json::array({deep});
  auto v = s.validate(deep);
  REQUIRE_FALSE(v.empty());
  CHECK(v.back().keyword == "depth");
}

TEST_CASE("violation messages survive invalid UTF-8 in the instance", "[schema]") {
  auto s = compile({{"type", "array"}, {"uniqueItems", true}, {"items", {{"enum", {"ok"}}}}});
  const std::string bad_utf8 = "\xff\xfe";
  std::vector<rein::SchemaViolation> v;
  REQUIRE_NOTHROW(v = s.validate(json::array({bad_utf8, bad_utf8})));
  REQUIRE(v.size() == 3);  // a repeat, and two values outside the enum
  CHECK(v[0].keyword == "uniqueItems");
}
