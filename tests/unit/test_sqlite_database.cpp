// The SQLite helper every store uses: error codes, guards and statements.
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "rein/env.hpp"
#include "sqlite/database.hpp"

namespace {

using rein::ErrorCode;
using rein::sqlite::Database;
using rein::sqlite::ResetOnExit;
using rein::sqlite::Savepoint;
using rein::sqlite::SqlFrom;
using rein::sqlite::Statement;
using rein::sqlite::Transaction;

struct TempFile {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / (rein::Env::system().new_id("sqlite-db") + ".db");
  ~TempFile() {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      std::filesystem::remove(path.string() + suffix, ignored);
  }
};

Database open_db(const std::filesystem::path& path, std::chrono::milliseconds busy = {}) {
  auto db = Database::open(path, {.busy_timeout = busy}, "test db");
  REQUIRE(db.ok());
  return std::move(db).value();
}

std::int64_t count(Database& db, const char* table = "t") {
  Statement q;
  REQUIRE(q.prepare(db, std::string("SELECT count(*) FROM ") + table).ok());
  auto row = q.step();
  REQUIRE(row.ok());
  REQUIRE(*row);
  return q.integer(0);
}

}  // namespace

TEST_CASE("sqlite error codes: one table", "[sqlite]") {
  using rein::sqlite::error_code;
  CHECK(error_code(SQLITE_BUSY) == ErrorCode::unavailable);
  CHECK(error_code(SQLITE_BUSY_SNAPSHOT) == ErrorCode::unavailable);  // extended codes too
  CHECK(error_code(SQLITE_LOCKED) == ErrorCode::unavailable);
  CHECK(error_code(SQLITE_FULL) == ErrorCode::unavailable);
  CHECK(error_code(SQLITE_IOERR_FSYNC) == ErrorCode::unavailable);
  CHECK(error_code(SQLITE_CORRUPT) == ErrorCode::data_loss);
  CHECK(error_code(SQLITE_NOTADB) == ErrorCode::data_loss);
  CHECK(error_code(SQLITE_CONSTRAINT_PRIMARYKEY) == ErrorCode::invalid_argument);
  CHECK(error_code(SQLITE_TOOBIG) == ErrorCode::budget_exhausted);
  CHECK(error_code(SQLITE_INTERRUPT) == ErrorCode::cancelled);
  CHECK(error_code(SQLITE_AUTH) == ErrorCode::permission_denied);
  CHECK(error_code(SQLITE_ERROR) == ErrorCode::internal);
  CHECK(error_code(SQLITE_ERROR, SqlFrom::caller) == ErrorCode::invalid_argument);
  CHECK(error_code(SQLITE_MISUSE, SqlFrom::caller) == ErrorCode::internal);
  CHECK(error_code(SQLITE_RANGE) == ErrorCode::internal);
}

TEST_CASE("sqlite: a write lock held by another connection is unavailable", "[sqlite]") {
  TempFile file;
  auto first = open_db(file.path);
  auto second = open_db(file.path);  // busy timeout 0: fails at once
  REQUIRE(first.exec("CREATE TABLE t(id INTEGER PRIMARY KEY)", "creating t").ok());
  Transaction holding(first);
  REQUIRE(holding.begin().ok());
  Transaction waiting(second);
  auto s = waiting.begin();
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::unavailable);
  CHECK(s.error().message() == "running 'BEGIN IMMEDIATE': database is locked");
  Statement insert;
  REQUIRE(insert.prepare(second, "INSERT INTO t VALUES (1)", "inserting a row").ok());
  auto r = insert.run();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::unavailable);
  CHECK(r.error().message() == "running inserting a row: database is locked");
  REQUIRE(holding.commit().ok());
  CHECK(insert.run().ok());  // the same statement, once the lock is gone
}

