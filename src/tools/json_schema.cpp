// The public face of JSON Schema: compile, validate, describe. The work is in src/schema/:
// documents (resources, anchors, references), compiler (keywords to nodes), validator, format.
#include "rein/json_schema.hpp"

#include "schema/compiler.hpp"
#include "schema/node.hpp"
#include "schema/validator.hpp"

namespace rein {

std::string describe(const std::vector<SchemaViolation>& violations) {
  std::string out;
  for (const auto& v : violations) {
    if (!out.empty()) out += "; ";
    out += v.pointer.empty() ? std::string("(root)") : v.pointer;
    out += ": ";
    out += v.message;
  }
  return out;
}

JsonSchema::JsonSchema() {
  auto impl = std::make_shared<detail::CompiledSchema>();
  impl->source = true;
  impl->nodes.emplace_back();
  impl->resources.emplace_back();
  impl->max_evaluations = JsonSchemaOptions{}.max_evaluations;
  impl_ = std::move(impl);
}

Result<JsonSchema> JsonSchema::compile(const nlohmann::json& schema) {
  return compile(schema, JsonSchemaOptions{});
}

Result<JsonSchema> JsonSchema::compile(const nlohmann::json& schema,
                                       const JsonSchemaOptions& options) {
  try {
    auto impl = std::make_shared<detail::CompiledSchema>();
    impl->source = schema;
    impl->max_evaluations = options.max_evaluations;
    if (auto status = detail::compile_schema(options, *impl); !status.ok()) {
      return std::move(status).error();
    }
    return JsonSchema(std::move(impl));
  } catch (const std::exception& e) {
    return Error(ErrorCode::invalid_argument, std::string("schema: ") + e.what());
  }
}

std::vector<SchemaViolation> JsonSchema::validate(const nlohmann::json& instance) const {
  std::vector<SchemaViolation> out;
  detail::validate_instance(*impl_, instance, &out);
  return out;
}

bool JsonSchema::accepts(const nlohmann::json& instance) const {
  return detail::validate_instance(*impl_, instance, nullptr);
}

const nlohmann::json& JsonSchema::source() const {
  return impl_->source;
}

SchemaDraft JsonSchema::draft() const {
  return impl_->draft;
}

}  // namespace rein
