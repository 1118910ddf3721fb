// How far past its deadline a hostile plan runs in the SQL sandbox. Each operation runs one
// plan that can only end at the deadline (50 ms); the figure minus 50 ms is the overrun that
// docs/sql-sandbox.md quotes as the slack.
#include <filesystem>
#include <memory>
#include <string>

#include <sqlite3.h>

#include "benchmarks.hpp"
#include "rein/env.hpp"
#include "rein/sql_sandbox.hpp"

namespace rein::bench {
namespace {

std::shared_ptr<SqlSandbox> sandbox() {
  static std::shared_ptr<SqlSandbox> opened;
  if (opened) return opened;
  const auto path =
      std::filesystem::temp_directory_path() / (Env::system().new_id("rein-bench-sandbox") + ".db");
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'x');",
               nullptr, nullptr, nullptr);
  sqlite3_close(db);
  SqlSandboxOptions options;
  options.tables = {{.table = "t"}};
  options.deadline = std::chrono::milliseconds(50);
  opened = std::move(SqlSandbox::open(path.string(), options)).value();
  return opened;
}

std::function<void()> plan(std::string sql) {
  return [sql = std::move(sql)] {
    auto r = sandbox()->execute({SqlIntent::read, sql});
    keep(r);
  };
}

// Each call runs to a 50 ms deadline: twenty of them make a second.
Options few() {
  return slow_options(20, 1);
}

}  // namespace

void add_sandbox_benchmarks(std::vector<Benchmark>& out) {
  const std::string endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) ";
  // Progress ticks alone.
  out.push_back({"sandbox_deadline_50ms_cte", plan(endless + "SELECT count(*) FROM c;"), few()});
  // Calls of a guarded function at its largest allowed work (99,000 x 20 bytes), back to back.
  out.push_back({"sandbox_deadline_50ms_guarded",
                 plan(endless + "SELECT sum(instr(printf('%.*c', 99000, 'a'), printf('%.*c', 19, "
                                "'a') || 'b')) FROM c;"),
                 few()});
  // The slowest guarded function per unit of work (trim compares character by character), at
  // its budget: 99,000 x 20 bytes.
  out.push_back({"sandbox_deadline_50ms_trim",
                 plan(endless + "SELECT sum(length(trim(printf('%.*c', 99000, 'a'), printf('%.*c', "
                                "19, 'b') || 'a'))) FROM c;"),
                 few()});
  // The slowest unguarded function per byte, on values at the size limit, many per tick.
  out.push_back({"sandbox_deadline_50ms_linear",
                 plan(endless + "SELECT sum(length(strftime(printf('%.*c', 40000, 'J'), 'now')) + "
                                "length(quote(printf('%.*c', 99000, 'q'))) + "
                                "length(upper(printf('%.*c', 99000, 'u')))) FROM c;"),
                 few()});
}

}  // namespace rein::bench