TEST_CASE("sqlite: a constraint violation is invalid_argument, naming the statement", "[sqlite]") {
  TempFile file;
  auto db = open_db(file.path);
  REQUIRE(db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL)", "creating t").ok());
  Statement insert;
  REQUIRE(insert.prepare(db, "INSERT INTO t(id, v) VALUES (?1, ?2)").ok());
  REQUIRE(insert.bind(1, 1).bind(2, "a").run().ok());
  auto duplicate = insert.bind(1, 1).bind(2, "b").run();
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().code() == ErrorCode::invalid_argument);
  CHECK(duplicate.error().message() ==
        "running 'INSERT INTO t(id, v) VALUES (?1, ?2)': UNIQUE constraint failed: t.id");
  auto null = insert.bind(1, 2).bind_null(2).run();
  REQUIRE_FALSE(null.ok());
  CHECK(null.error().code() == ErrorCode::invalid_argument);
  // An empty string_view (even one with no data) binds as text, never as NULL.
  CHECK(insert.bind(1, 3).bind(2, std::string_view()).run().ok());
  Statement read;
  REQUIRE(read.prepare(db, "SELECT typeof(v) FROM t WHERE id = 3").ok());
  REQUIRE(*read.step());
  CHECK(read.text(0) == "text");
  // exec() maps the same failure the same way.
  auto exec = db.exec("INSERT INTO t VALUES (1, 'c')", "adding c");
  REQUIRE_FALSE(exec.ok());
  CHECK(exec.error().code() == ErrorCode::invalid_argument);
  CHECK(exec.error().message() == "adding c: UNIQUE constraint failed: t.id");
}

TEST_CASE("sqlite: opening files that are missing, unreachable or not databases", "[sqlite]") {
  TempFile junk;
  { std::ofstream(junk.path) << std::string(4096, 'x'); }
  auto foreign = Database::open(junk.path, {}, "store 'junk'");
  REQUIRE_FALSE(foreign.ok());
  CHECK(foreign.error().code() == ErrorCode::data_loss);
  CHECK(foreign.error().message() ==
        "store 'junk' is not a usable SQLite database: file is not a database");

  TempFile absent;
  auto missing = Database::open(absent.path, {.create = false}, "'absent'");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == ErrorCode::not_found);
  CHECK(missing.error().message().rfind("cannot open 'absent': ", 0) == 0);
  CHECK_FALSE(std::filesystem::exists(absent.path));

  auto unreachable = Database::open("/nonexistent-dir/x.db", {}, "'x'");
  REQUIRE_FALSE(unreachable.ok());
  CHECK(unreachable.error().code() == ErrorCode::unavailable);

  // A file that is damaged past its header: the page count is larger than the file.
  TempFile damaged;
  {
    auto db = open_db(damaged.path);
    REQUIRE(db.exec("PRAGMA journal_mode=DELETE; CREATE TABLE t(v TEXT);", "creating t").ok());
  }
  {
    std::fstream f(damaged.path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100 + 5);  // the first page's b-tree header: the first freeblock offset
    const char garbage[] = {'\xff', '\xff', '\xff', '\xff', '\xff'};
    f.write(garbage, sizeof garbage);
  }
  auto db = Database::open(damaged.path, {.wal = false}, "damaged");
  REQUIRE(db.ok());
  auto read = db->exec("SELECT * FROM t", "reading t");
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().code() == ErrorCode::data_loss);
}

