// A process that runs (or resumes) one run of a ledger agent, for the crash test to kill.
//
//   rein_crash_child STORE EFFECTS.db RUN_ID [TRACE]
//
// STORE is a SqliteStore file, or "pg:SCHEMA" for a PostgresStore on the server named by
// the environment variable REIN_TEST_POSTGRES (a libpq conninfo).
//
// The agent reads accounts and posts amounts to a ledger kept in a separate database (the
// "external system"). Posting is side-effecting and idempotent by key: the ledger records
// each key it applied in the same transaction as the balance change, as a real payment API
// would. Tools sleep a little so that kills land inside calls too. Exit 0 when the run ended.
// A RUN_ID ending in "-async" is driven by run_async with asynchronous posts; one ending in
// "-tree" is a tree of runs three levels deep (a lead, a manager, two ledger agents), every
// level in the same store.
//
// With TRACE, the child appends one line per event to that file, each a single write(2) so a
// SIGKILL never leaves half a line: "B <ns>" when main starts, "+ <ns>" when a tool call
// begins, "- <ns>" when it returns (ns: the monotonic clock, shared with the parent). The crash
// test reads it to time an uninterrupted run and to tell where each kill landed.
#include <fcntl.h>
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <random>
#include <string>
#include <thread>

#include <sqlite3.h>

#include "../support/ledger_tools.hpp"
#include "rein/rein.hpp"

using nlohmann::json;

