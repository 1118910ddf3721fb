#include "rein/sql_sandbox.hpp"

#include <filesystem>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "rein/env.hpp"
#include "sql_sandbox_fixture.hpp"

using nlohmann::json;
using rein::ErrorCode;
using rein::SqlIntent;
using rein::SqlPlan;
using rein::SqlSandbox;

using rein::testing::Db;
using rein::testing::mutate;
using rein::testing::read;

TEST_CASE("parse_sql_plan extracts the block and the declared intent") {
  auto plan = rein::parse_sql_plan(
      "Here you go:\n<EXECUTE_SQL>\n-- intent: mutate\n-- 1. go\nSELECT 1;\n</execute_sql> thanks");
  REQUIRE(plan.ok());
  CHECK(plan->intent == SqlIntent::mutate);
  CHECK(plan->sql == "-- intent: mutate\n-- 1. go\nSELECT 1;");
  CHECK(rein::parse_sql_plan("-- Intent: READ\nSELECT 1;")->intent == SqlIntent::read);
  CHECK(rein::parse_sql_plan("SELECT 1;").error().message().find("no declared intent") !=
        std::string::npos);
  CHECK(rein::parse_sql_plan("-- intent: write\nSELECT 1;").error().message().find("'write'") !=
        std::string::npos);
  CHECK(rein::parse_sql_plan("<execute_sql>-- intent: read\nSELECT 1;")
            .error()
            .message()
            .find("unbalanced") != std::string::npos);
  CHECK(
      rein::parse_sql_plan("-- intent: read\n-- only comments").error().message().find("no SQL") !=
      std::string::npos);
  CHECK(rein::parse_sql_plan("-- intent: read\n-- intent: mutate\nSELECT 1;").error().code() ==
        ErrorCode::invalid_argument);
}

TEST_CASE("SqlSandbox::open checks the declared tables") {
  Db db;
  auto missing = SqlSandbox::open(db.path.string(), {.tables = {{.table = "nope"}}});
  CHECK(missing.error().code() == ErrorCode::not_found);
  auto keyless =
      SqlSandbox::open(db.path.string(), {.tables = {{.table = "nokey", .insert = true}}});
  CHECK(keyless.error().message().find("PRIMARY KEY") != std::string::npos);
  auto column = SqlSandbox::open(db.path.string(),
                                 {.tables = {{.table = "items", .update_columns = {"colour"}}}});
  CHECK(column.error().message().find("colour") != std::string::npos);
  CHECK(SqlSandbox::open(db.path.string(), {}).error().code() == ErrorCode::invalid_argument);
  CHECK(SqlSandbox::open((db.path.string() + ".absent"), {.tables = {{.table = "items"}}})
            .error()
            .code() == ErrorCode::not_found);
}

TEST_CASE("SqlSandbox runs a read plan: steps, comments, rows and the yield") {
  Db db;
  auto sandbox = db.open();
  auto outcome =
      sandbox->execute(read("-- 1. in stock\nSELECT name FROM items WHERE qty > 0;\n"
                            "/* 2. answer */ SELECT count(*) AS n, :who AS who FROM items;"),
                       {{"who", "me"}});
  REQUIRE(outcome.ok());
  REQUIRE(outcome->steps.size() == 2);
  CHECK(outcome->steps[0].comment == "1. in stock");
  CHECK(outcome->steps[0].sql == "SELECT name FROM items WHERE qty > 0;");
  CHECK(outcome->steps[0].rows == json::array({{{"name", "a"}}}));
  CHECK(outcome->steps[1].comment == "2. answer");
  CHECK(outcome->result == json::array({{{"n", 2}, {"who", "me"}}}));
  CHECK(outcome->changes.empty());
  CHECK(sandbox->pending());
  CHECK(sandbox->commit().ok());
  CHECK_FALSE(sandbox->pending());
}

