// JSON Schema applicators (anyOf, oneOf, not, if/then/else, dependent*, contains, unevaluated*),
// schema locations of violations, formats and draft-07's forms.
#include <catch2/catch.hpp>

#include "json_schema_test_support.hpp"
#include "rein/json_schema.hpp"

using nlohmann::json;
using rein::JsonSchema;

namespace {
JsonSchema compile(const json& s, const rein::JsonSchemaOptions& options = {}) {
  return rein::testing::compile_schema(s, options);
}
std::vector<std::string> located(const std::vector<rein::SchemaViolation>& v) {
  std::vector<std::string> out;
  for (const auto& x : v)
    out.push_back(x.pointer + " " + x.keyword_location);
  return out;
}
}  // namespace

TEST_CASE("Pydantic-style optional fields: anyOf with null", "[schema]") {
  auto s = compile(json::parse(R"({
    "type": "object",
    "properties": {"note": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}],
                            "default": null}}})"));
  CHECK(s.accepts({{"note", nullptr}}));
  CHECK(s.accepts({{"note", "abc"}}));
  auto v = s.validate({{"note", "abcd"}});
  REQUIRE(v.size() == 1);
  CHECK(v[0].pointer == "/note");
  CHECK(v[0].keyword == "anyOf");
  CHECK(v[0].keyword_location == "/properties/note/anyOf");
  CHECK(v[0].message ==
        "does not match any of the 2 alternatives: /note: must be at most 3 characters long, is 4; "
        "/note: expected null, got string");
  CHECK_FALSE(s.accepts({{"note", 1}}));
}

TEST_CASE("oneOf needs exactly one match, not inverts", "[schema]") {
  auto s = compile(json::parse(R"({"oneOf": [{"type": "integer"}, {"minimum": 2}]})"));
  CHECK(s.accepts(1));
  CHECK(s.accepts(2.5));
  auto v = s.validate(3);
  REQUIRE(v.size() == 1);
  CHECK(v[0].message == "matches alternatives 0 and 1; exactly one must match");
  CHECK_FALSE(s.accepts(1.5));

  auto n = compile(json::parse(R"({"not": {"type": "string"}})"));
  CHECK(n.accepts(1));
  auto nv = n.validate("x");
  REQUIRE(nv.size() == 1);
  CHECK(nv[0].keyword == "not");
  CHECK(nv[0].keyword_location == "/not");
}

TEST_CASE("violations carry the schema location through $ref", "[schema]") {
  auto s = compile(json::parse(R"({
    "$defs": {"count": {"type": "integer", "minimum": 0}},
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/count"}},
                   "when": {"if": {"type": "string"}, "then": {"minLength": 2}, "else": {"const": 0}}}})"));
  auto v = s.validate(json::parse(R"({"items": [1, -1], "when": "x"})"));
  CHECK(located(v) == std::vector<std::string>{"/items/1 /properties/items/items/$ref/minimum",
                                               "/when /properties/when/then/minLength"});
  CHECK(located(s.validate({{"when", 5}})) ==
        std::vector<std::string>{"/when /properties/when/else/const"});
}

TEST_CASE("object applicators: patternProperties, propertyNames, dependencies, counts",
          "[schema]") {
  auto s = compile(json::parse(R"({
    "patternProperties": {"^x-": {"type": "string"}},
    "additionalProperties": {"type": "integer"},
    "propertyNames": {"maxLength": 5},
    "dependentRequired": {"card": ["billing"]},
    "dependentSchemas": {"vip": {"required": ["tier"]}},
    "minProperties": 1, "maxProperties": 4})"));
  CHECK(s.accepts({{"x-a", "s"}, {"n", 1}}));
  CHECK_FALSE(s.accepts({{"x-a", 1}}));
  CHECK_FALSE(s.accepts({{"n", "s"}}));
  CHECK_FALSE(s.accepts(json::object()));
  auto names = s.validate({{"toolong", 1}});
  REQUIRE(names.size() == 1);
  CHECK(names[0].keyword == "propertyNames");
  CHECK(names[0].message.rfind("property name 'toolong' is invalid: ", 0) == 0);
  auto dep = s.validate({{"card", 1}});
  REQUIRE(dep.size() == 1);
  CHECK(dep[0].pointer == "/billing");
  CHECK(dep[0].message == "property 'billing' is required when 'card' is present");
  CHECK_FALSE(s.accepts({{"vip", 1}}));
  CHECK(s.accepts({{"vip", 1}, {"tier", 2}}));
}

