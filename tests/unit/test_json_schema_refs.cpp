// JSON Schema references: $id base URIs, embedded resources, anchors, $dynamicRef, the host's
// resolver, and what compile() refuses (unresolved references, cycles, limits).
#include <catch2/catch.hpp>

#include <map>

#include "json_schema_test_support.hpp"
#include "rein/json_schema.hpp"

using nlohmann::json;
using rein::JsonSchema;

namespace {
JsonSchema compile(const json& s, const rein::JsonSchemaOptions& options = {}) {
  return rein::testing::compile_schema(s, options);
}
}  // namespace

TEST_CASE("$id sets the base for relative references and embedded resources", "[schema]") {
  auto s = compile(json::parse(R"({
    "$id": "https://schemas.test/root.json",
    "properties": {"person": {"$ref": "person.json"}, "tag": {"$ref": "#tag"}},
    "$defs": {
      "person": {"$id": "person.json", "properties": {"age": {"$ref": "#/$defs/age"}},
                 "$defs": {"age": {"type": "integer", "minimum": 0}}},
      "tag": {"$anchor": "tag", "type": "string"}}})"));
  CHECK(s.accepts({{"person", {{"age", 3}}}, {"tag", "t"}}));
  auto v = s.validate({{"person", {{"age", -1}}}, {"tag", 1}});
  REQUIRE(v.size() == 2);
  CHECK(v[0].pointer == "/person/age");
  CHECK(v[0].keyword_location == "/properties/person/$ref/properties/age/$ref/minimum");
  CHECK(v[1].keyword_location == "/properties/tag/$ref/type");
}

