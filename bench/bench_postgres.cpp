// pg_step_durable: step_durable with the checkpoint and the step's audit committed to a
//   PostgresStore instead of SQLite. Fields: median_ns, p99_ns, samples, failed.
// pg_concurrent_steps: concurrent_durable_steps against PostgreSQL: 1,000 runs stepping at once,
//   shared by four workers (four PostgresStores on one schema, each with its worker id and a
//   Runtime of its own, the runtimes sharing one executor), each driving a quarter of the runs.
//   Fields: steps_per_s, single_run_steps_per_s (one run alone on one worker), ratio, runs,
//   workers, failed, and the stores' commits and transactions (summed).
// Both take a libpq conninfo from REIN_BENCH_POSTGRES (tools/dev.sh bench starts a throwaway
// server with PostgreSQL's durable defaults) and report {"skipped": ...} without it. Each works
// in a schema of its own, dropped afterwards, and reports the server's fsync and
// synchronous_commit, which decide what a commit costs.
#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <libpq-fe.h>

#include "benchmarks.hpp"
#include "harness.hpp"
#include "rein/postgres_store.hpp"

namespace rein::bench {
namespace {

using nlohmann::json;

// The bench's own connection, for what rein offers no call for: settings, dropping a schema.
class Admin {
 public:
  explicit Admin(const char* conninfo) : conn_(PQconnectdb(conninfo)) {
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);  // "does not exist, skipping"
  }
  ~Admin() { PQfinish(conn_); }
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // Runs `sql`; returns the first value of its first row ("" when none).
  Result<std::string> exec(const std::string& sql) {
    if (PQstatus(conn_) != CONNECTION_OK)
      return Error(ErrorCode::unavailable, PQerrorMessage(conn_));
    PGresult* r = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(r);
    Result<std::string> out = std::string();
    if (status == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = std::string(PQgetvalue(r, 0, 0));
    } else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      out = Error(ErrorCode::unavailable, PQresultErrorMessage(r));
    }
    PQclear(r);
    return out;
  }

 private:
  PGconn* conn_;
};

using Body = std::function<json(const std::string& conninfo, const std::string& schema)>;

// Runs `body` in a fresh schema (dropped afterwards, and before, should a crashed run have left
// it); the figures gain the server's durability settings.
json in_fresh_schema(const std::string& scenario, const Body& body) {
  const char* conninfo = std::getenv("REIN_BENCH_POSTGRES");
  if (conninfo == nullptr || *conninfo == '\0')
    return {{"skipped", "REIN_BENCH_POSTGRES is not set"}};
  const std::string schema = "rein_bench_" + scenario + "_" + std::to_string(::getpid());
  const std::string drop = "DROP SCHEMA IF EXISTS " + schema + " CASCADE";
  Admin admin(conninfo);
  const auto fsync = admin.exec("SHOW fsync");
  const auto synchronous_commit = admin.exec("SHOW synchronous_commit");
  const auto leftover = admin.exec(drop);
  for (const auto* r : {&fsync, &synchronous_commit, &leftover}) {
    if (!*r) return {{"error", r->error().message()}};
  }
  json figures = body(conninfo, schema);
  if (auto dropped = admin.exec(drop); !dropped) figures["drop_error"] = dropped.error().message();
  figures["fsync"] = *fsync;
  figures["synchronous_commit"] = *synchronous_commit;
  return figures;
}

Result<std::shared_ptr<PostgresStore>> open_worker(const std::string& conninfo,
                                                   const std::string& schema, int worker) {
  return PostgresStore::open(conninfo,
                             PostgresStoreOptions{.schema = schema,
                                                  .agent_version = "bench",
                                                  .worker_id = "bench-w" + std::to_string(worker)});
}

json step_durable(const std::string& conninfo, const std::string& schema) {
  auto store = open_worker(conninfo, schema, 0);
  if (!store) return {{"error", store.error().message()}};
  int failed = 0;
  const auto step = loop_stepper(*store);
  // A commit waits for the WAL's fsync (milliseconds, not step_durable's microseconds): fewer
  // samples than the harness's default.
  const auto f = measure(
      "pg_step_durable", [&] { failed += step() ? 0 : 1; }, slow_options(500, 50));
  return {{"median_ns", std::llround(f.median_ns)},
          {"p99_ns", std::llround(f.p99_ns)},
          {"samples", f.samples},
          {"failed", failed}};
}

PostgresStore::WriteStats total_writes(const std::vector<std::shared_ptr<PostgresStore>>& stores) {
  PostgresStore::WriteStats total;
  for (const auto& s : stores) {
    const auto w = s->write_stats();
    total.commits += w.commits;
    total.transactions += w.transactions;
  }
  return total;
}

json concurrent_steps(const std::string& conninfo, const std::string& schema) {
  constexpr int kWorkers = 4;
  constexpr int kRuns = 1'000;
  std::vector<std::shared_ptr<PostgresStore>> workers;
  for (int w = 0; w < kWorkers; ++w) {
    auto store = open_worker(conninfo, schema, w);
    if (!store) return {{"error", store.error().message()}};
    workers.push_back(*store);
  }
  double single = 0;
  for (int i = 0; i < 5; ++i)
    single += chain_steps({workers[0]}, 1, "single-" + std::to_string(i) + "-").steps_per_s / 5;
  const auto before = total_writes(workers);
  const auto many = chain_steps({workers.begin(), workers.end()}, kRuns, "run-");
  const auto after = total_writes(workers);
  json figures = {{"steps_per_s", many.steps_per_s},
                  {"single_run_steps_per_s", single},
                  {"ratio", many.steps_per_s / single},
                  {"runs", kRuns},
                  {"workers", kWorkers},
                  {"failed", many.failed},
                  {"commits", after.commits - before.commits},
                  {"transactions", after.transactions - before.transactions}};
  if (many.failed > 0) figures["first_failure"] = many.first_failure;
  return figures;
}

}  // namespace

void add_postgres_scenarios(std::vector<Scenario>& out) {
  out.push_back(
      {"pg_step_durable", [] { return in_fresh_schema("pg_step_durable", step_durable); }});
  out.push_back({"pg_concurrent_steps",
                 [] { return in_fresh_schema("pg_concurrent_steps", concurrent_steps); }});
}

}  // namespace rein::bench
