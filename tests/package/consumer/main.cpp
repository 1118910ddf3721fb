// Registers a tool, writes a policy, authorizes and invokes a call: the smallest real use.
#include <cstdio>

#include <rein/rein.hpp>

int main() {
  rein::ToolRegistry tools;
  rein::ToolSpec spec;
  spec.name = "math.double";
  spec.description = "Doubles a number";
  spec.input_schema = {{"type", "object"},
                       {"properties", {{"x", {{"type", "number"}}}}},
                       {"required", {"x"}}};
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
  std::printf("consumer ok: rein %s\n", rein::version());
  return 0;
}
