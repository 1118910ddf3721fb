// The crash test: a child process runs a multi-step run with side-effecting tools (or a tree
// of such runs, three levels deep) and is killed with SIGKILL at random points, then resumed,
// again and again. Every run must end in
// the same state as an uncrashed run, every ledger posting must be applied exactly once, and
// the audit must verify. REIN_CRASH_KILLS sets how many kills to make (default 200).
//
// Nothing here assumes how fast the machine is: most kills wait for a tool call to begin (an
// event, not a time), the rest are drawn across a run timed on this machine, and a run that
// commits nothing through several kills in a row is left to finish once. The test reports
// where the kills landed, read from the trace the child writes.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include <sqlite3.h>

#include "runtime_fixture.hpp"
#ifdef REIN_TEST_POSTGRES_STORE
#include "../postgres/pg_fixture.hpp"
#endif

using namespace rein;
using namespace rein::testing;
using namespace std::chrono_literals;

namespace {

// The test runs against SqliteStore (rein_tests) and, compiled again with
// REIN_TEST_POSTGRES_STORE, against PostgresStore (rein_postgres_tests): a store's path then
// names a schema (its file name), which the child is given as "pg:SCHEMA" and opens on the
// server of REIN_TEST_POSTGRES, inherited from this process.
#ifdef REIN_TEST_POSTGRES_STORE
std::string store_arg(const std::filesystem::path& store) {
  return "pg:" + store.stem().string();
}
bool store_exists(const std::filesystem::path&) {
  return true;
}
std::shared_ptr<PostgresStore> open_store(const std::filesystem::path& store) {
  return open_pg(store.stem().string());
}
#else
std::string store_arg(const std::filesystem::path& store) {
  return store.string();
}
bool store_exists(const std::filesystem::path& store) {
  return std::filesystem::exists(store);
}
std::shared_ptr<SqliteStore> open_store(const std::filesystem::path& store) {
  auto opened = SqliteStore::open(store);
  REQUIRE(opened.ok());
  return *opened;
}
#endif

void init_ledger(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(
      sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL;"
                   "CREATE TABLE applied(key TEXT PRIMARY KEY, amount INTEGER NOT NULL);"
                   "CREATE TABLE invocations(key TEXT NOT NULL);"
                   "CREATE TABLE balance(total INTEGER NOT NULL); INSERT INTO balance VALUES(0);",
                   nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

std::int64_t query(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const auto value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// What the child's trace says about one attempt (see crash_child.cpp).
struct Trace {
  bool started = false;  // main() was reached
  int calls_begun = 0, calls_returned = 0;
  std::optional<std::int64_t> first_call_ns;  // monotonic time the first tool call began
};

Trace read_trace(const std::filesystem::path& path) {
  Trace t;
  std::ifstream in(path);
  char event = 0;
  std::int64_t ns = 0;
  while (in >> event >> ns) {
    if (event == 'B') t.started = true;
    if (event == '+' && ++t.calls_begun == 1) t.first_call_ns = ns;
    if (event == '-') ++t.calls_returned;
  }
  return t;
}

std::int64_t monotonic_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Where a kill landed, from the trace the killed child left.
enum class KillSite { start_up, runtime, tool_call };

KillSite site_of(const Trace& t) {
  if (!t.started) return KillSite::start_up;  // exec, dynamic loading, sanitizer start-up
  return t.calls_begun > t.calls_returned ? KillSite::tool_call : KillSite::runtime;
}

struct Attempt {
  bool finished = false;  // exited by itself with status 0
  bool killed = false;
  int exit_status = 0;  // as waitpid reported it
  std::chrono::steady_clock::duration elapsed{};
  Trace trace;
};

// When to kill a child: once its `at_call`-th tool call has begun (0: not on an event), or
// `after` it started, whichever comes first. Neither: let it run to its end.
struct KillPlan {
  std::optional<std::chrono::microseconds> after;
  int at_call = 0;
};

// Starts the child and kills it as `plan` says, unless it finishes first; `hang_guard` only
// stops a child that would never end.
Attempt run_child(const std::string& store, const std::string& ledger, const std::string& run_id,
                  const std::filesystem::path& trace_path, KillPlan plan) {
  constexpr auto hang_guard = std::chrono::minutes(10);
  std::filesystem::remove(trace_path);
  Attempt a;
  const auto started = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    execl(REIN_CRASH_CHILD_PATH, REIN_CRASH_CHILD_PATH, store.c_str(), ledger.c_str(),
          run_id.c_str(), trace_path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const bool may_kill = plan.after.has_value() || plan.at_call > 0;
  const auto deadline =
      started + (plan.after
                     ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(*plan.after)
                     : std::chrono::duration_cast<std::chrono::steady_clock::duration>(hang_guard));
  int status = 0;
  bool exited = false;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    REQUIRE(done >= 0);
    if (done == pid) {
      exited = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    if (plan.at_call > 0 && read_trace(trace_path).calls_begun >= plan.at_call) break;
    std::this_thread::sleep_for(200us);
  }
  if (!exited) {
    kill(pid, SIGKILL);
    REQUIRE(waitpid(pid, &status, 0) == pid);
  }
  a.elapsed = std::chrono::steady_clock::now() - started;
  a.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  a.finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  a.exit_status = status;
  a.trace = read_trace(trace_path);
  if (!may_kill) {
    INFO("a child left to run to its end was still running after " << hang_guard.count()
                                                                   << " minutes");
    REQUIRE_FALSE(a.killed);
  }
  return a;
}

// Committed progress: the entries in the audit chains of every run in the store (one or more
// per commit), so that a tree's children count too.
std::int64_t committed(const std::filesystem::path& store) {
  if (!store_exists(store)) return -1;
  auto opened = open_store(store);
  auto runs = opened->list_runs();
  REQUIRE(runs.ok());
  std::int64_t entries = 0;
  for (const auto& r : *runs) {
    auto state = opened->load(r.run_id);
    REQUIRE(state.ok());
    entries += state->audit_count;
  }
  return entries;
}

// What must be the same however often the run was interrupted.
nlohmann::json outcome(const AgentState& s) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& st : s.steps)
    steps.push_back({st.step.id, to_string(st.status)});
  nlohmann::json review = nlohmann::json::array();
  for (const auto& item : s.needs_review)
    review.push_back({item.step_id, item.source, item.issues});
  return {{"status", to_string(s.status)},
          {"outputs", s.outputs},
          {"final_answer", s.final_answer ? *s.final_answer : nlohmann::json()},
          {"steps", steps},
          {"needs_review", review},
          {"partial", s.partial}};
}

}  // namespace

TEST_CASE("crash: runs killed at random points resume to the uncrashed outcome", "[crash]") {
  const char* wanted = std::getenv("REIN_CRASH_KILLS");
  const int kills_wanted = wanted != nullptr ? std::max(1, std::atoi(wanted)) : 200;
  // Kills in a row that commit nothing before one attempt is left to run to its end. The
  // harness never assumes how fast the machine is (see the top of this file): a run that stops
  // making progress under the kills still gets to finish.
  constexpr int stall_limit = 8;

  // The reference: one run, never interrupted, timed.
  const auto ref_store = temp_db_path("crash_ref"), ref_ledger = temp_db_path("crash_ref_ledger");
  const auto trace_path = temp_db_path("crash_trace");
  init_ledger(ref_ledger);
  const auto ref_start = std::chrono::steady_clock::now();
  const Attempt ref =
      run_child(store_arg(ref_store), ref_ledger.string(), "ledger-run", trace_path, {});
  REQUIRE(ref.finished);
  REQUIRE(ref.trace.first_call_ns.has_value());
  const auto expected_total = query(ref_ledger, "SELECT total FROM balance");
  REQUIRE(expected_total == 6 * 7 + 100 * (1 + 2 + 3 + 4 + 5 + 6));
  // The outcome names the run (idempotency keys start with its id): one reference per mode.
  std::map<std::string, nlohmann::json> reference;
  reference["ledger-run"] = outcome(*open_store(ref_store)->load("ledger-run"));
  {
    const auto async_store = temp_db_path("crash_ref_async"),
               async_ledger = temp_db_path("crash_ref_async_ledger");
    init_ledger(async_ledger);
    REQUIRE(
        run_child(store_arg(async_store), async_ledger.string(), "ledger-run-async", trace_path, {})
            .finished);
    reference["ledger-run-async"] = outcome(*open_store(async_store)->load("ledger-run-async"));
    REQUIRE(query(async_ledger, "SELECT total FROM balance") == expected_total);
  }
  {
    const auto tree_store = temp_db_path("crash_ref_tree"),
               tree_ledger = temp_db_path("crash_ref_tree_ledger");
    init_ledger(tree_ledger);
    REQUIRE(
        run_child(store_arg(tree_store), tree_ledger.string(), "ledger-run-tree", trace_path, {})
            .finished);
    reference["ledger-run-tree"] = outcome(*open_store(tree_store)->load("ledger-run-tree"));
    REQUIRE(query(tree_ledger, "SELECT total FROM balance") == expected_total);
    REQUIRE(reference["ledger-run-tree"]["final_answer"]["posted_total"] == expected_total);
  }
  for (const auto& [id, r] : reference)
    REQUIRE(r["status"] == "completed");

  // Three kills in four wait for a tool call to begin (the n-th of the run's twelve): they
  // land inside calls, where an effect may have happened without its outcome being recorded.
  // The rest come after a delay drawn across this machine's uninterrupted run, from half-way
  // to its first tool call (start-up and the first commits) to its end: they land anywhere.
  // A resumed attempt has less left to do, so late kills let it finish.
  const auto whole = std::chrono::duration_cast<std::chrono::microseconds>(ref.elapsed);
  const auto to_first_call =
      std::chrono::microseconds((*ref.trace.first_call_ns - monotonic_ns(ref_start)) / 1000);
  const auto earliest = std::clamp(to_first_call / 2, std::chrono::microseconds(100), whole);
  std::uniform_int_distribution<std::int64_t> kill_delay(earliest.count(),
                                                         std::max(earliest, whole).count());
  std::uniform_int_distribution<int> kill_kind(0, 3), kill_call(1, ref.trace.calls_begun);

  std::mt19937 rng(20261121);
  int kills = 0, runs = 0, let_finish = 0;
  std::map<KillSite, int> sites;
  std::int64_t replays = 0;  // tool invocations beyond one per key: re-runs the ledger absorbed
  while (kills < kills_wanted) {
    const auto store = temp_db_path("crash"), ledger = temp_db_path("crash_ledger");
    init_ledger(ledger);
    ++runs;
    // Runs take turns: a run driven by run() with synchronous ledger posts, one driven by
    // run_async with asynchronous posts, and a tree of runs three levels deep (crash_child).
    static const char* const kModes[] = {"ledger-run", "ledger-run-async", "ledger-run-tree"};
    const std::string run_id = kModes[(runs - 1) % 3];
    bool finished = false;
    int stalled = 0;
    std::int64_t progress = committed(store);
    while (!finished) {
      KillPlan plan;
      if (stalled >= stall_limit) {
        ++let_finish;
      } else if (kill_kind(rng) != 0) {
        plan.at_call = kill_call(rng);  // fewer calls left than that: the attempt finishes
      } else {
        plan.after = std::chrono::microseconds(kill_delay(rng));
      }
      const Attempt a = run_child(store_arg(store), ledger.string(), run_id, trace_path, plan);
      finished = a.finished;
      if (!a.killed) {
        INFO(run_id << " " << runs
                    << ": the child stopped by itself without finishing the run (exit status "
                    << a.exit_status << ")");
        REQUIRE(finished);
        break;
      }
      ++kills;
      ++sites[site_of(a.trace)];
      const auto now_committed = committed(store);
      stalled = now_committed > progress ? 0 : stalled + 1;
      progress = std::max(progress, now_committed);
    }
    auto opened = open_store(store);
    auto state = opened->load(run_id);
    REQUIRE(state.ok());
    INFO(run_id << " " << runs << " after " << kills << " kills in all");
    CHECK(outcome(*state) == reference[run_id]);
    // Exactly once: every posting applied, none twice, and the balance agrees.
    CHECK(query(ledger, "SELECT count(*) FROM applied") == 6);
    CHECK(query(ledger, "SELECT total FROM balance") == expected_total);
    replays += query(ledger, "SELECT count(*) FROM invocations") - 6;
    CHECK(verify_run_audit(*opened, *state).ok);
    auto all = opened->read_audit("");
    auto anchors = opened->audit_anchors();
    CHECK(verify_audit(*all, &*anchors).ok);
    // Every run of a tree ended, each where the uncrashed tree's did.
    auto listed = opened->list_runs();
    REQUIRE(listed.ok());
    CHECK(listed->size() == (run_id == "ledger-run-tree" ? 4u : 1u));
    for (const auto& r : *listed)
      CHECK(r.status == RunStatus::completed);
  }
  WARN("crash test: " << kills << " kills over " << runs << " runs (a third each driven by "
                      << "run(), by run_async with asynchronous ledger posts, and as a tree of "
                      << "runs three levels deep; uninterrupted run " << whole.count() / 1000
                      << " ms, kill delays " << earliest.count() / 1000 << "-"
                      << whole.count() / 1000 << " ms); kills inside tool calls "
                      << sites[KillSite::tool_call] << ", in the runtime between calls "
                      << sites[KillSite::runtime] << ", in process start-up "
                      << sites[KillSite::start_up] << "; " << let_finish
                      << " attempts left to finish after " << stall_limit
                      << " kills without a commit; " << replays
                      << " ledger calls were repeats absorbed by idempotency keys");
  CHECK(kills >= kills_wanted);
  // The kills reach into the tool calls, where an effect may have happened without its outcome
  // being recorded: the case the ledger's idempotency keys exist for.
  CHECK(sites[KillSite::tool_call] > 0);
  CHECK(ref.trace.calls_begun == 12);
}
