// A worker process of the multi-worker test, for the test to kill at random points.
//
//   rein_pg_worker CONNINFO SCHEMA submit N   creates runs run-0000..run-N-1, leased to nobody
//   rein_pg_worker CONNINFO SCHEMA work NAME  claims and drives runs until every run has ended,
//                                             NAME its worker id
//
// The agent reads two accounts in parallel, then posts their amounts to a ledger, one post
// after the other, and finishes with the total. The ledger is the "external system": tables of
// the test's own (schema SCHEMA_fx), where each post applies its idempotency key at most once
// in the same transaction as the balance, as a payment API would, and logs every invocation.
// Exit 0 when every run in the store has ended.
#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "../support/ledger_tools.hpp"
#include "rein/rein.hpp"

using nlohmann::json;

namespace {

std::string conninfo, fx;

void pause_a_little() {
  thread_local std::mt19937 rng(std::random_device{}());
  std::this_thread::sleep_for(std::chrono::microseconds(1000 + rng() % 4000));
}

// One connection per tool thread, reopened when it breaks, closed when the thread ends.
PGconn* ledger() {
  struct Held {
    PGconn* c = nullptr;
    ~Held() { PQfinish(c); }
  };
  thread_local Held held;
  if (held.c != nullptr && PQstatus(held.c) != CONNECTION_OK) {
    PQfinish(held.c);
    held.c = nullptr;
  }
  if (held.c == nullptr) held.c = PQconnectdb(conninfo.c_str());
  return held.c;
}

rein::ToolResult post(const std::string& key, std::int64_t amount) {
  PGconn* c = ledger();
  const std::string amount_text = std::to_string(amount);
  const std::string worker = std::to_string(::getpid());
  const char* params[] = {key.c_str(), amount_text.c_str(), worker.c_str()};
  const std::string sql = "WITH logged AS (INSERT INTO " + fx +
                          ".invocations(key, worker) VALUES($1, $3)) INSERT INTO " + fx +
                          ".applied(key, amount) VALUES($1, $2::bigint) ON CONFLICT DO NOTHING";
  PGresult* r = PQexecParams(c, sql.c_str(), 3, nullptr, params, nullptr, nullptr, 0);
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok) return rein::ToolResult::failure("ledger write failed", true);
  return rein::ToolResult::success({{"posted", amount}, {"key", key}},
                                   {{"ledger", "ledger://" + key, ""}});
}

std::shared_ptr<rein::ToolRegistry> tools(std::shared_ptr<rein::PostgresStore> store) {
  auto registry =
      std::make_shared<rein::ToolRegistry>(rein::ToolRegistryOptions{.idempotency_store = store});
  const rein::ToolSpec read = rein::testing::account_read_spec();
  const rein::ToolSpec write = rein::testing::ledger_post_spec();
  (void)registry->register_tool(read, [](const json& args, rein::ToolContext&) {
    pause_a_little();
    const int id = args.value("account", 0);
    return rein::ToolResult::success(
        {{"account", id}, {"amount", rein::testing::account_amount(id)}});
  });
  (void)registry->register_tool(write, [](const json& args, rein::ToolContext& ctx) {
    pause_a_little();
    return post(std::string(ctx.idempotency_key()), args.value("amount", 0));
  });
  return registry;
}

std::shared_ptr<rein::Planner> planner() {
  return std::make_shared<rein::StaticPlanner>(
      [](const rein::PlanRequest& req) -> rein::Result<rein::PlanDecision> {
        const auto& s = req.state;
        if (s.planning_rounds == 0) {
          return rein::PlanDecision::run({{"read1", "accounts.read", {{"account", 1}}, {}, ""},
                                          {"read2", "accounts.read", {{"account", 2}}, {}, ""}});
        }
        if (s.planning_rounds == 1) {
          return rein::PlanDecision::run(
              {{"post1", "ledger.post", {{"amount", s.outputs["read1"]["amount"]}}, {"read1"}, ""},
               {"post2",
                "ledger.post",
                {{"amount", s.outputs["read2"]["amount"]}},
                {"read2", "post1"},
                ""}});
        }
        const std::int64_t total = s.outputs["post1"]["posted"].get<std::int64_t>() +
                                   s.outputs["post2"]["posted"].get<std::int64_t>();
        return rein::PlanDecision::finish({{"posted_total", total}});
      });
}

int fail(const rein::Error& e) {
  std::fprintf(stderr, "%s\n", e.to_string().c_str());
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: rein_pg_worker CONNINFO SCHEMA submit N | work\n");
    return 2;
  }
  conninfo = argv[1];
  const std::string schema = argv[2], mode = argv[3];
  fx = schema + "_fx";
  const bool submit = mode == "submit" && argc == 5;
  const std::string name = !submit && argc == 5 ? argv[4] : "";
  auto store = rein::PostgresStore::open(conninfo, {.schema = schema,
                                                    .connections = 4,
                                                    .agent_version = "ledger-1",
                                                    .worker_id = name,
                                                    .lease = std::chrono::milliseconds(1000),
                                                    .lease_new_runs = !submit});
  if (!store) return fail(store.error());
  auto policy = *rein::PolicyEngine::from_json(json::parse(R"({"rules": [
      {"id": "ledger-agent", "decision": "allow", "tool_glob": "*", "roles": ["ledger"]}]})"));
  rein::Runtime runtime(rein::AgentConfig{"ledger", tools(*store), policy, planner(), nullptr},
                        rein::RuntimeOptions{.store = *store, .max_parallel_calls = 2});
  if (submit) {
    const int n = std::stoi(argv[4]);
    for (int i = 0; i < n; ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "run-%04d", i);
      auto started =
          runtime.start({"post the ledger", {"multi-worker-test", {"ledger"}}, nullptr, id});
      if (!started) return fail(started.error());
    }
    return 0;
  }
  auto worker = rein::RunWorker::start(
      runtime, *store, {.max_runs = 32, .poll_interval = std::chrono::milliseconds(50)});
  if (!worker) return fail(worker.error());
  for (int unreachable = 0;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto runs = (*store)->list_runs();
    if (!runs) {
      if (++unreachable == 50) return fail(runs.error());  // the server went away for good
      continue;
    }
    unreachable = 0;
    bool all_ended = true;
    for (const auto& r : *runs)
      all_ended = all_ended && rein::is_terminal(r.status);
    if (all_ended) break;
  }
  (*worker)->stop();
  return 0;
}
