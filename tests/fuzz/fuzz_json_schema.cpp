// Fuzz target: JsonSchema compile + validate on hostile schemas and instances.
//
// Input: one flag byte, then a schema and an instance (JSON texts) separated by a line "---".
// Flags: bit 0 draft-07 by default, bit 1 format assertion, bit 2 unknown keywords ignored.
// Every input must end in an Error or a verdict, without crashing or hanging, and accepts()
// must agree with validate().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rein/json_schema.hpp"

namespace {

// One remote document, so references through the resolver are exercised too.
std::optional<nlohmann::json> resolve(const std::string& uri) {
  if (uri != "https://fuzz.test/remote.json") return std::nullopt;
  return nlohmann::json::parse(R"({"$defs": {"n": {"type": "integer", "minimum": 0},
      "tree": {"$dynamicAnchor": "node", "properties": {"kids": {"items": {"$dynamicRef": "#node"}}}}}})");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned flags = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto split = text.find("\n---\n");
  const std::string_view schema_text = text.substr(0, split);
  const std::string_view instance_text =
      split == std::string_view::npos ? "null" : text.substr(split + 5);

  const auto schema = nlohmann::json::parse(schema_text, nullptr, false);
  const auto instance = nlohmann::json::parse(instance_text, nullptr, false);
  if (schema.is_discarded() || instance.is_discarded()) return 0;

  rein::JsonSchemaOptions options;
  options.default_draft =
      (flags & 1u) != 0 ? rein::SchemaDraft::draft7 : rein::SchemaDraft::draft2020_12;
  options.format = (flags & 2u) != 0 ? rein::FormatMode::assertion : rein::FormatMode::annotation;
  options.unknown_keywords =
      (flags & 4u) != 0 ? rein::UnknownKeywords::ignore : rein::UnknownKeywords::reject;
  options.resolver = resolve;
  options.max_evaluations = 200'000;  // keeps each run short; the limit itself is under test
  auto compiled = rein::JsonSchema::compile(schema, options);
  if (!compiled) {
    if (compiled.error().message().empty()) __builtin_trap();
    return 0;
  }
  const bool accepted = compiled->accepts(instance);
  const auto violations = compiled->validate(instance);
  for (const auto& v : violations) {
    if (v.keyword == "maxEvaluations") return 0;  // both stopped early, at different points
  }
  if (accepted != violations.empty()) __builtin_trap();
  return 0;
}
