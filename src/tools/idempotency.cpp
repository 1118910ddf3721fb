#include "rein/idempotency.hpp"

#include "core/not_found.hpp"

namespace rein {

std::string InMemoryIdempotencyStore::slot(std::string_view tool, std::string_view key) {
  std::string s;
  s.reserve(tool.size() + key.size() + 1);
  s.append(tool).push_back('\0');  // tool names cannot contain NUL, so slots never collide
  s.append(key);
  return s;
}

Result<ToolResult> InMemoryIdempotencyStore::find(std::string_view tool, std::string_view key) {
  std::lock_guard lock(mutex_);
  auto it = results_.find(slot(tool, key));
  if (it == results_.end()) return detail::no_idempotency_record(tool, key);
  return it->second;
}

Status InMemoryIdempotencyStore::record(std::string_view tool, std::string_view key,
                                        const ToolResult& result) {
  std::lock_guard lock(mutex_);
  results_.try_emplace(slot(tool, key), result);
  return {};
}

std::size_t InMemoryIdempotencyStore::size() const {
  std::lock_guard lock(mutex_);
  return results_.size();
}

}  // namespace rein