TEST_CASE("$dynamicRef: an extension overrides the anchored node", "[schema]") {
  // The classic extensible tree: strict-tree narrows what every node of tree.json allows.
  std::map<std::string, json> remotes = {{"https://schemas.test/tree.json", json::parse(R"({
        "$id": "https://schemas.test/tree.json", "$dynamicAnchor": "node", "type": "object",
        "properties": {"data": true, "children": {"type": "array", "items": {"$dynamicRef": "#node"}}}})")}};
  rein::JsonSchemaOptions options;
  options.resolver = [&](const std::string& uri) -> std::optional<json> {
    auto it = remotes.find(uri);
    if (it == remotes.end()) return std::nullopt;
    return it->second;
  };
  auto strict = compile(json::parse(R"({"$id": "https://schemas.test/strict-tree.json",
      "$dynamicAnchor": "node", "$ref": "tree.json", "unevaluatedProperties": false})"),
                        options);
  CHECK(strict.accepts(json::parse(R"({"children": [{"data": 1}]})")));
  auto v = strict.validate(json::parse(R"({"children": [{"daat": 1}]})"));
  REQUIRE_FALSE(v.empty());
  CHECK(v[0].pointer == "/children/0/daat");
  // Through tree.json alone the misspelling is allowed: nothing narrowed it.
  auto loose = compile(json::parse(R"({"$ref": "https://schemas.test/tree.json"})"), options);
  CHECK(loose.accepts(json::parse(R"({"children": [{"daat": 1}]})")));
}

TEST_CASE("remote references go only through the host's resolver", "[schema]") {
  std::vector<std::string> asked;
  rein::JsonSchemaOptions options;
  options.resolver = [&](const std::string& uri) -> std::optional<json> {
    asked.push_back(uri);
    if (uri == "https://schemas.test/money.json") {
      return json::parse(R"({"$defs": {"cents": {"type": "integer", "minimum": 0}}})");
    }
    if (uri == "https://schemas.test/throws.json") throw std::runtime_error("disk on fire");
    return std::nullopt;
  };
  auto s = compile(json::parse(R"({"$id": "https://schemas.test/order.json",
                                   "properties": {"total": {"$ref": "money.json#/$defs/cents"}}})"),
                   options);
  CHECK(asked == std::vector<std::string>{"https://schemas.test/money.json"});
  CHECK(s.accepts({{"total", 5}}));
  CHECK_FALSE(s.accepts({{"total", -5}}));

  auto missing = JsonSchema::compile(
      json::parse(R"({"$id": "https://schemas.test/a.json", "$ref": "nowhere.json"})"), options);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message() ==
        "schema /$ref: unresolved $ref 'nowhere.json' (the resolver has no document "
        "'https://schemas.test/nowhere.json')");
  auto thrown =
      JsonSchema::compile(json::parse(R"({"$ref": "https://schemas.test/throws.json"})"), options);
  REQUIRE_FALSE(thrown.ok());
  CHECK(thrown.error().message().find("unresolved $ref 'https://schemas.test/throws.json'") !=
        std::string::npos);
  auto no_resolver =
      JsonSchema::compile(json::parse(R"({"$ref": "https://schemas.test/money.json"})"));
  REQUIRE_FALSE(no_resolver.ok());
  CHECK(no_resolver.error().message() ==
        "schema /$ref: unresolved $ref 'https://schemas.test/money.json' (no resolver for "
        "'https://schemas.test/money.json')");
  auto no_anchor = JsonSchema::compile(json::parse(R"({"$ref": "#missing"})"));
  REQUIRE_FALSE(no_anchor.ok());
  CHECK(no_anchor.error().message() ==
        "schema /$ref: $ref '#missing' does not resolve (no anchor 'missing')");
}

TEST_CASE("reference cycles that never consume the instance are compile errors", "[schema]") {
  auto loop = JsonSchema::compile(json::parse(R"({
    "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}},
    "$ref": "#/$defs/a"})"));
  REQUIRE_FALSE(loop.ok());
  CHECK(loop.error().message().find("reference cycle that never consumes the instance") !=
        std::string::npos);
  CHECK(loop.error().message().find("/$defs/a") != std::string::npos);
  auto self = JsonSchema::compile(json::parse(R"({"anyOf": [{"type": "string"}, {"$ref": "#"}]})"));
  REQUIRE_FALSE(self.ok());
  // Recursion through properties or items consumes the instance and is fine.
  auto list = compile(json::parse(R"({"properties": {"next": {"$ref": "#"}}})"));
  CHECK(list.accepts(json::parse(R"({"next": {"next": {}}})")));
}

TEST_CASE("limits: nesting, node count, documents and evaluations", "[schema]") {
  json deep = json::object();
  for (int i = 0; i < 200; ++i)
    deep = {{"not", deep}};
  auto nested = JsonSchema::compile(deep);
  REQUIRE_FALSE(nested.ok());
  CHECK(nested.error().message().find("schema nested deeper than 128 levels") != std::string::npos);

  rein::JsonSchemaOptions small;
  small.max_nodes = 3;
  auto many = JsonSchema::compile(json::parse(R"({"allOf": [true, true, true, true]})"), small);
  REQUIRE_FALSE(many.ok());
  CHECK(many.error().message() == "schema /allOf/2: more than 3 subschemas (max_nodes)");

  rein::JsonSchemaOptions endless;
  int served = 0;
  endless.max_documents = 4;
  endless.resolver = [&](const std::string&) -> std::optional<json> {
    ++served;
    return json{{"$ref", "doc" + std::to_string(served + 1) + ".json"}};
  };
  auto chain = JsonSchema::compile(
      json::parse(R"({"$id": "https://x.test/doc0.json", "$ref": "doc1.json"})"), endless);
  REQUIRE_FALSE(chain.ok());
  CHECK(chain.error().message().find("(max_documents)") != std::string::npos);
  CHECK(served <= 5);

  // Each level doubles the work of the one below: 2^40 evaluations unless bounded.
  json defs = json::object();
  defs["d0"] = {{"type", "integer"}};
  for (int i = 1; i <= 40; ++i) {
    const std::string below = "#/$defs/d" + std::to_string(i - 1);
    defs["d" + std::to_string(i)] = {{"allOf", {{{"$ref", below}}, {{"$ref", below}}}}};
  }
  rein::JsonSchemaOptions bounded;
  bounded.max_evaluations = 100'000;
  auto bomb = compile({{"$defs", defs}, {"$ref", "#/$defs/d40"}}, bounded);
  CHECK_FALSE(bomb.accepts(1));
  auto v = bomb.validate(1);
  REQUIRE(v.size() == 1);
  CHECK(v[0].keyword == "maxEvaluations");
}

TEST_CASE("large instances stay linear: uniqueItems, properties, unevaluated", "[schema]") {
  auto s = compile(json::parse(R"({"type": "array", "uniqueItems": true,
      "items": {"type": "object", "properties": {"id": {"type": "integer"}}, "unevaluatedProperties": false}})"));
  json big = json::array();
  for (int i = 0; i < 50'000; ++i)
    big.push_back({{"id", i}});
  CHECK(s.accepts(big));
  big.push_back({{"id", 7}});
  CHECK(s.validate(big).at(0).keyword == "uniqueItems");

  auto object = compile(
      json::parse(R"({"patternProperties": {"^k": true}, "unevaluatedProperties": false})"));
  json wide = json::object();
  for (int i = 0; i < 50'000; ++i)
    wide["k" + std::to_string(i)] = i;
  CHECK(object.accepts(wide));
  // RE2 patterns run in linear time: the classic catastrophic-backtracking case is just false.
  auto redos = compile({{"pattern", "^(a+)+$"}});
  CHECK_FALSE(redos.accepts(std::string(100'000, 'a') + "!"));
}

TEST_CASE("the standard meta-schemas are built in: a schema can validate schemas", "[schema]") {
  auto meta = compile(json::parse(R"({"$ref": "https://json-schema.org/draft/2020-12/schema"})"));
  CHECK(meta.accepts(json::parse(R"({"type": "object", "properties": {"a": {"minimum": 1}}})")));
  auto v = meta.validate(json::parse(R"({"properties": {"a": {"minimum": "one"}}})"));
  REQUIRE_FALSE(v.empty());
  CHECK(v[0].pointer == "/properties/a/minimum");
  auto seven = compile(json::parse(R"({"$ref": "http://json-schema.org/draft-07/schema#"})"));
  CHECK(seven.accepts(json::parse(R"({"items": [{"type": "string"}]})")));
  CHECK_FALSE(seven.accepts(json::parse(R"({"type": "text"})")));
}

TEST_CASE("custom meta-schemas: $vocabulary decides what is enforced", "[schema]") {
  rein::JsonSchemaOptions options;
  options.resolver = [](const std::string& uri) -> std::optional<json> {
    if (uri == "https://meta.test/no-validation") {
      return json::parse(R"({"$schema": "https://json-schema.org/draft/2020-12/schema",
        "$vocabulary": {"https://json-schema.org/draft/2020-12/vocab/core": true,
                        "https://json-schema.org/draft/2020-12/vocab/applicator": true}})");
    }
    if (uri == "https://meta.test/needs-custom") {
      return json::parse(R"({"$schema": "https://json-schema.org/draft/2020-12/schema",
        "$vocabulary": {"https://json-schema.org/draft/2020-12/vocab/core": true,
                        "https://vocab.test/units": true}})");
    }
    return std::nullopt;
  };
  auto loose = compile(json::parse(R"({"$schema": "https://meta.test/no-validation",
      "properties": {"n": {"minimum": 10}, "never": false}})"),
                       options);
  CHECK(loose.accepts({{"n", 1}}));  // validation keywords are outside its vocabularies
  CHECK_FALSE(loose.accepts({{"never", 1}}));
  auto custom =
      JsonSchema::compile(json::parse(R"({"$schema": "https://meta.test/needs-custom"})"), options);
  REQUIRE_FALSE(custom.ok());
  CHECK(custom.error().message() ==
        "schema /$schema: the meta-schema requires vocabulary 'https://vocab.test/units', which "
        "rein does not know");
}
