// Registers a tool, writes a policy, authorizes and invokes a call: the smallest real use; and
// checks that the build options the consumer sees are the library's.
#include <cstdio>

#include <rein/rein.hpp>

int main() {
  rein::ToolRegistry tools;
  rein::ToolSpec spec;
  spec.name = "math.double";
  spec.description = "Doubles a number";
  spec.input_schema = {
      {"type", "object"}, {"properties", {{"x", {{"type", "number"}}}}}, {"required", {"x"}}};
  auto registered = tools.register_tool(spec, [](const nlohmann::json& args, rein::ToolContext&) {
    return rein::ToolResult::success({{"y", args["x"].get<double>() * 2}});
  });
  if (!registered) return 1;

  auto policy = rein::PolicyEngine::from_json(
      {{"rules", {{{"id", "math"}, {"decision", "allow"}, {"tool_glob", "math.*"}}}}});
  if (!policy) return 2;
  const nlohmann::json args = {{"x", 21}};
  auto decision = policy->decide(spec, args, rein::Principal{"me", {}}, rein::Usage{});
  if (!decision.allowed()) return 3;
  auto result = tools.invoke("math.double", args);
  if (!result.ok() || result.data["y"] != 42) return 4;

  // REIN_WITH_CURL comes from rein/config.hpp, so the consumer sees what the library was built
  // with: an OpenAiClient is created (nothing is sent yet) only when rein has libcurl.
  auto client = rein::OpenAiClient::create({.base_url = "http://127.0.0.1:9/v1"});
#if REIN_WITH_CURL
  if (!client.ok()) return 5;
#else
  if (client.ok() || client.error().code() != rein::ErrorCode::unavailable) return 5;
#endif
  std::printf("consumer ok: rein %s\n", rein::version());
  return 0;
}
