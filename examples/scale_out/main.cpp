// Several host processes sharing one set of runs through PostgreSQL: the deployment pattern of
// docs/scale-out.md, on one machine.
//
//   scale_out --db CONNINFO [--workers 3] [--orders 240]
//
// The parent is the front office: it submits order runs (leased to nobody), starts the worker
// processes (this program again, with --worker), approves the large orders that wait for a
// person — from its own process, which drives no run — and, part-way through, kills one worker
// with SIGKILL. The other workers take over the dead one's runs when its leases expire. At the
// end the parent checks that every order completed, that every reservation and charge reached
// the warehouse and the bank exactly once (they are tables of the example's own, keyed by
// rein's idempotency keys, as real APIs are), and that every run's audit verifies.
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rein/rein.hpp"

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct Flags {
  std::string db, schema, worker;
  int workers = 3, orders = 240;
};

// The "external systems": the warehouse and the bank apply each idempotency key once.
std::string conninfo, outside;

json order_of(int n) {
  return {{"order", "order-" + std::to_string(n)},
          {"sku", n % 2 == 0 ? "lamp" : "desk"},
          {"amount", n % 10 == 0 ? 900 : 40 + n % 50}};
}

rein::ToolResult apply_once(const std::string& table, const std::string& key, const json& args) {
  struct Held {  // one connection per tool thread, closed when the thread ends
    PGconn* c = nullptr;
    ~Held() { PQfinish(c); }
  };
  thread_local Held held;
  if (held.c == nullptr || PQstatus(held.c) != CONNECTION_OK) {
    PQfinish(held.c);
    held.c = PQconnectdb(conninfo.c_str());
  }
  PGconn* c = held.c;
  thread_local std::mt19937 rng(std::random_device{}());
  std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 20));  // a remote call
  const std::string body = args.dump();
  const char* params[] = {key.c_str(), body.c_str()};
  const std::string sql = "INSERT INTO " + outside + "." + table +
                          "(key, body) VALUES($1, $2) ON CONFLICT (key) DO NOTHING";
  PGresult* r = PQexecParams(c, sql.c_str(), 2, nullptr, params, nullptr, nullptr, 0);
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok) return rein::ToolResult::failure(table + " is unavailable", true);
  return rein::ToolResult::success({{"done", true}, {"key", key}});
}

std::shared_ptr<rein::ToolRegistry> tools(const std::shared_ptr<rein::PostgresStore>& store) {
  auto registry =
      std::make_shared<rein::ToolRegistry>(rein::ToolRegistryOptions{.idempotency_store = store});
  for (const char* name : {"stock.reserve", "payment.charge"}) {
    rein::ToolSpec spec;
    spec.name = name;
    spec.description = name;
    spec.side_effects = true;
    spec.idempotency.key_required = true;
    spec.timeout = 0ms;
    const std::string table = spec.name == "stock.reserve" ? "reservations" : "charges";
    (void)registry->register_tool(spec, [table](const json& args, rein::ToolContext& ctx) {
      return apply_once(table, std::string(ctx.idempotency_key()), args);
    });
  }
  return registry;
}

rein::AgentConfig order_desk(const std::shared_ptr<rein::PostgresStore>& store) {
  auto planner = std::make_shared<rein::StaticPlanner>(
      [](const rein::PlanRequest& req) -> rein::Result<rein::PlanDecision> {
        const auto& s = req.state;
        if (s.planning_rounds == 0) {
          return rein::PlanDecision::run(
              {{"reserve", "stock.reserve", s.input, {}, "hold the item"},
               {"charge", "payment.charge", s.input, {"reserve"}, "take the payment"}});
        }
        return rein::PlanDecision::finish({{"order", s.input["order"]}, {"shipped", true}});
      });
  // Charges above 500 wait for a person; everything else the desk may do on its own.
  auto policy = rein::PolicyEngine::from_json(json::parse(R"({"rules": [
      {"id": "large-charges", "priority": 10, "decision": "require_approval",
       "tool": "payment.charge", "args": [{"pointer": "/amount", "range": {"min": 500}}],
       "description": "a person checks large charges"},
      {"id": "order-desk", "decision": "allow", "tool_glob": "*", "roles": ["desk"]}]})"));
  return {"order-desk", tools(store), *policy, planner, nullptr};
}

