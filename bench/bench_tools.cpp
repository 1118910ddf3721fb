// schema_validate_10_props: a valid 10-property object against a schema using most keywords.
// tool_invoke_noop: ToolRegistry::invoke around a tool that does nothing (input validated,
//   breaker consulted, result envelope filled), run on the caller's thread (timeout 0).
// tool_invoke_noop_timed: the same tool with a deadline, so each call is handed to a runner
//   thread and waited for: the price of being able to abandon a hung tool.
#include <memory>

#include "benchmarks.hpp"
#include "harness.hpp"
#include "rein/audit.hpp"
#include "rein/json_schema.hpp"
#include "rein/tool_registry.hpp"

namespace rein::bench {
namespace {

using nlohmann::json;

const char* kSchema = R"({
  "type": "object", "additionalProperties": false,
  "required": ["account_id", "region", "quarter", "limit"],
  "properties": {
    "account_id": {"type": "string", "pattern": "^A[0-9]{3}$"},
    "region": {"type": "string", "enum": ["east", "west", "north", "south"]},
    "quarter": {"type": "integer", "minimum": 1, "maximum": 4},
    "limit": {"type": "integer", "exclusiveMinimum": 0, "maximum": 100},
    "include_risks": {"type": "boolean"},
    "threshold": {"type": "number", "minimum": 0},
    "owner": {"type": "string", "minLength": 1, "maxLength": 64},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 8, "uniqueItems": true},
    "window": {"type": "object", "properties": {"days": {"type": "integer"}}, "required": ["days"]},
    "note": {"type": ["string", "null"]}
  }})";

const json kArgs = json::parse(R"({
  "account_id": "A100", "region": "west", "quarter": 3, "limit": 20, "include_risks": true,
  "threshold": 0.25, "owner": "Riley", "tags": ["renewal", "expansion"],
  "window": {"days": 90}, "note": null})");

std::shared_ptr<ToolRegistry> registry_with_noop(std::chrono::milliseconds timeout) {
  auto registry = std::make_shared<ToolRegistry>();
  ToolSpec spec;
  spec.name = "bench.noop";
  spec.description = "does nothing";
  spec.input_schema = json::parse(R"({"type": "object",
      "properties": {"account_id": {"type": "string"}}, "required": ["account_id"]})");
  spec.timeout = timeout;
  if (!registry->register_tool(spec, [](const json&, ToolContext&) { return ToolResult{}; })) {
    std::abort();
  }
  return registry;
}

}  // namespace

json tool_schema_10_props() {
  return json::parse(kSchema);
}
json tool_args_10_props() {
  return kArgs;
}

void add_tool_benchmarks(std::vector<Benchmark>& out) {
  auto schema = std::make_shared<JsonSchema>(*JsonSchema::compile(json::parse(kSchema)));
  if (!schema->accepts(kArgs)) std::abort();
  out.push_back({"schema_validate_10_props", [schema] {
                   bool ok = schema->accepts(kArgs);
                   keep(ok);
                 }});

  const auto args = std::make_shared<json>(json{{"account_id", "A100"}});
  auto inline_registry = registry_with_noop(std::chrono::milliseconds(0));
  out.push_back({"tool_invoke_noop", [inline_registry, args] {
                   auto r = inline_registry->invoke("bench.noop", *args);
                   keep(r);
                 }});
  auto timed_registry = registry_with_noop(std::chrono::milliseconds(30'000));
  out.push_back({"tool_invoke_noop_timed", [timed_registry, args] {
                   auto r = timed_registry->invoke("bench.noop", *args);
                   keep(r);
                 }});
}

}  // namespace rein::bench

namespace rein::bench {
// audit_append: one hash-chained audit entry with a 300-byte payload (what a tool call writes).
void add_audit_benchmarks(std::vector<Benchmark>& out) {
  const std::string payload =
      "{\"args\":{\"account_id\":\"A100\"},\"attempts\":1,\"data\":{\"current_mrr\":12480,"
      "\"series\":[1,2,3,4,5,6,7,8,9,10]},\"duration_us\":12,\"errors\":[],\"evidence\":"
      "[{\"type\":\"source\",\"uri\":\"billing://mrr/A100\"}],\"executed\":true,"
      "\"idempotency_key\":\"\",\"replayed\":false,\"status\":\"ok\",\"step\":\"mrr\","
      "\"tool\":\"billing.mrr\"}";
  auto head = std::make_shared<std::string>();
  auto seq = std::make_shared<std::int64_t>(0);
  out.push_back({"audit_append", [payload, head, seq] {
                   auto e = make_audit_entry("run-bench", (*seq)++, *head, 3, "tool_call", payload,
                                             1'700'000'000'000);
                   *head = e.hash;
                   keep(e);
                 }});
}
}  // namespace rein::bench
