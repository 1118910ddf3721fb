#include "rein/budget.hpp"

#include <algorithm>
#include <vector>

namespace rein {

void Usage::record_call(std::string_view tool, std::int64_t at_millis,
                        std::chrono::milliseconds keep_window) {
  ++tool_calls;
  auto it = per_tool.find(tool);
  if (it == per_tool.end()) it = per_tool.emplace(std::string(tool), ToolUsage{}).first;
  ToolUsage& u = it->second;
  ++u.calls;
  if (keep_window.count() > 0) {
    const auto cutoff = at_millis - keep_window.count();
    std::erase_if(u.recent_call_millis, [cutoff](std::int64_t t) { return t <= cutoff; });
    u.recent_call_millis.push_back(at_millis);
  }
}

void Usage::add(const Spend& spent) {
  steps += spent.steps;
  tool_calls += spent.tool_calls;
  tokens += spent.tokens;
  cost += spent.cost;
}

namespace {
template <typename T>
std::optional<T> lower(const std::optional<T>& a, const std::optional<T>& b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}
}  // namespace

Budgets tighter(const Budgets& a, const Budgets& b) {
  Budgets out;
  out.max_steps = lower(a.max_steps, b.max_steps);
  out.max_tool_calls = lower(a.max_tool_calls, b.max_tool_calls);
  out.max_tokens = lower(a.max_tokens, b.max_tokens);
  out.max_cost = lower(a.max_cost, b.max_cost);
  out.max_wall_time = lower(a.max_wall_time, b.max_wall_time);
  out.max_tool_calls_per_tool = a.max_tool_calls_per_tool;
  for (const auto& [tool, max] : b.max_tool_calls_per_tool) {
    auto [it, added] = out.max_tool_calls_per_tool.emplace(tool, max);
    if (!added) it->second = std::min(it->second, max);
  }
  return out;
}

Budgets remaining(const Budgets& b, const Usage& u, std::size_t shares,
                  std::chrono::milliseconds elapsed) {
  const auto n = static_cast<std::int64_t>(std::max<std::size_t>(shares, 1));
  auto left = [n](std::int64_t max, std::int64_t used) {
    return std::max<std::int64_t>(0, max - used) / n;
  };
  Budgets out;
  if (b.max_steps) out.max_steps = left(*b.max_steps, u.steps);
  if (b.max_tool_calls) out.max_tool_calls = left(*b.max_tool_calls, u.tool_calls);
  if (b.max_tokens) out.max_tokens = left(*b.max_tokens, u.tokens);
  if (b.max_cost) out.max_cost = std::max(0.0, *b.max_cost - u.cost) / static_cast<double>(n);
  if (b.max_wall_time) {
    out.max_wall_time =
        std::max(std::chrono::milliseconds(0), *b.max_wall_time - u.wall_time - elapsed);
  }
  return out;
}

}  // namespace rein
