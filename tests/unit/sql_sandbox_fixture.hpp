// Shared pieces for the SqlSandbox tests: a small store and plan shorthands.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "rein/env.hpp"
#include "rein/sql_sandbox.hpp"

namespace rein::testing {

struct Db {
  std::filesystem::path path;
  Db() {
    path = std::filesystem::temp_directory_path() / (rein::Env::system().new_id("sandbox") + ".db");
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(
                db,
                "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL);"
                "INSERT INTO items VALUES (1, 'a', 5, 10.0), (2, 'b', 0, 20.0);"
                "CREATE TABLE log(id INTEGER PRIMARY KEY, note TEXT);"
                "CREATE TABLE secrets(k TEXT PRIMARY KEY, v TEXT); INSERT INTO secrets VALUES "
                "('key', 'hunter2');"
                "CREATE TABLE nokey(x INTEGER);",
                nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  ~Db() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
  std::unique_ptr<rein::SqlSandbox> open(rein::SqlSandboxOptions options = {}) {
    if (options.tables.empty()) {
      options.tables = {{.table = "items", .update_columns = {"qty"}},
                        {.table = "log", .insert = true}};
    }
    auto sandbox = rein::SqlSandbox::open(path.string(), std::move(options));
    REQUIRE(sandbox.ok());
    return std::move(sandbox).value();
  }
};

inline rein::SqlPlan read(std::string sql) {
  return {rein::SqlIntent::read, std::move(sql)};
}
inline rein::SqlPlan mutate(std::string sql) {
  return {rein::SqlIntent::mutate, std::move(sql)};
}

}  // namespace rein::testing
