// The tools of the ledger agents that the crash tests run in child processes: reading an
// account (no side effects) and posting an amount to a ledger (side-effecting, idempotent by
// key, as a payment API is). Each child implements them against its own "external system".
#pragma once

#include <chrono>
#include <cstdint>

#include "rein/tool.hpp"

namespace rein::testing {

inline ToolSpec account_read_spec() {
  ToolSpec read;
  read.name = "accounts.read";
  read.description = "reads an account";
  read.timeout = std::chrono::milliseconds(0);
  return read;
}

inline ToolSpec ledger_post_spec() {
  ToolSpec write = account_read_spec();
  write.name = "ledger.post";
  write.description = "posts an amount to the ledger";
  write.side_effects = true;
  write.idempotency.key_required = true;
  return write;
}

// What accounts.read returns for an account: the amounts the ledger totals are checked against.
inline std::int64_t account_amount(int account) {
  return 100 * account + 7;
}

}  // namespace rein::testing