TEST_CASE("SqlSandbox keeps a mutation pending until commit, with before/after rows") {
  Db db;
  auto sandbox = db.open();
  auto other = db.open();
  auto outcome =
      sandbox->execute(mutate("UPDATE items SET qty = qty - 2 WHERE id = 1;\n"
                              "INSERT INTO log(note) VALUES ('sold 2 a');"));
  REQUIRE(outcome.ok());
  REQUIRE(outcome->changes.size() == 2);
  const auto& update = outcome->changes[0];
  CHECK(update.table == "items");
  CHECK(update.op == rein::SqlRowChange::Op::update);
  CHECK(update.before == json{{"id", 1}, {"name", "a"}, {"qty", 5}, {"price", 10.0}});
  CHECK(update.after["qty"] == 3);
  CHECK(update.changed_columns == std::vector<std::string>{"qty"});
  CHECK(outcome->changes[1].op == rein::SqlRowChange::Op::insert);
  CHECK(outcome->changes[1].after["note"] == "sold 2 a");
  CHECK_FALSE(outcome->changeset.empty());
  CHECK(outcome->steps[0].changes == 1);
  // The plan's connection sees its changes; another connection does not, until commit.
  CHECK((*sandbox->inspect("SELECT qty FROM items WHERE id = 1"))[0]["qty"] == 3);
  CHECK((*other->inspect("SELECT qty FROM items WHERE id = 1"))[0]["qty"] == 5);
  CHECK(sandbox->execute(read("SELECT 1;")).error().message().find("pending") != std::string::npos);
  REQUIRE(sandbox->commit().ok());
  CHECK((*other->inspect("SELECT qty FROM items WHERE id = 1"))[0]["qty"] == 3);
}

TEST_CASE("SqlSandbox rolls back on rollback(), on a failing step and on destruction") {
  Db db;
  auto check = db.open();
  {
    auto sandbox = db.open();
    REQUIRE(sandbox->execute(mutate("UPDATE items SET qty = 0;")).ok());
    CHECK(sandbox->rollback().ok());
    CHECK(sandbox->rollback().ok());  // nothing pending: a no-op
    CHECK(sandbox->commit().error().message().find("no pending") != std::string::npos);
    REQUIRE(sandbox->execute(mutate("UPDATE items SET qty = 0;")).ok());
  }  // destroyed while pending
  auto failed = db.open()->execute(
      mutate("UPDATE items SET qty = 0;\nINSERT INTO log(id, note) VALUES (1, 'x'), (1, 'y');"));
  CHECK(failed.error().message().find("plan step 2") != std::string::npos);
  CHECK((*check->inspect("SELECT sum(qty) AS n FROM items"))[0]["n"] == 5);
}

TEST_CASE("SqlSandbox leaves nothing open after a plan fails while running") {
  Db db;
  rein::SqlSandboxOptions options;
  options.max_rows = 2;
  auto sandbox = db.open(options);
  auto other = db.open();
  REQUIRE(sandbox->execute(mutate("INSERT INTO log(id, note) VALUES (1, 'kept');")).ok());
  REQUIRE(sandbox->commit().ok());
  // Each fails after its UPDATE ran: a failing step, too many rows, a refused change.
  const char* failing[] = {
      "UPDATE items SET qty = 9 WHERE id = 1;\nINSERT INTO log(id, note) VALUES (1, 'x');",
      "UPDATE items SET qty = 9 WHERE id = 1;\nSELECT * FROM items, items AS again;",
      "UPDATE items SET qty = 9 WHERE id = 1;\nREPLACE INTO log(id, note) VALUES (1, 'z');"};
  std::int64_t qty = 10;
  for (const char* sql : failing) {
    INFO(sql);
    REQUIRE_FALSE(sandbox->execute(mutate(sql)).ok());
    CHECK_FALSE(sandbox->pending());
    // The plan's changes are gone, and the next plan commits for everyone to see.
    CHECK((*sandbox->inspect("SELECT qty FROM items WHERE id = 1"))[0]["qty"] == 5);
    ++qty;
    REQUIRE(
        sandbox->execute(mutate("UPDATE items SET qty = :qty WHERE id = 2;"), {{"qty", qty}}).ok());
    REQUIRE(sandbox->commit().ok());
    CHECK((*other->inspect("SELECT qty FROM items WHERE id = 2"))[0]["qty"] == qty);
  }
}