TEST_CASE("array applicators: prefixItems, items, contains with bounds", "[schema]") {
  auto tuple = compile(json::parse(R"({"prefixItems": [{"type": "string"}, {"type": "integer"}],
                                       "items": false})"));
  CHECK(tuple.accepts(json::parse(R"(["a", 1])")));
  CHECK(tuple.accepts(json::parse(R"(["a"])")));
  auto extra = tuple.validate(json::parse(R"(["a", 1, 2])"));
  REQUIRE(extra.size() == 1);
  CHECK(extra[0].keyword == "items");
  CHECK(extra[0].message == "must have at most 2 items, has 3");

  auto contains =
      compile(json::parse(R"({"contains": {"const": 1}, "minContains": 2, "maxContains": 3})"));
  CHECK(contains.accepts(json::parse("[1, 1, 2]")));
  CHECK_FALSE(contains.accepts(json::parse("[1, 2]")));
  CHECK_FALSE(contains.accepts(json::parse("[1, 1, 1, 1]")));
  CHECK(contains.validate(json::parse("[1]"))[0].keyword == "minContains");
  CHECK(compile(json::parse(R"({"contains": true, "minContains": 0})")).accepts(json::array()));
}

TEST_CASE("unevaluatedProperties sees through allOf, $ref and passing branches only", "[schema]") {
  auto s = compile(json::parse(R"({
    "$defs": {"named": {"properties": {"name": {"type": "string"}}}},
    "allOf": [{"$ref": "#/$defs/named"}],
    "anyOf": [{"properties": {"a": true}}, {"properties": {"b": {"type": "integer"}}, "required": ["b"]}],
    "unevaluatedProperties": false})"));
  CHECK(s.accepts({{"name", "x"}, {"a", 1}}));
  CHECK(s.accepts({{"a", 1}, {"b", 2}}));
  auto v = s.validate({{"a", 1}, {"extra", 1}});
  REQUIRE(v.size() == 1);
  CHECK(v[0].pointer == "/extra");
  CHECK(v[0].keyword_location == "/unevaluatedProperties");
  // The second branch fails on "b", so its look at "b" does not count as evaluating it.
  auto failed_branch = s.validate({{"b", "text"}});
  REQUIRE(failed_branch.size() == 1);
  CHECK(failed_branch[0].pointer == "/b");
  CHECK(failed_branch[0].message == "property 'b' is not allowed");

  auto items = compile(json::parse(R"({"prefixItems": [true], "contains": {"type": "string"},
                                       "unevaluatedItems": {"type": "integer"}})"));
  CHECK(items.accepts(json::parse(R"([null, "s", 3])")));
  CHECK_FALSE(items.accepts(json::parse(R"([null, "s", 3.5])")));
}

TEST_CASE("if/then/else and multipleOf with decimal steps", "[schema]") {
  auto s = compile(json::parse(
      R"({"if": {"minimum": 10}, "then": {"multipleOf": 5}, "else": {"multipleOf": 0.0001}})"));
  CHECK(s.accepts(15));
  CHECK_FALSE(s.accepts(12));
  CHECK(s.accepts(0.0075));
  CHECK_FALSE(s.accepts(0.00751));
}

TEST_CASE("format is an annotation unless the host asks for assertions", "[schema]") {
  const json schema = {{"type", "string"}, {"format", "date-time"}};
  CHECK(compile(schema).accepts("yesterday"));
  rein::JsonSchemaOptions assert_formats;
  assert_formats.format = rein::FormatMode::assertion;
  auto strict = compile(schema, assert_formats);
  CHECK(strict.accepts("2024-02-29T12:00:00Z"));
  CHECK_FALSE(strict.accepts("2023-02-29T12:00:00Z"));
  auto v = strict.validate("yesterday");
  REQUIRE(v.size() == 1);
  CHECK(v[0].keyword == "format");
  CHECK(v[0].message == "is not a valid date-time");
  struct Case {
    const char* format;
    const char* good;
    const char* bad;
  };
  for (const Case& c :
       std::vector<Case>{{"email", "a.b@example.com", "a..b@example.com"},
                         {"ipv4", "192.168.0.1", "192.168.0.01"},
                         {"ipv6", "::ffff:192.168.0.1", "1:::2"},
                         {"uuid", "2eb8aa08-aa98-11ea-b4aa-73b441d16380", "2eb8aa08aa98"},
                         {"uri", "https://x.test/a?b#c", "//x.test/a"},
                         {"duration", "P1DT2H", "PT"},
                         {"hostname", "api.example.com", "-bad.example.com"},
                         {"json-pointer", "/a~1b", "/a~2"},
                         {"regex", "^[a-z]+$", "(unclosed"}}) {
    INFO(c.format);
    auto f = compile({{"format", c.format}}, assert_formats);
    CHECK(f.accepts(c.good));
    CHECK_FALSE(f.accepts(c.bad));
    CHECK(f.accepts(42));  // formats constrain strings only
  }
  // A format rein does not know stays an annotation even when asserting.
  CHECK(compile({{"format", "x-custom"}}, assert_formats).accepts("anything"));
}

