#include "rein/budget.hpp"

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

}  // namespace rein
