// rein::IdempotencyStore: the ledger of side-effecting calls, keyed by tool and idempotency key.
//
// ToolRegistry records each successful side-effecting call under its key; a later call with
// the same tool and key returns the recorded result without running the tool again. Failed
// calls are not recorded, so they may be retried. Durable stores (SQLite) come with the runtime;
// InMemoryIdempotencyStore is the default.
//
// Thread safety: implementations must allow concurrent calls.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "rein/error.hpp"
#include "rein/tool.hpp"

namespace rein {

class IdempotencyStore {
 public:
  virtual ~IdempotencyStore() = default;
  // The recorded result; ErrorCode::not_found when none is recorded under (tool, key), any
  // other error only when the store itself failed. is_not_found() tells the two apart.
  virtual Result<ToolResult> find(std::string_view tool, std::string_view key) = 0;
  // Records a successful result; recording a key twice keeps the first result.
  virtual Status record(std::string_view tool, std::string_view key, const ToolResult& result) = 0;
};

class InMemoryIdempotencyStore final : public IdempotencyStore {
 public:
  Result<ToolResult> find(std::string_view tool, std::string_view key) override;
  Status record(std::string_view tool, std::string_view key, const ToolResult& result) override;
  std::size_t size() const;

 private:
  static std::string slot(std::string_view tool, std::string_view key);
  mutable std::mutex mutex_;
  std::unordered_map<std::string, ToolResult> results_;
};

}  // namespace rein