TEST_CASE("SqlSandbox refuses what the allow-list does not grant, naming the step and rule") {
  Db db;
  auto sandbox = db.open();
  auto refused = [&](const SqlPlan& plan) {
    auto outcome = sandbox->execute(plan);
    REQUIRE_FALSE(outcome.ok());
    CHECK_FALSE(sandbox->pending());
    return outcome.error();
  };
  CHECK(refused(read("SELECT * FROM secrets;")).message().find("'secrets'") != std::string::npos);
  CHECK(
      refused(read("SELECT 1;\nUPDATE items SET qty = 1;")).message().find("step 2: a read plan") !=
      std::string::npos);
  CHECK(refused(mutate("UPDATE items SET price = 0;")).message().find("items.price") !=
        std::string::npos);
  CHECK(refused(mutate("DELETE FROM log;")).code() == ErrorCode::permission_denied);
  CHECK(refused(mutate("INSERT INTO secrets VALUES ('a', 'b');")).message().find("not declared") !=
        std::string::npos);
  CHECK(refused(read("SELECT random();")).message().find("random()") != std::string::npos);
  CHECK(refused(read("PRAGMA user_version;")).message().find("PRAGMA") != std::string::npos);
  CHECK(refused(mutate("CREATE TABLE t(x);")).message().find("schema changes") !=
        std::string::npos);
  CHECK(refused(mutate("SAVEPOINT x;")).message().find("transaction control") != std::string::npos);
  CHECK(refused(read("ATTACH ':memory:' AS m;")).message().find("ATTACH") != std::string::npos);
  CHECK(refused(read("SELECT ?;")).message().find("positional") != std::string::npos);
  CHECK(refused(read("SELECT :missing;")).message().find(":missing") != std::string::npos);
  CHECK(refused(read("SELECT 1;\nSELEC 2;")).message().find("plan step 2") != std::string::npos);
  // Nothing ran: a refused plan is refused before its first statement.
  CHECK((*sandbox->inspect("SELECT count(*) AS n FROM log"))[0]["n"] == 0);
}

TEST_CASE("SqlSandbox enforces its deadline, heap and size limits") {
  Db db;
  rein::SqlSandboxOptions options;
  options.deadline = std::chrono::milliseconds(50);
  options.max_rows = 10;
  options.max_statements = 3;
  options.max_result_bytes = 1000;
  options.heap_limit_bytes = 1 << 20;
  auto sandbox = db.open(options);
  auto endless = sandbox->execute(read(
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;"));
  CHECK(endless.error().code() == ErrorCode::timeout);
  // The other limits are met long before any deadline; a deadline no loaded machine reaches
  // keeps a pause from turning them into timeouts.
  options.deadline = std::chrono::minutes(1);
  sandbox = db.open(options);
  auto rows = sandbox->execute(read(
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 11) SELECT x FROM c;"));
  CHECK(rows.error().message().find("max_rows") != std::string::npos);
  auto bytes = sandbox->execute(read("SELECT printf('%.*c', 2000, 'x');"));
  CHECK(bytes.error().message().find("max_result_bytes") != std::string::npos);
  auto statements = sandbox->execute(read("SELECT 1; SELECT 2; SELECT 3; SELECT 4;"));
  CHECK(statements.error().code() == ErrorCode::budget_exhausted);
  auto heap = sandbox->execute(
      read("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 200000) SELECT "
           "count(*) FROM (SELECT DISTINCT printf('%050d', x) FROM c);"));
  REQUIRE_FALSE(heap.ok());
  CHECK((heap.error().message().find("heap") != std::string::npos ||
         heap.error().code() == ErrorCode::timeout));
  auto big =
      sandbox->execute(read("SELECT length(replace(printf('%.*c', 60000, 'x'), 'x', 'xx'));"));
  CHECK(big.error().code() == ErrorCode::budget_exhausted);
  CHECK(sandbox->execute({SqlIntent::read, std::string("SELECT 1;\0SELECT 2;", 19)})
            .error()
            .message()
            .find("NUL") != std::string::npos);
  CHECK(sandbox->execute(read("SELECT 1;")).ok());  // still usable
}

TEST_CASE("SqlSandbox::run commits what the verifier accepts and rolls back the rest") {
  Db db;
  auto sandbox = db.open();
  rein::SqlOutcome seen;
  auto rejected = sandbox->run(
      mutate("UPDATE items SET qty = -1 WHERE id = 1;"),
      [](const rein::SqlOutcome& o, SqlSandbox&) -> rein::Status {
        if (o.changes.at(0).after["qty"].get<int>() < 0) {
          return rein::Error(ErrorCode::invalid_argument, "stock would be negative");
        }
        return {};
      },
      &seen);
  CHECK(rejected.error().message() == "stock would be negative");
  CHECK(seen.changes.size() == 1);
  CHECK((*sandbox->inspect("SELECT qty FROM items WHERE id = 1"))[0]["qty"] == 5);
  CHECK(sandbox->run(mutate("UPDATE items SET qty = 4 WHERE id = 1;"), nullptr).ok());
  CHECK((*sandbox->inspect("SELECT qty FROM items WHERE id = 1"))[0]["qty"] == 4);
}
