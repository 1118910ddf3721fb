// Verify before commit: the store's invariants, checked on a plan's pending outcome.
#pragma once

#include <string>
#include <vector>

#include <rein/sql_sandbox.hpp>

namespace sunglasses {

// The plan's yield: its single result row with lower-case column names (null unless exactly one).
nlohmann::json yield_row(const rein::SqlOutcome& outcome);

// The five STATUS values a plan may yield.
bool is_known_status(const std::string& status);

// Every invariant the outcome breaks (empty: safe to commit). Checks: the plan yields one row
// with a known status and a short answer_text; a read plan, and any plan not yielding success,
// changed nothing; a successful mutation changed stock and recorded transactions; stock never
// negative; only stock levels change in inventory; transactions are only appended; each new
// transaction names exactly one item whose stock changed, and each item's transactions add up
// to unit price x the change in its stock (one row per item line, negative for returns); the
// running balance continues from the last balance, row by row.
std::vector<std::string> store_invariant_violations(const rein::SqlOutcome& outcome,
                                                    rein::SqlSandbox& sandbox);

}  // namespace sunglasses
