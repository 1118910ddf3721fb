// The crash test: a child process runs a multi-step run with side-effecting tools and is
// killed with SIGKILL at random points, then resumed, again and again. Every run must end in
// the same state as an uncrashed run, every ledger posting must be applied exactly once, and
// the audit must verify. REIN_CRASH_KILLS sets how many kills to make (default 200).
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <sqlite3.h>

#include "runtime_fixture.hpp"

using namespace rein;
using namespace rein::testing;
using namespace std::chrono_literals;

namespace {

void init_ledger(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
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

// Starts the child; kills it after `kill_after` unless it finishes first. True when it
// finished on its own with exit status 0.
bool run_child(const std::string& store, const std::string& ledger, const std::string& run_id,
               std::chrono::microseconds kill_after, bool& killed) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    execl(REIN_CRASH_CHILD_PATH, REIN_CRASH_CHILD_PATH, store.c_str(), ledger.c_str(), run_id.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + kill_after;
  int status = 0;
  killed = false;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    REQUIRE(done >= 0);
    if (done == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(200us);
  }
  kill(pid, SIGKILL);
  REQUIRE(waitpid(pid, &status, 0) == pid);
  killed = WIFSIGNALED(status);
  return !killed && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// What must be the same however often the run was interrupted.
nlohmann::json outcome(const AgentState& s) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& st : s.steps) steps.push_back({st.step.id, to_string(st.status)});
  nlohmann::json review = nlohmann::json::array();
  for (const auto& item : s.needs_review) review.push_back({item.step_id, item.source, item.issues});
  return {{"status", to_string(s.status)}, {"outputs", s.outputs},
          {"final_answer", s.final_answer ? *s.final_answer : nlohmann::json()},
          {"steps", steps}, {"needs_review", review}, {"partial", s.partial}};
}

}  // namespace

TEST_CASE("crash: runs killed at random points resume to the uncrashed outcome", "[crash]") {
  const char* wanted = std::getenv("REIN_CRASH_KILLS");
  const int kills_wanted = wanted != nullptr ? std::max(1, std::atoi(wanted)) : 200;

  // The reference: one run, never interrupted.
  const auto ref_store = temp_db_path("crash_ref"), ref_ledger = temp_db_path("crash_ref_ledger");
  init_ledger(ref_ledger);
  bool killed = false;
  REQUIRE(run_child(ref_store.string(), ref_ledger.string(), "ledger-run", 60s, killed));
  const auto reference = outcome(*(*(*SqliteStore::open(ref_store))->load("ledger-run")));
  const auto expected_total = query(ref_ledger, "SELECT total FROM balance");
  REQUIRE(reference["status"] == "completed");
  REQUIRE(expected_total == 6 * 7 + 100 * (1 + 2 + 3 + 4 + 5 + 6));

  std::mt19937 rng(20261121);
  int kills = 0, runs = 0;
  std::int64_t replays = 0;  // tool invocations beyond one per key: re-runs the ledger absorbed
  while (kills < kills_wanted) {
    const auto store = temp_db_path("crash"), ledger = temp_db_path("crash_ledger");
    init_ledger(ledger);
    ++runs;
    bool finished = false;
    for (int attempt = 0; attempt < 400 && !finished; ++attempt) {
      // Early kills land in start-up and the first commits; later ones inside tool calls.
      const auto delay = std::chrono::microseconds(std::uniform_int_distribution<int>(500, 40'000)(rng));
      finished = run_child(store.string(), ledger.string(), "ledger-run", delay, killed);
      if (killed) ++kills;
    }
    REQUIRE(finished);
    auto opened = SqliteStore::open(store);
    REQUIRE(opened.ok());
    auto state = (*opened)->load("ledger-run");
    REQUIRE(state.ok());
    REQUIRE(state->has_value());
    INFO("run " << runs << " after " << kills << " kills in all");
    CHECK(outcome(**state) == reference);
    // Exactly once: every posting applied, none twice, and the balance agrees.
    CHECK(query(ledger, "SELECT count(*) FROM applied") == 6);
    CHECK(query(ledger, "SELECT total FROM balance") == expected_total);
    replays += query(ledger, "SELECT count(*) FROM invocations") - 6;
    CHECK(verify_run_audit(**opened, **state).ok);
    auto all = (*opened)->read_audit("");
    auto anchors = (*opened)->audit_anchors();
    CHECK(verify_audit(*all, &*anchors).ok);
  }
  WARN("crash test: " << kills << " kills over " << runs << " runs; " << replays
                      << " ledger calls were repeats absorbed by idempotency keys");
  CHECK(kills >= kills_wanted);
}