namespace {

std::mt19937& rng() {
  thread_local std::mt19937 engine(std::random_device{}());
  return engine;
}

void pause_a_little() {
  std::this_thread::sleep_for(std::chrono::microseconds(500 + rng()() % 2500));
}

int trace_fd = -1;

void trace(char event) {
  if (trace_fd < 0) return;
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
  char line[48];
  const int n = std::snprintf(line, sizeof line, "%c %lld\n", event, static_cast<long long>(ns));
  if (n > 0) (void)!::write(trace_fd, line, static_cast<std::size_t>(n));
}

// Marks a tool call in the trace from entry to return.
struct TracedCall {
  TracedCall() { trace('+'); }
  ~TracedCall() { trace('-'); }
  TracedCall(const TracedCall&) = delete;
  TracedCall& operator=(const TracedCall&) = delete;
};

// The external ledger: one connection per call keeps it simple and crash-safe.
rein::ToolResult post(const std::string& ledger_path, const std::string& key, std::int64_t amount) {
  sqlite3* db = nullptr;
  if (sqlite3_open(ledger_path.c_str(), &db) != SQLITE_OK)
    return rein::ToolResult::failure("ledger unavailable", true);
  sqlite3_busy_timeout(db, 5000);
  const std::string sql =
      "BEGIN IMMEDIATE;"
      "INSERT INTO invocations(key) VALUES('" +
      key +
      "');"
      "INSERT INTO applied(key, amount) SELECT '" +
      key + "', " + std::to_string(amount) +
      " WHERE NOT EXISTS (SELECT 1 FROM applied WHERE key='" + key +
      "');"
      "UPDATE balance SET total = (SELECT coalesce(sum(amount), 0) FROM applied);"
      "COMMIT;";
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  if (rc != SQLITE_OK) return rein::ToolResult::failure("ledger write failed", true);
  return rein::ToolResult::success({{"posted", amount}, {"key", key}},
                                   {{"ledger", "ledger://" + key, ""}});
}

struct Store {
  std::shared_ptr<rein::RunStore> runs;
  std::shared_ptr<rein::IdempotencyStore> ledger;
};

rein::Result<Store> open_store(const std::string& where) {
  if (where.rfind("pg:", 0) == 0) {
#if REIN_WITH_POSTGRES
    const char* server = std::getenv("REIN_TEST_POSTGRES");
    if (server == nullptr)
      return rein::Error(rein::ErrorCode::invalid_argument, "REIN_TEST_POSTGRES is not set");
    auto pg = rein::PostgresStore::open(server, {.schema = where.substr(3)});
    if (!pg) return std::move(pg).error();
    return Store{*pg, *pg};
#else
    return rein::Error(rein::ErrorCode::unavailable, "this rein was built without PostgreSQL");
#endif
  }
  auto sqlite = rein::SqliteStore::open(where);
  if (!sqlite) return std::move(sqlite).error();
  return Store{*sqlite, *sqlite};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: rein_crash_child STORE.db EFFECTS.db RUN_ID [TRACE]\n");
    return 2;
  }
  if (argc == 5) trace_fd = ::open(argv[4], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  trace('B');
  const std::string store_path = argv[1], ledger_path = argv[2], run_id = argv[3];
  auto store = open_store(store_path);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().to_string().c_str());
    return 3;
  }
  auto tools = std::make_shared<rein::ToolRegistry>(
      rein::ToolRegistryOptions{.idempotency_store = store->ledger});
  const rein::ToolSpec read = rein::testing::account_read_spec();
  const rein::ToolSpec write = rein::testing::ledger_post_spec();
  (void)tools->register_tool(read, [](const json& args, rein::ToolContext&) {
    const TracedCall traced;
    pause_a_little();
    const int id = args.value("account", 0);
    return rein::ToolResult::success(
        {{"account", id}, {"amount", rein::testing::account_amount(id)}});
  });
  // A run id ending in "-async" is driven by run_async, and its ledger posts are asynchronous:
  // each completes later, from a thread of the "external system" of its own.
  const bool async = run_id.size() > 6 && run_id.compare(run_id.size() - 6, 6, "-async") == 0;
  if (async) {
    (void)tools->register_async_tool(write, [ledger_path](rein::AsyncToolCall call) {
      std::thread([ledger_path, call] {
        const TracedCall traced;
        pause_a_little();
        auto r = post(ledger_path, std::string(call.context().idempotency_key()),
                      call.args().value("amount", 0));
        pause_a_little();
        call.complete(std::move(r));
      }).detach();
    });
  } else {
    (void)tools->register_tool(write, [ledger_path](const json& args, rein::ToolContext& ctx) {
      const TracedCall traced;
      pause_a_little();
      auto r = post(ledger_path, std::string(ctx.idempotency_key()), args.value("amount", 0));
      pause_a_little();
      return r;
    });
  }

  // Reads in parallel pairs; each post depends on its read's amount. A ledger agent run posts
  // the accounts of its input ("accounts": [...] under "input", as an agent tool passes them;
  // all six for a top-level run).
  auto planner = std::make_shared<rein::StaticPlanner>([](const rein::PlanRequest& req)
                                                           -> rein::Result<rein::PlanDecision> {
    const auto& s = req.state;
    std::vector<int> accounts = {1, 2, 3, 4, 5, 6};
    if (s.input.contains("input")) accounts = s.input["input"]["accounts"].get<std::vector<int>>();
    if (s.planning_rounds == 0) {
      std::vector<rein::PlanStep> reads;
      for (int i : accounts)
        reads.push_back({"read" + std::to_string(i), "accounts.read", {{"account", i}}, {}, ""});
      return rein::PlanDecision::run(reads);
    }
    if (s.planning_rounds == 1) {
      std::vector<rein::PlanStep> posts;
      std::string previous;
      for (int i : accounts) {
        const std::string read_id = "read" + std::to_string(i);
        std::vector<std::string> deps = {read_id};
        if (!previous.empty()) deps.push_back(previous);  // posts go in order
        previous = "post" + std::to_string(i);
        posts.push_back(
            {previous, "ledger.post", {{"amount", s.outputs[read_id]["amount"]}}, deps, ""});
      }
      return rein::PlanDecision::run(posts);
    }
    std::int64_t total = 0;
    for (int i : accounts)
      total += s.outputs["post" + std::to_string(i)]["posted"].get<std::int64_t>();
    return rein::PlanDecision::finish({{"posted_total", total}});
  });
  auto policy = *rein::PolicyEngine::from_json(json::parse(R"({"rules": [
      {"id": "ledger-agent", "decision": "allow", "tool_glob": "*", "roles": ["ledger"]}]})"));
  const rein::RuntimeOptions options{.store = store->runs, .max_parallel_calls = 2};
  auto ledger_agent = std::make_shared<rein::Runtime>(
      rein::AgentConfig{"ledger", tools, policy, planner, nullptr}, options);

  // A run id ending in "-tree" is a tree of three levels, every level in the same store: a lead
  // delegates the whole job to a manager, which splits the accounts between two ledger agents.
  // Resuming the lead resumes the tree: each delegation's call runs again under its key and
  // finds the child it had started.
  const bool tree = run_id.size() > 5 && run_id.compare(run_id.size() - 5, 5, "-tree") == 0;
  std::shared_ptr<rein::Runtime> manager;
  std::unique_ptr<rein::Runtime> lead;
  if (tree) {
    auto manager_tools = std::make_shared<rein::ToolRegistry>(
        rein::ToolRegistryOptions{.idempotency_store = store->ledger});
    (void)rein::register_agent_tool(*manager_tools, ledger_agent);
    auto split = rein::StaticPlanner::fixed(
        {{"first",
          "agent.ledger",
          {{"task", "post"}, {"input", {{"accounts", {1, 2, 3}}}}},
          {},
          ""},
         {"second",
          "agent.ledger",
          {{"task", "post"}, {"input", {{"accounts", {4, 5, 6}}}}},
          {},
          ""}},
        [](const rein::AgentState& s) {
          return json{{"posted_total",
                       s.outputs["first"]["answer"]["posted_total"].get<std::int64_t>() +
                           s.outputs["second"]["answer"]["posted_total"].get<std::int64_t>()}};
        });
    manager = std::make_shared<rein::Runtime>(
        rein::AgentConfig{"manager", manager_tools, policy, split, nullptr}, options);
    auto lead_tools = std::make_shared<rein::ToolRegistry>(
        rein::ToolRegistryOptions{.idempotency_store = store->ledger});
    (void)rein::register_agent_tool(*lead_tools, manager);
    auto whole = rein::StaticPlanner::fixed(
        {{"delegate", "agent.manager", {{"task", "post the ledger"}}, {}, ""}},
        [](const rein::AgentState& s) { return s.outputs["delegate"]["answer"]; });
    lead = std::make_unique<rein::Runtime>(
        rein::AgentConfig{"lead", lead_tools, policy, whole, nullptr}, options);
  }
  rein::Runtime& runtime = tree ? *lead : *ledger_agent;

  auto existing = store->runs->load(run_id);
  if (!existing && !rein::is_not_found(existing)) {
    std::fprintf(stderr, "%s\n", existing.error().to_string().c_str());
    return 4;
  }
  const bool resume = existing.ok();
  rein::RunRequest request{"post the ledger", {"crash-test", {"ledger"}}, nullptr, run_id};
  rein::Result<rein::AgentState> run = rein::Error(rein::ErrorCode::internal, "not run");
  if (!async) {
    run = resume ? runtime.run(run_id) : runtime.run(std::move(request));
  } else if (!resume) {
    run = runtime.run_async(std::move(request)).get();
  } else {
    std::promise<rein::Result<rein::AgentState>> stopped;
    auto resumed = runtime.resume_async(
        run_id, [&stopped](const rein::Result<rein::AgentState>& r) { stopped.set_value(r); });
    run = resumed ? stopped.get_future().get()
                  : rein::Result<rein::AgentState>(std::move(resumed).error());
  }
  if (!run) {
    std::fprintf(stderr, "%s\n", run.error().to_string().c_str());
    return 4;
  }
  std::printf("%s\n", std::string(rein::to_string(run->status)).c_str());
  return rein::is_terminal(run->status) ? 0 : 5;
}
