// The not_found errors of the stores' lookups, worded alike by every store: RunStore::load,
// RunStore::find_outcome and IdempotencyStore::find report absence this way (see error.hpp's
// is_not_found). Built only on the not-found path; a found value costs nothing more.
#pragma once

#include <string>
#include <string_view>

#include "rein/error.hpp"

namespace rein::detail {

inline Error no_run(std::string_view run_id) {
  return Error(ErrorCode::not_found, "no run '" + std::string(run_id) + "'");
}

inline Error no_outcome(std::string_view run_id, std::string_view step_id, int attempt) {
  return Error(ErrorCode::not_found, "no outcome journaled for run '" + std::string(run_id) +
                                         "' step '" + std::string(step_id) + "' attempt " +
                                         std::to_string(attempt));
}

inline Error no_idempotency_record(std::string_view tool, std::string_view key) {
  return Error(ErrorCode::not_found, "no result of tool '" + std::string(tool) +
                                         "' recorded under idempotency key '" + std::string(key) +
                                         "'");
}

}  // namespace rein::detail