rein::PostgresStoreOptions store_options(const Flags& f, bool drives) {
  return {.schema = f.schema,
          .agent_version = "order-desk-1",
          .worker_id = f.worker.empty() ? "front-office" : f.worker,
          .lease = 2s,
          .lease_new_runs = drives};
}

int worker_main(const Flags& f) {
  auto store = rein::PostgresStore::open(f.db, store_options(f, true));
  if (!store) return std::fprintf(stderr, "%s\n", store.error().to_string().c_str()), 1;
  rein::Runtime runtime(order_desk(*store), {.store = *store});
  auto worker = rein::RunWorker::start(runtime, *store, {.max_runs = 64, .poll_interval = 50ms});
  if (!worker) return std::fprintf(stderr, "%s\n", worker.error().to_string().c_str()), 1;
  for (;;) {  // until every order has ended
    std::this_thread::sleep_for(200ms);
    auto runs = (*store)->list_runs();
    if (runs && std::all_of(runs->begin(), runs->end(),
                            [](const rein::RunSummary& r) { return rein::is_terminal(r.status); }))
      break;
  }
  (*worker)->stop();
  const auto stats = (*worker)->stats();
  std::printf("  %s: claimed %llu runs, saw %llu stop here\n", f.worker.c_str(),
              static_cast<unsigned long long>(stats.claimed),
              static_cast<unsigned long long>(stats.stopped));
  return 0;
}

std::string sql_value(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  std::string out =
      PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
    std::fprintf(stderr, "%s", PQresultErrorMessage(r));
  PQclear(r);
  return out;
}