TEST_CASE("draft-07: chosen by $schema or by default_draft", "[schema]") {
  auto s = compile(json::parse(R"({"$schema": "http://json-schema.org/draft-07/schema#",
    "definitions": {"s": {"type": "string"}},
    "items": [{"$ref": "#/definitions/s", "type": "integer"}], "additionalItems": false,
    "dependencies": {"a": ["b"], "c": {"required": ["d"]}}})"));
  CHECK(s.draft() == rein::SchemaDraft::draft7);
  CHECK(s.accepts(json::parse(R"(["x"])")));  // $ref overrides its sibling "type"
  CHECK_FALSE(s.accepts(json::parse(R"(["x", 1])")));
  CHECK(s.validate(json::parse(R"(["x", 1])"))[0].keyword == "additionalItems");
  CHECK_FALSE(s.accepts({{"a", 1}}));
  CHECK_FALSE(s.accepts({{"c", 1}}));
  CHECK(s.accepts({{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}}));

  rein::JsonSchemaOptions seven;
  seven.default_draft = rein::SchemaDraft::draft7;
  auto implicit = compile(json::parse(R"({"items": [{"type": "string"}]})"), seven);
  CHECK(implicit.draft() == rein::SchemaDraft::draft7);
  CHECK(implicit.accepts(json::parse(R"(["a", 2])")));
  CHECK_FALSE(implicit.accepts(json::parse("[2]")));
}

TEST_CASE("patterns: ECMA-262 property names map onto RE2, unsupported syntax is refused",
          "[schema]") {
  auto letters = compile({{"pattern", "^\\p{Letter}+$"}});
  CHECK(letters.accepts("héllo"));
  CHECK_FALSE(letters.accepts("h3llo"));
  auto greek = compile({{"pattern", "^\\p{Script=Greek}+$"}});
  CHECK(greek.accepts("αβγ"));
  CHECK_FALSE(greek.accepts("abc"));
  for (const char* unsupported : {"(a)\\1", "a(?=b)", "(?<!x)y"}) {
    INFO(unsupported);
    auto r = JsonSchema::compile({{"pattern", unsupported}});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().rfind("schema /pattern: invalid pattern:", 0) == 0);
  }
  auto properties = JsonSchema::compile({{"patternProperties", {{"(x)\\1", true}}}});
  REQUIRE_FALSE(properties.ok());
  CHECK(properties.error().message().rfind("schema /patternProperties/(x)\\1: invalid pattern:",
                                           0) == 0);
}

TEST_CASE("hostname checks IDNA A-labels, regex checks ECMA-262 syntax", "[schema]") {
  rein::JsonSchemaOptions assert_formats;
  assert_formats.format = rein::FormatMode::assertion;
  auto host = compile({{"format", "hostname"}}, assert_formats);
  CHECK(host.accepts("xn--9n2bp8q.xn--9t4b11yi5a"));  // example.test in Hangul
  CHECK_FALSE(host.accepts("xn--X"));                 // not punycode
  CHECK_FALSE(host.accepts("xn--l-fda"));             // a MIDDLE DOT without 'l' on both sides
  auto idn = compile({{"format", "idn-hostname"}}, assert_formats);
  CHECK(idn.accepts("실례.테스트"));
  CHECK_FALSE(idn.accepts("〮실례.테스트"));  // U+302E is disallowed
  CHECK_FALSE(idn.accepts("0a.א"));           // bidi rule: a digit-first label in an RTL name

  auto regex = compile({{"format", "regex"}}, assert_formats);
  CHECK(regex.accepts("(?<year>\\d{4})-\\k<year>"));  // valid ECMA-262, though RE2 would refuse it
  CHECK(regex.accepts("(?<=a+)b"));
  CHECK_FALSE(regex.accepts("(?P<name>x)"));  // Python syntax
  CHECK_FALSE(regex.accepts("(?i)abc"));
  CHECK_FALSE(regex.accepts("\\a"));
}

TEST_CASE("patterns keep ECMA-262's meaning of \\s and \\cX", "[schema]") {
  auto space = compile({{"pattern", "^\\s$"}});
  CHECK(space.accepts("\xc2\xa0"));  // NO-BREAK SPACE is white space in ECMA-262
  CHECK(space.accepts("\t"));
  CHECK_FALSE(space.accepts("x"));
  auto control = compile({{"pattern", "^\\cJ$"}});
  CHECK(control.accepts("\n"));
  auto escaped = compile({{"pattern", "^\\u00e9\\u{1F600}$"}});
  CHECK(escaped.accepts("é😀"));
  CHECK_FALSE(escaped.accepts("e😀"));
}

TEST_CASE("draft 2020-12 also reads draft-07's dependencies", "[schema]") {
  auto s = compile(json::parse(R"({"dependencies": {"a": ["b"], "c": {"required": ["d"]}}})"));
  CHECK_FALSE(s.accepts({{"a", 1}}));
  CHECK(s.accepts({{"a", 1}, {"b", 2}}));
  CHECK_FALSE(s.accepts({{"c", 1}}));
  CHECK(s.validate({{"a", 1}})[0].keyword == "dependencies");
}
