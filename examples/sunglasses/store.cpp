#include "store.hpp"

#include <sqlite3.h>

namespace sunglasses {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS inventory (
  item_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  quantity_in_stock INTEGER NOT NULL,
  price REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
  transaction_id TEXT PRIMARY KEY,
  customer_name TEXT NOT NULL,
  transaction_summary TEXT NOT NULL,
  transaction_amount REAL NOT NULL,
  balance_after_transaction REAL NOT NULL,
  timestamp TEXT NOT NULL
);
)sql";

// The lab's facts (SG001 Aviator 23 at $80, SG005 Classic round 10 at $60, a Wayfarer, the
// Moon round frame at $120, TXN001 opening balance $500) and a few more styles.
constexpr const char* kSeed = R"sql(
DELETE FROM inventory;
DELETE FROM transactions;
INSERT INTO inventory VALUES
  ('SG001', 'Aviator', 'Timeless pilot-style frame with teardrop lenses and a thin metal bridge', 23, 80.0),
  ('SG002', 'Wayfarer', 'Bold acetate frame with a trapezoid profile, a modern icon', 15, 95.0),
  ('SG003', 'Mystique', 'Oversized cat-eye frame with gradient lenses', 8, 70.0),
  ('SG004', 'Sport', 'Wraparound polarized frame for running and cycling', 12, 110.0),
  ('SG005', 'Classic', 'Round profile with minimalist metal frames', 10, 60.0),
  ('SG006', 'Moon', 'Round oversized frame with mirrored lenses', 5, 120.0),
  ('SG007', 'Retro Square', 'Square acetate frame inspired by the sixties', 0, 85.0),
  ('SG008', 'Navigator', 'Lightweight titanium aviator-style frame with polarized lenses', 4, 150.0);
INSERT INTO transactions VALUES
  ('TXN001', 'OPENING_BALANCE', 'Opening balance', 500.0, 500.0, '2025-10-03T09:16:59.628898');
)sql";

rein::Status exec(sqlite3* db, const char* sql, const std::string& what) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    return rein::Error(rein::ErrorCode::internal, what + ": " + text);
  }
  return {};
}

}  // namespace

rein::Status prepare_store(const std::string& path, bool reseed) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return rein::Error(rein::ErrorCode::unavailable,
                       "store: cannot open '" + path + "': " + message);
  }
  rein::Status status = exec(db, kSchema, "store: creating tables");
  if (status) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM inventory", -1, &stmt, nullptr);
    const bool empty = sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_int(stmt, 0) == 0;
    sqlite3_finalize(stmt);
    if (reseed || empty) {
      status = exec(db, "BEGIN", "store: seeding");
      if (status) status = exec(db, kSeed, "store: seeding");
      if (status) status = exec(db, "COMMIT", "store: seeding");
    }
  }
  sqlite3_close(db);
  return status;
}

rein::SqlSandboxOptions store_sandbox_options() {
  rein::SqlSandboxOptions options;
  options.tables = {{.table = "inventory", .update_columns = {"quantity_in_stock"}},
                    {.table = "transactions", .insert = true}};
  options.deadline = std::chrono::milliseconds(500);
  return options;
}

rein::Result<std::string> schema_block(rein::SqlSandbox& sandbox) {
  std::string block =
      "Table inventory(item_id TEXT PRIMARY KEY, name TEXT, description TEXT, quantity_in_stock "
      "INTEGER, "
      "price REAL)\n";
  auto items = sandbox.inspect("SELECT * FROM inventory ORDER BY item_id");
  if (!items) return items.error();
  for (const auto& row : *items)
    block += "  " + row.dump() + "\n";
  block +=
      "Table transactions(transaction_id TEXT PRIMARY KEY, customer_name TEXT, transaction_summary "
      "TEXT, "
      "transaction_amount REAL, balance_after_transaction REAL, timestamp TEXT)\n";
  auto last = sandbox.inspect("SELECT * FROM transactions ORDER BY rowid DESC LIMIT 3");
  if (!last) return last.error();
  for (const auto& row : *last)
    block += "  " + row.dump() + "\n";
  return block;
}

}  // namespace sunglasses
