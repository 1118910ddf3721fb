// Hostile plans: each is refused by the sandbox or rolled back by the critic with a reason; the
// database file stays byte-for-byte unchanged; nothing crashes or hangs (runaway plans are
// stopped by the sandbox's deadline, and CTest's timeout guards the suite).
#include "sunglasses_fixture.hpp"

namespace {

struct Hostile {
  const char* name;
  std::string plan;
  const char* reason;  // a fragment the rejection must contain
};

std::string big_plan() {
  std::string plan = "-- intent: read\n";
  for (int i = 0; i < 40; ++i)
    plan += "SELECT " + std::to_string(i) + ";\n";
  return plan;
}

std::string deep_expression() {
  return "-- intent: read\nSELECT " + std::string(500, '(') + "1" + std::string(500, ')') + ";";
}

// A purchase of 3 Classic with one statement changed, for the invariant-breaking cases.
std::string purchase(const std::string& stock_sql, const std::string& txn_sql,
                     const std::string& yield_sql) {
  return "<execute_sql>\n-- intent: mutate\n-- 1. stock\n" + stock_sql + ";\n-- 2. transaction\n" +
         txn_sql + ";\n-- 3. yield\n" + yield_sql + ";\n</execute_sql>";
}
const std::string kStock =
    "UPDATE inventory SET quantity_in_stock = quantity_in_stock - 3 WHERE item_id = 'SG005'";
const std::string kTxn =
    "INSERT INTO transactions VALUES ('TXN002', 'Eve', 'Purchase 3 x Classic (SG005)', 180, 680, "
    ":now)";
const std::string kYield = "SELECT 'success' AS status, 'Done.' AS answer_text";

std::vector<Hostile> hostile_plans() {
  return {
      // writes in a read plan
      {"read plan updates", "-- intent: read\nUPDATE inventory SET quantity_in_stock = 0;",
       "read plan"},
      {"read plan inserts",
       "-- intent: read\nINSERT INTO transactions VALUES ('X','a','b',1,1,'t');", "read plan"},
      {"read plan deletes", "-- intent: read\nDELETE FROM transactions;", "read plan"},
      {"read plan upserts",
       "-- intent: read\nINSERT OR REPLACE INTO transactions VALUES ('TXN001','a','b',1,1,'t');",
       "read plan"},
      // other tables and columns
      {"reads the schema", "-- intent: read\nSELECT sql FROM sqlite_master;", "not declared"},
      {"reads the temp schema", "-- intent: read\nSELECT * FROM temp.sqlite_master;",
       "not declared"},
      {"changes a price", "-- intent: mutate\nUPDATE inventory SET price = 1;", "inventory.price"},
      {"deletes history", "-- intent: mutate\nDELETE FROM transactions;", "DELETE"},
      {"deletes inventory", "-- intent: mutate\nDELETE FROM inventory WHERE item_id = 'SG001';",
       "DELETE"},
      {"adds an item", "-- intent: mutate\nINSERT INTO inventory VALUES ('SG999','Free','x',1,0);",
       "INSERT"},
      {"rewrites history", "-- intent: mutate\nUPDATE transactions SET transaction_amount = 0;",
       "transactions.transaction_amount"},
      {"replaces the opening balance",
       "-- intent: mutate\nREPLACE INTO transactions VALUES ('TXN001','x','y',1,1,'t');\nSELECT "
       "'success' AS status, 'Done.' AS answer_text;",
       "transactions"},
      {"upsert rewrites a row",
       "-- intent: mutate\nINSERT INTO transactions VALUES ('TXN001','x','y',1,1,'t') ON "
       "CONFLICT(transaction_id) DO UPDATE SET transaction_amount = 0;",
       "transactions.transaction_amount"},
      // ATTACH, PRAGMA, DDL, extensions, transaction control
      {"attach", "-- intent: read\nATTACH DATABASE '/tmp/rein-evil.db' AS evil;", "ATTACH"},
      {"detach", "-- intent: read\nDETACH DATABASE main;", "ATTACH"},
      {"pragma writable_schema", "-- intent: mutate\nPRAGMA writable_schema = 1;", "PRAGMA"},
      {"pragma journal_mode", "-- intent: read\nPRAGMA journal_mode = OFF;", "PRAGMA"},
      {"pragma table function", "-- intent: read\nSELECT * FROM pragma_table_info('inventory');",
       "not"},
      {"create table", "-- intent: mutate\nCREATE TABLE evil(x);", "schema changes"},
      {"temp trigger",
       "-- intent: mutate\nCREATE TEMP TRIGGER t AFTER INSERT ON transactions BEGIN DELETE FROM "
       "inventory; END;",
       "schema changes"},
      {"temp view", "-- intent: read\nCREATE TEMP VIEW v AS SELECT * FROM inventory;",
       "schema changes"},
      {"drop table", "-- intent: mutate\nDROP TABLE transactions;", "schema changes"},
      {"alter table", "-- intent: mutate\nALTER TABLE inventory ADD COLUMN discount REAL;",
       "schema changes"},
      {"create index", "-- intent: mutate\nCREATE INDEX evil ON inventory(name);",
       "schema changes"},
      {"analyze", "-- intent: mutate\nANALYZE;", "schema changes"},
      {"load_extension", "-- intent: read\nSELECT load_extension('/tmp/evil.so');",
       "load_extension"},
      {"commit the sandbox's transaction", "-- intent: mutate\nCOMMIT;", "transaction control"},
      {"release the savepoint", "-- intent: mutate\nRELEASE rein_plan;", "transaction control"},
      {"begin", "-- intent: read\nBEGIN;", "transaction control"},
      {"vacuum into a file", "-- intent: read\nVACUUM INTO '/tmp/rein-copy.db';", "step 1"},
      // runaway and oversized work
      {"recursive CTE that never ends",
       "-- intent: read\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT "
       "count(*) FROM c;",
       "deadline"},
      {"cross join explosion",
       "-- intent: read\nSELECT count(*) FROM inventory a, inventory b, inventory c, inventory d, "
       "inventory e, inventory f, "
       "inventory g, inventory h, inventory i, inventory j;",
       "deadline"},
      {"too many rows",
       "-- intent: read\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT "
       "5000) SELECT x FROM c;",
       "max_rows"},
      {"huge zeroblob", "-- intent: read\nSELECT zeroblob(2000000000);", "zeroblob"},
      {"huge randomblob", "-- intent: read\nSELECT length(randomblob(1000000000));", "randomblob"},
      {"huge printf width",  // SQLite would loop two billion times to yield NULL
       "-- intent: read\nSELECT 'success' AS status, printf('%.*c', 2000000000, 'x') AS "
       "answer_text;",
       "printf(): widths and precisions"},
      {"huge format width", "-- intent: read\nSELECT length(format('%2000000000d', 1));",
       "format(): widths and precisions"},
      // CPU burners: one call whose work is quadratic in its arguments
      {"quadratic instr",
       "-- intent: read\nSELECT instr(printf('%.*c', 99000, 'a'), printf('%.*c', 49000, 'a') || "
       "'b');",
       "instr(): 99000 x 49001"},
      {"quadratic replace",
       "-- intent: read\nSELECT length(replace(printf('%.*c', 99000, 'a'), printf('%.*c', 49000, "
       "'a') || 'b', 'c'));",
       "replace(): 99000 x 49001"},
      {"quadratic trim",
       "-- intent: read\nSELECT length(trim(printf('%.*c', 99000, 'a'), printf('%.*c', 8000, 'b') "
       "|| 'a'));",
       "trim(): 99000 x 8001"},
      {"quadratic rtrim",
       "-- intent: read\nSELECT length(rtrim(printf('%.*c', 99000, 'a'), printf('%.*c', 8000, "
       "'b') || 'a'));",
       "rtrim(): 99000 x 8001"},
      {"many bounded calls",
       "-- intent: read\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT "
       "sum(instr(printf('%.*c', 99000, 'a'), 'ab')) FROM c;",
       "deadline"},
      {"string doubling",
       "-- intent: read\nWITH RECURSIVE s(x) AS (SELECT 'ab' UNION ALL SELECT x || x FROM s) "
       "SELECT length(x) FROM s;",
       "size limits"},
      {"deep expression", deep_expression(), "step 1"},
      {"long LIKE pattern", "-- intent: read\nSELECT 'a' LIKE '" + std::string(200, '%') + "';",
       "step 1"},
      {"too many statements", big_plan(), "max_statements"},
      {"too much SQL", "-- intent: read\nSELECT '" + std::string(200'000, 'x') + "';",
       "max_sql_bytes"},
      // statements smuggled in one, or hidden in comments and strings
      {"second statement in a read plan",
       "-- intent: read\nSELECT 1; UPDATE inventory SET quantity_in_stock = 0;", "read plan"},
      {"statement after a comment",
       "-- intent: mutate\nSELECT 1 /* harmless; */; -- nothing to see\nDELETE FROM transactions;",
       "DELETE"},
      {"statement after a string", "-- intent: read\nSELECT 'x'; DROP TABLE inventory; --';",
       "schema changes"},
      {"NUL byte hides a statement",
       std::string("-- intent: read\nSELECT 1;\0DELETE FROM transactions;", 48), "NUL"},
      {"two plan blocks",
       "<execute_sql>-- intent: read\nSELECT 1;</execute_sql><execute_sql>-- intent: "
       "mutate\nDELETE FROM transactions;</execute_sql>",
       "more than one"},
      {"unclosed plan block", "<execute_sql>\n-- intent: read\nSELECT 1;", "unbalanced"},
      {"no declared intent", "SELECT 'success' AS status, 'Hi.' AS answer_text;", "intent"},
      {"both intents", "-- intent: read\n-- intent: mutate\nDELETE FROM transactions;", "both"},
      {"positional parameter", "-- intent: read\nSELECT ?;", "positional"},
      {"unknown parameter", "-- intent: read\nSELECT :secret;", ":secret"},
      // invariant-breaking mutations: pass the sandbox, rolled back by the critic
      {"stock goes negative",
       purchase("UPDATE inventory SET quantity_in_stock = quantity_in_stock - 11 WHERE item_id = "
                "'SG005'",
                "INSERT INTO transactions VALUES ('TXN002', 'Eve', 'Purchase 11 x Classic "
                "(SG005)', 660, 1160, :now)",
                kYield),
       "negative"},
      {"one transaction for two items",
       purchase("UPDATE inventory SET quantity_in_stock = quantity_in_stock - 1 WHERE item_id IN "
                "('SG005', 'SG001')",
                "INSERT INTO transactions VALUES ('TXN002', 'Eve', 'Purchase SG005 and SG001', "
                "140, 640, :now)",
                kYield),
       "exactly one item"},
      {"amount does not match the stock change",
       purchase(kStock,
                "INSERT INTO transactions VALUES ('TXN002', 'Eve', 'Purchase 3 x Classic (SG005)', "
                "100, 600, :now)",
                kYield),
       "add up"},
      {"balance does not continue",
       purchase(kStock,
                "INSERT INTO transactions VALUES ('TXN002', 'Eve', 'Purchase 3 x Classic (SG005)', "
                "180, 9999, :now)",
                kYield),
       "balance"},
      {"stock moves without a transaction", purchase(kStock, "SELECT 1", kYield), "add up"},
      {"transaction without a stock move", purchase("SELECT 1", kTxn, kYield), "exactly one item"},
      {"changes with insufficient_stock",
       purchase(kStock, kTxn, "SELECT 'insufficient_stock' AS status, 'Sorry.' AS answer_text"),
       "only a successful plan"},
      {"unknown status", purchase(kStock, kTxn, "SELECT 'done' AS status, 'Done.' AS answer_text"),
       "status must be"},
      {"no answer_text", purchase(kStock, kTxn, "SELECT 'success' AS status"), "answer_text"},
      {"rambling answer_text",
       purchase(kStock, kTxn,
                "SELECT 'success' AS status, 'One. Two. Three. Four.' AS answer_text"),
       "two short sentences"},
      {"two yield rows",
       "-- intent: read\nSELECT 'success' AS status, 'Hi.' AS answer_text UNION ALL SELECT "
       "'no_match', 'No.';",
       "exactly one row"},
  };
}

}  // namespace

TEST_CASE("sunglasses hostile plans: refused or rolled back, file unchanged") {
  const auto plans = hostile_plans();
  REQUIRE(plans.size() >= 40);
  StoreFixture store;
  const std::string before = store.file_digest();
  for (const auto& hostile : plans) {
    INFO("plan: " << hostile.name);
    // Runaway plans meet the store's 500 ms deadline; every other plan gets a deadline no slow
    // or loaded machine reaches, so that its own defence, not the clock, is what stops it.
    const bool runaway = std::string_view(hostile.reason) == "deadline";
    auto answer = sunglasses::answer_request(
        "(hostile plan)",
        {.db_path = store.db,
         .plan_text = hostile.plan,
         .sandbox_deadline = runaway ? std::chrono::milliseconds(500) : std::chrono::minutes(1)});
    REQUIRE(answer.ok());
    CHECK_FALSE(answer->committed);
    CHECK(answer->status.empty());
    INFO("error: " << answer->error);
    CHECK(answer->error.find(hostile.reason) != std::string::npos);
    CHECK(store.file_digest() == before);
  }
  CHECK_FALSE(std::filesystem::exists("/tmp/rein-copy.db"));
  CHECK_FALSE(std::filesystem::exists("/tmp/rein-evil.db"));
  // The store still works afterwards.
  CHECK(store.ask("Return 2 Aviator sunglasses I bought last week.").status == "success");
  CHECK(store.stock("SG001") == 25);
}