TEST_CASE("sqlite: SQL errors are rein's bug, or the caller's bad input", "[sqlite]") {
  TempFile file;
  auto db = open_db(file.path);
  Statement q;
  auto ours = q.prepare(db, "SELECT * FROM missing_table", "reading the ledger");
  REQUIRE_FALSE(ours.ok());
  CHECK(ours.error().code() == ErrorCode::internal);
  CHECK(ours.error().message() == "preparing reading the ledger: no such table: missing_table");
  std::string_view rest;
  const int rc = q.prepare_first(db, "SELEC 1; SELECT 2", rest);
  REQUIRE(rc != SQLITE_OK);
  auto theirs = rein::sqlite::error_of(db.handle(), rc, "plan step 1", SqlFrom::caller);
  CHECK(theirs.code() == ErrorCode::invalid_argument);
  CHECK(theirs.message().find("syntax error") != std::string::npos);
  REQUIRE(q.prepare_first(db, "SELECT 1; -- one\nSELECT 2;", rest) == SQLITE_OK);
  CHECK(rest == " -- one\nSELECT 2;");
  REQUIRE(q.prepare_first(db, "  -- only a comment", rest) == SQLITE_OK);
  CHECK(q.handle() == nullptr);
}

TEST_CASE("sqlite: a transaction rolls back unless committed", "[sqlite]") {
  TempFile file;
  auto db = open_db(file.path);
  auto other = open_db(file.path);
  REQUIRE(db.exec("CREATE TABLE t(v INTEGER)", "creating t").ok());
  {
    Transaction tx(db);
    REQUIRE(tx.begin().ok());
    REQUIRE(db.exec("INSERT INTO t VALUES (1)", "inserting").ok());
    CHECK(db.in_transaction());
  }
  CHECK_FALSE(db.in_transaction());
  CHECK(count(db) == 0);
  {
    Transaction tx(db);
    REQUIRE(tx.begin().ok());
    REQUIRE(db.exec("INSERT INTO t VALUES (2)", "inserting").ok());
    CHECK(count(other) == 0);  // not visible before COMMIT
    REQUIRE(tx.commit().ok());
  }
  CHECK(count(db) == 1);
  CHECK(count(other) == 1);
  // Kept statements name themselves when they fail.
  auto stray = db.run_kept("COMMIT");
  REQUIRE_FALSE(stray.ok());
  CHECK(stray.error().code() == ErrorCode::internal);
  CHECK(stray.error().message().find("running 'COMMIT': ") == 0);
}

TEST_CASE("sqlite: savepoints roll back their own changes only", "[sqlite]") {
  TempFile file;
  auto db = open_db(file.path);
  REQUIRE(db.exec("CREATE TABLE t(v INTEGER)", "creating t").ok());
  {
    Transaction tx(db);
    REQUIRE(tx.begin().ok());
    REQUIRE(db.exec("INSERT INTO t VALUES (1)", "inserting").ok());
    {
      Savepoint dropped(db, "inner");
      REQUIRE(dropped.begin().ok());
      REQUIRE(db.exec("INSERT INTO t VALUES (2)", "inserting").ok());
      CHECK(count(db) == 2);
    }  // rolled back on destruction
    CHECK(db.in_transaction());
    CHECK(count(db) == 1);
    {
      Savepoint undone(db, "inner");
      REQUIRE(undone.begin().ok());
      REQUIRE(db.exec("INSERT INTO t VALUES (3)", "inserting").ok());
      REQUIRE(undone.rollback().ok());
      CHECK_FALSE(undone.active());
      CHECK(undone.rollback().ok());  // twice: nothing to do
    }
    {
      Savepoint kept(db, "inner");
      REQUIRE(kept.begin().ok());
      REQUIRE(db.exec("INSERT INTO t VALUES (4)", "inserting").ok());
      REQUIRE(kept.release().ok());
    }
    REQUIRE(tx.commit().ok());
  }
  Statement q;
  REQUIRE(q.prepare(db, "SELECT group_concat(v) FROM t").ok());
  REQUIRE(*q.step());
  CHECK(q.text(0) == "1,4");
  q.reset();

  // An outermost savepoint is the transaction: rolling it back ends it.
  {
    Savepoint outer(db, "outer");
    REQUIRE(outer.begin().ok());
    CHECK(db.in_transaction());
    REQUIRE(db.exec("DELETE FROM t", "deleting").ok());
  }
  CHECK_FALSE(db.in_transaction());
  CHECK(count(db) == 2);
  // Moved, it stays pending in its new owner.
  std::optional<Savepoint> pending;
  {
    Savepoint outer(db, "outer");
    REQUIRE(outer.begin().ok());
    REQUIRE(db.exec("DELETE FROM t", "deleting").ok());
    pending.emplace(std::move(outer));
  }
  CHECK(db.in_transaction());
  CHECK(pending->active());
  REQUIRE(pending->release().ok());
  CHECK_FALSE(db.in_transaction());
  CHECK(count(db) == 0);
}