pid_t start_worker(const char* self, const Flags& f, const std::string& name) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(self, self, "--db", f.db.c_str(), "--schema", f.schema.c_str(), "--worker",
            name.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int front_office(const char* self, Flags f) {
  f.schema = "scale_out_" + std::to_string(::getpid());
  outside = f.schema + "_outside";
  PGconn* c = PQconnectdb(f.db.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "cannot reach PostgreSQL: %s", PQerrorMessage(c));
    return 1;
  }
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);  // DROP ... CASCADE's notices
  sql_value(c, "CREATE SCHEMA " + outside + "; CREATE TABLE " + outside +
                   ".reservations(key text PRIMARY KEY, body text); CREATE TABLE " + outside +
                   ".charges(key text PRIMARY KEY, body text)");
  auto store = rein::PostgresStore::open(f.db, store_options(f, false));
  if (!store) return std::fprintf(stderr, "%s\n", store.error().to_string().c_str()), 1;
  rein::Runtime desk(order_desk(*store), {.store = *store});
  const auto started = std::chrono::steady_clock::now();
  for (int n = 0; n < f.orders; ++n) {
    auto run = desk.start(
        {"ship the order", {"desk-1", {"desk"}}, order_of(n), "order-" + std::to_string(n)});
    if (!run) return std::fprintf(stderr, "%s\n", run.error().to_string().c_str()), 1;
  }
  std::printf("submitted %d orders to schema %s; starting %d workers\n", f.orders, f.schema.c_str(),
              f.workers);
  std::vector<pid_t> workers;
  for (int w = 0; w < f.workers; ++w)
    workers.push_back(start_worker(self, f, "worker-" + std::to_string(w + 1)));

  bool killed = false;
  int approved = 0;
  for (;;) {
    std::this_thread::sleep_for(20ms);
    const int ended = std::atoi(sql_value(c, "SELECT count(*) FROM " + f.schema +
                                                 ".runs WHERE status IN ('completed', 'failed', "
                                                 "'needs_review', 'cancelled', 'budget_exhausted')")
                                    .c_str());
    // Worker-1 dies in the middle of its work: once a fifth of the orders are done, while it
    // holds runs.
    const int held =
        killed || ended < f.orders / 5
            ? 0
            : std::atoi(sql_value(c, "SELECT count(*) FROM " + f.schema +
                                         ".runs WHERE owner = 'worker-1' AND claimable")
                            .c_str());
    if (held > 0) {
      ::kill(workers[0], SIGKILL);
      ::waitpid(workers[0], nullptr, 0);
      killed = true;
      std::printf(
          "killed worker-1 (SIGKILL) with %d of %d orders done; the %d runs it held go to "
          "the others when its leases expire\n",
          ended, f.orders, held);
    }
    // The front office is the console: large charges wait here for a person (approved at once).
    for (const auto& p : desk.pending_approvals().value_or(std::vector<rein::PendingApproval>{})) {
      if (desk.approve(p.run_id, p.step_id, "checked by the front office")) ++approved;
    }
    if (ended == f.orders) break;
    if (std::chrono::steady_clock::now() - started > 5min) {
      std::printf("CHECK FAILED: %d of %d orders ended after five minutes\n", ended, f.orders);
      for (auto pid : workers)
        ::kill(pid, SIGKILL);
      return 1;
    }
  }
  for (std::size_t w = 1; w < workers.size(); ++w)
    ::waitpid(workers[w], nullptr, 0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  int completed = 0, verified = 0;
  const auto anchors =
      (*store)->audit_anchors().value_or(std::map<std::string, rein::AuditAnchor>{});
  for (const auto& r : (*store)->list_runs().value_or(std::vector<rein::RunSummary>{})) {
    completed += r.status == rein::RunStatus::completed;
    auto audit = (*store)->read_audit(r.run_id);
    auto anchor = anchors.find(r.run_id);
    if (!audit || anchor == anchors.end()) continue;
    const std::map<std::string, rein::AuditAnchor> own = {*anchor};
    verified += rein::verify_audit(*audit, &own).ok;
  }
  const std::string reservations =
      sql_value(c, "SELECT count(*) FROM " + outside + ".reservations");
  const std::string charges = sql_value(c, "SELECT count(*) FROM " + outside + ".charges");
  std::printf(
      "%d of %d orders completed in %.1f s by %d workers (%s); %d large charges "
      "approved from the front office\n",
      completed, f.orders, seconds, f.workers, killed ? "one killed" : "none killed", approved);
  std::printf(
      "warehouse reservations %s, bank charges %s (each key applied once); audits verified "
      "%d of %d\n",
      reservations.c_str(), charges.c_str(), verified, f.orders);
  sql_value(c, "DROP SCHEMA " + f.schema + " CASCADE; DROP SCHEMA " + outside + " CASCADE");
  PQfinish(c);
  const bool ok = completed == f.orders && verified == f.orders &&
                  reservations == std::to_string(f.orders) && charges == std::to_string(f.orders);
  std::printf(ok ? "every order once, every audit whole\n" : "CHECK FAILED\n");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // the workers' lines and ours, in order
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--db")
      f.db = value;
    else if (flag == "--schema")
      f.schema = value;
    else if (flag == "--worker")
      f.worker = value;
    else if (flag == "--workers")
      f.workers = std::max(2, std::atoi(value.c_str()));
    else if (flag == "--orders")
      f.orders = std::max(1, std::atoi(value.c_str()));
    else
      return std::fprintf(stderr, "unknown flag %s\n", flag.c_str()), 2;
  }
  if (f.db.empty()) {
    std::fprintf(stderr, "usage: scale_out --db CONNINFO [--workers N] [--orders N]\n");
    return 2;
  }
  conninfo = f.db;
  if (!f.worker.empty()) {
    outside = f.schema + "_outside";
    return worker_main(f);
  }
  return front_office(argv[0], f);
}
