// The sunglasses store's database: the lab's inventory and transactions tables, and its seed.
#pragma once

#include <string>

#include <rein/error.hpp>
#include <rein/sql_sandbox.hpp>

namespace sunglasses {

// Creates the tables when missing and, when `reseed` or the database is new, restores the
// lab's seed: eight styles and the opening balance TXN001 of $500.
rein::Status prepare_store(const std::string& path, bool reseed);

// What plans may do: read both tables, insert transactions, update stock levels. Nothing else.
rein::SqlSandboxOptions store_sandbox_options();

// The schema block shown to the model: tables, columns, types and the current rows.
rein::Result<std::string> schema_block(rein::SqlSandbox& sandbox);

}  // namespace sunglasses