TEST_CASE("sqlite: statements bind and read text, blobs, integers, reals and nulls", "[sqlite]") {
  TempFile file;
  auto db = open_db(file.path);
  REQUIRE(db.exec("CREATE TABLE t(k INTEGER PRIMARY KEY, s TEXT, b BLOB, i INTEGER, r REAL)",
                  "creating t")
              .ok());
  Statement insert, select;
  REQUIRE(insert.prepare(db, "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)").ok());
  REQUIRE(select.prepare(db, "SELECT s, b, i, r FROM t WHERE k = ?1").ok());
  const std::string text("nul\0inside", 10);
  const unsigned char bytes[] = {0, 1, 2, 254, 255};
  REQUIRE(insert.bind(1, 1)
              .bind(2, text)
              .bind_blob(3, bytes, sizeof bytes)
              .bind(4, std::int64_t{9'007'199'254'740'993})
              .bind_real(5, 2.5)
              .run()
              .ok());
  REQUIRE(insert.bind(1, 2).bind_null(2).bind_null(3).bind_null(4).bind_null(5).run().ok());
  {
    ResetOnExit reset(select);
    select.bind(1, 1);
    REQUIRE(*select.step());
    CHECK(select.text(0) == text);
    REQUIRE(select.bytes(1) == sizeof bytes);
    CHECK(std::memcmp(select.blob(1), bytes, sizeof bytes) == 0);
    CHECK(select.integer(2) == 9'007'199'254'740'993);
    CHECK(select.real(3) == 2.5);
    CHECK_FALSE(select.is_null(0));
  }
  {
    ResetOnExit reset(select);
    select.bind(1, 2);
    REQUIRE(*select.step());
    for (int c = 0; c < 4; ++c)
      CHECK(select.is_null(c));
    CHECK(select.text(0).empty());
    CHECK_FALSE(*select.step());
  }
  // A refused bind is reported by the next step, naming the parameter.
  auto bad = insert.bind(7, "x").run();
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message().find("binding parameter 7 of 'INSERT INTO t VALUES") == 0);
  CHECK(insert.bind(1, 3).run().ok());  // reset cleared the failure
}

TEST_CASE("sqlite: a statement is reusable after reset, mid-iteration or after an error",
          "[sqlite]") {
  TempFile file;
  auto db = open_db(file.path);
  REQUIRE(db.exec("CREATE TABLE t(v INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3);",
                  "filling t")
              .ok());
  Statement q;
  REQUIRE(q.prepare(db, "SELECT v FROM t WHERE v >= ?1 ORDER BY v").ok());
  for (int pass = 0; pass < 3; ++pass) {
    ResetOnExit reset(q);
    q.bind(1, 2);
    REQUIRE(*q.step());
    CHECK(q.integer(0) == 2);  // left mid-iteration: the reset starts the next pass over
  }
  q.reset();
  CHECK_FALSE(*q.bind(1, 10).step());  // bindings were cleared and rebound
  q.reset();

  Statement insert;
  REQUIRE(insert.prepare(db, "INSERT INTO t VALUES (?1)").ok());
  CHECK_FALSE(insert.bind(1, 1).run().ok());  // a duplicate
  CHECK(insert.bind(1, 4).run().ok());        // the same statement, reset by run()
  CHECK(count(db) == 4);
}
