// Fuzz target: the JSON plan parser (both forms), against a catalog of tools with schemas and a
// run with earlier steps. Every answer must end in a plan or an Error naming the problem.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "rein/json_plan_planner.hpp"

namespace {

const rein::ToolRegistry& catalog() {
  static rein::ToolRegistry* tools = [] {
    auto* r = new rein::ToolRegistry();
    auto noop = [](const nlohmann::json&, rein::ToolContext&) {
      return rein::ToolResult::success(nullptr);
    };
    rein::ToolSpec search;
    search.name = "crm.search";
    search.description = "find accounts";
    search.input_schema = {{"type", "object"},
                           {"properties",
                            {{"region", {{"type", "string"}, {"enum", {"east", "west"}}}},
                             {"limit", {{"type", "integer"}, {"minimum", 1}}}}},
                           {"required", {"region"}},
                           {"additionalProperties", false}};
    (void)r->register_tool(search, noop);
    rein::ToolSpec mrr;
    mrr.name = "billing.mrr";
    mrr.description = "MRR of an account";
    mrr.input_schema = {
        {"type", "object"},
        {"properties", {{"account_id", {{"type", "string"}, {"pattern", "^A[0-9]+$"}}}}},
        {"required", {"account_id"}}};
    (void)r->register_tool(mrr, noop);
    return r;
  }();
  return *tools;
}

const rein::AgentState& state() {
  static const rein::AgentState s = [] {
    rein::AgentState st;
    rein::StepState done;
    done.step = {"s0", "crm.search", {{"region", "west"}}, {}, ""};
    done.status = rein::StepStatus::succeeded;
    st.steps.push_back(done);
    return st;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto plan = rein::parse_json_plan(text, catalog(), state());
  if (plan.ok() && plan->kind == rein::PlanDecision::Kind::steps) {
    // A plan that parsed must also pass the runtime's own check.
    if (!rein::validate_plan(plan->steps, state()).ok()) __builtin_trap();
  }
  // The plan-then-execute form: references in arguments, a final answer next to the steps.
  auto planned = rein::parse_json_plan_then_execute(text, catalog(), state());
  if (planned.ok() && planned->kind == rein::PlanDecision::Kind::steps) {
    if (!planned->from_request_only) __builtin_trap();
    if (!rein::validate_plan(planned->steps, state()).ok()) __builtin_trap();
  }
  return 0;
}
