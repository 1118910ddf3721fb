#include <unistd.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <sqlite3.h>

#include "rein/sqlite_store.hpp"

using nlohmann::json;
namespace fs = std::filesystem;

namespace {
struct TempDb {
  TempDb() {
    static int n = 0;
    path = fs::temp_directory_path() /
           ("rein_store_" + std::to_string(::getpid()) + "_" + std::to_string(++n) + ".db");
    remove();
  }
  ~TempDb() { remove(); }
  void remove() const {
    for (const char* suffix : {"", "-wal", "-shm"})
      fs::remove(path.string() + suffix);
  }
  fs::path path;
};

rein::AgentState state_of(const std::string& run) {
  rein::AgentState s;
  s.run_id = run;
  s.goal = "g";
  s.principal = {"p", {"analyst"}};
  return s;
}

// The next entry of `s`'s audit chain (step i), with `s` moved on to it, ready to commit.
rein::AuditEntry advance_chain(rein::AgentState& s, int i) {
  auto e = rein::make_audit_entry(s.run_id, i, s.audit_head, i, "status", {{"i", i}}, i);
  s.audit_count = i + 1;
  s.audit_head = e.hash;
  s.step_index = i;
  return e;
}

void exec(const fs::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}
}  // namespace

TEST_CASE("checkpoints and audit commit together and load back", "[store]") {
  TempDb db;
  auto store = rein::SqliteStore::open(db.path);
  REQUIRE(store.ok());
  auto s = state_of("run-1");
  std::vector<rein::AuditEntry> entries;
  entries.push_back(rein::make_audit_entry("run-1", 0, "", 0, "run", {{"goal", "g"}}, 1));
  entries.push_back(
      rein::make_audit_entry("run-1", 1, entries[0].hash, 0, "status", {{"status", "running"}}, 2));
  s.audit_count = 2;
  s.audit_head = entries[1].hash;
  REQUIRE((*store)->commit(s, entries).ok());
  auto loaded = (*store)->load("run-1");
  REQUIRE(loaded.ok());
  CHECK(loaded->to_json() == s.to_json());
  auto unknown = (*store)->load("nope");
  CHECK(rein::is_not_found(unknown));
  CHECK(unknown.error().message() == "no run 'nope'");

  auto audit = (*store)->read_audit("run-1");
  REQUIRE(audit.ok());
  CHECK(audit->size() == 2);
  auto anchors = (*store)->audit_anchors();
  REQUIRE(anchors.ok());
  CHECK(rein::verify_audit(*audit, &*anchors).ok);

  auto runs = (*store)->list_runs();
  REQUIRE(runs->size() == 1);
  CHECK(runs->at(0).run_id == "run-1");
  CHECK((*store)->durable());
}

TEST_CASE("a failed commit changes nothing", "[store]") {
  TempDb db;
  auto store = *rein::SqliteStore::open(db.path);
  auto s = state_of("run-1");
  auto e0 = rein::make_audit_entry("run-1", 0, "", 0, "run", json::object(), 1);
  REQUIRE(store->commit(s, std::vector{e0}).ok());
  s.goal = "changed";
  // seq 0 again violates the primary key: the whole transaction must roll back.
  auto dup = rein::make_audit_entry("run-1", 0, "", 1, "status", json::object(), 2);
  auto st = store->commit(s, std::vector{dup});
  REQUIRE_FALSE(st.ok());
  CHECK(store->load("run-1")->goal == "g");
  CHECK(store->read_audit("run-1")->size() == 1);
}

TEST_CASE("outcome journal, idempotency ledger and approvals", "[store]") {
  TempDb db;
  auto store = *rein::SqliteStore::open(db.path);
  auto r = rein::ToolResult::success({{"slide_id", "S001"}});
  REQUIRE(store->record_outcome("run-1", "slide", 1, r).ok());
  CHECK(*store->find_outcome("run-1", "slide", 1) == r);
  auto other_attempt = store->find_outcome("run-1", "slide", 2);
  CHECK(rein::is_not_found(other_attempt));
  CHECK(other_attempt.error().message() ==
        "no outcome journaled for run 'run-1' step 'slide' attempt 2");
  CHECK(rein::is_not_found(store->find_outcome("run-9", "slide", 1)));

  REQUIRE(store->record("slides.make", "A100-qbr", r).ok());
  REQUIRE(
      store->record("slides.make", "A100-qbr", rein::ToolResult::success({{"slide_id", "S999"}}))
          .ok());
  CHECK(store->find("slides.make", "A100-qbr")->data["slide_id"] ==
        "S001");  // the first record stays
  auto other_key = store->find("slides.make", "other");
  CHECK(rein::is_not_found(other_key));
  CHECK(other_key.error().message() ==
        "no result of tool 'slides.make' recorded under idempotency key 'other'");
  CHECK(rein::is_not_found(store->find("slides.other", "A100-qbr")));

  auto s = state_of("run-2");
  rein::StepState st;
  st.step = {"send", "email.send", {{"to", "x"}}, {}, ""};
  st.status = rein::StepStatus::awaiting_approval;
  st.approval = rein::Approval{"approval-1", "pending", "mail", "needs a person", "", 5, 0};
  s.steps.push_back(st);
  REQUIRE(store->commit(s, {}).ok());
  auto pending = store->pending_approvals();
  REQUIRE(pending->size() == 1);
  CHECK(pending->at(0).run_id == "run-2");
  CHECK(pending->at(0).tool == "email.send");
  CHECK(pending->at(0).approval.id == "approval-1");
  s.steps[0].status = rein::StepStatus::pending;
  s.steps[0].approval->status = "approved";
  REQUIRE(store->commit(s, {}).ok());
  CHECK(store->pending_approvals()->empty());
}

TEST_CASE("state survives reopening the file", "[store]") {
  TempDb db;
  {
    auto store = *rein::SqliteStore::open(db.path);
    REQUIRE(store->commit(state_of("run-1"), {}).ok());
  }
  auto again = *rein::SqliteStore::open(db.path);
  CHECK(again->load("run-1").ok());
}

TEST_CASE("opening refuses newer schemas, foreign databases and non-databases", "[store]") {
  TempDb db;
  { REQUIRE(rein::SqliteStore::open(db.path).ok()); }
  exec(db.path, "PRAGMA user_version=7");
  auto newer = rein::SqliteStore::open(db.path);
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.error().message().find(
            "database schema version 7 is newer than this rein supports (1)") != std::string::npos);

  TempDb foreign;
  exec(foreign.path, "CREATE TABLE customers(id INTEGER)");
  auto f = rein::SqliteStore::open(foreign.path);
  REQUIRE_FALSE(f.ok());
  CHECK(f.error().message().find("the database has tables but no rein schema version") !=
        std::string::npos);

  TempDb junk;
  { std::ofstream(junk.path) << std::string(4096, 'x'); }
  auto j = rein::SqliteStore::open(junk.path);
  REQUIRE_FALSE(j.ok());
  CHECK(j.error().code() == rein::ErrorCode::data_loss);

  auto missing_dir = rein::SqliteStore::open("/nonexistent-dir/x.db");
  CHECK(missing_dir.error().code() == rein::ErrorCode::unavailable);
}

TEST_CASE("a corrupt checkpoint is reported, not loaded", "[store]") {
  TempDb db;
  auto store = *rein::SqliteStore::open(db.path);
  REQUIRE(store->commit(state_of("run-1"), {}).ok());
  exec(db.path, "UPDATE runs SET state='{\"format_version\": 1, \"run_id\": 5}'");
  auto loaded = store->load("run-1");
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().code() == rein::ErrorCode::data_loss);
  CHECK_FALSE(rein::is_not_found(loaded));  // corrupt is not absent
  CHECK(loaded.error().message() ==
        "checkpoint of run 'run-1' is corrupt: agent state: field 'run_id' must be a string");
  exec(db.path, "UPDATE runs SET state='not json'");
  CHECK(store->load("run-1").error().message() == "checkpoint of run 'run-1' is not valid JSON");
}

TEST_CASE("a corrupt outcome or ledger record is data_loss, not absent", "[store]") {
  TempDb db;
  auto store = *rein::SqliteStore::open(db.path);
  REQUIRE(store->record_outcome("run-1", "slide", 1, rein::ToolResult::success({})).ok());
  REQUIRE(store->record("slides.make", "k", rein::ToolResult::success({})).ok());
  exec(db.path, "UPDATE outcomes SET result='not json'");
  exec(db.path, "UPDATE idempotency SET result='[1]'");
  auto outcome = store->find_outcome("run-1", "slide", 1);
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.error().code() == rein::ErrorCode::data_loss);
  CHECK_FALSE(rein::is_not_found(outcome));
  auto recorded = store->find("slides.make", "k");
  REQUIRE_FALSE(recorded.ok());
  CHECK(recorded.error().code() == rein::ErrorCode::data_loss);
  CHECK_FALSE(rein::is_not_found(recorded));
}

TEST_CASE("concurrency: many runs commit to one store from many threads", "[concurrency]") {
  TempDb db;
  // Two connections contend for the write lock; the busy timeout is a hang guard here, not a
  // figure a slow or sanitized machine should have to meet.
  const rein::SqliteStoreOptions patient{.busy_timeout = std::chrono::minutes(1)};
  auto store = *rein::SqliteStore::open(db.path, patient);
  auto second = *rein::SqliteStore::open(
      db.path, patient);  // another connection, as another process would have
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      auto& target = t % 2 == 0 ? store : second;
      const std::string run = "run-" + std::to_string(t);
      auto s = state_of(run);
      for (int i = 0; i < 40; ++i) {
        auto e = advance_chain(s, i);
        if (!target->commit(s, std::vector{e}).ok()) ++failures;
        if (!target->record_outcome(run, "s", i, rein::ToolResult::success({})).ok()) ++failures;
        if (!target->load(run).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(failures == 0);
  auto all = store->read_audit("");
  REQUIRE(all.ok());
  CHECK(all->size() == 240);
  auto anchors = store->audit_anchors();
  CHECK(rein::verify_audit(*all, &*anchors).ok);
  CHECK(store->load("run-3")->step_index == 39);
}

TEST_CASE(
    "concurrency: concurrent commits share transactions, and one that fails leaves the others "
    "committed",
    "[concurrency]") {
  TempDb db;
  auto store = *rein::SqliteStore::open(db.path, {.busy_timeout = std::chrono::minutes(1)});
  constexpr int kThreads = 32, kCommits = 30;
  std::atomic<int> good_failed{0}, bad_succeeded{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string run = "run-" + std::to_string(t);
      auto s = state_of(run);
      std::string head;
      for (int i = 0; i < kCommits; ++i) {
        auto e = rein::make_audit_entry(run, i, head, i, "status", {{"i", i}}, i);
        s.audit_count = i + 1;
        s.audit_head = e.hash;
        s.step_index = i;
        if (!store->commit(s, std::vector{e}).ok()) ++good_failed;
        head = e.hash;
        // The same entry again violates the audit's primary key: this commit must fail alone,
        // and must not take the state it carries with it.
        auto bad = s;
        bad.goal = "must not be stored";
        if (store->commit(bad, std::vector{e}).ok()) ++bad_succeeded;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(good_failed == 0);
  CHECK(bad_succeeded == 0);
  auto all = store->read_audit("");
  REQUIRE(all.ok());
  CHECK(all->size() == static_cast<std::size_t>(kThreads * kCommits));
  auto anchors = store->audit_anchors();
  CHECK(rein::verify_audit(*all, &*anchors).ok);
  for (int t = 0; t < kThreads; ++t) {
    auto loaded = store->load("run-" + std::to_string(t));
    REQUIRE(loaded.ok());
    CHECK(loaded->goal == "g");
    CHECK(loaded->step_index == kCommits - 1);
  }
  const auto stats = store->write_stats();
  CHECK(stats.commits == static_cast<std::uint64_t>(kThreads * kCommits));  // the good ones
  CHECK(stats.transactions <= stats.commits);
  WARN("group commit: " << stats.commits << " commits in " << stats.transactions
                        << " transactions");
}

TEST_CASE(
    "concurrency: asynchronous commits queue with blocking ones, complete on the store's "
    "writer thread, and are all written before the store closes",
    "[concurrency][store]") {
  TempDb db;
  constexpr std::size_t kRuns = 200;
  // Each run's state and entry stay put until its completion, as commit_async asks.
  std::vector<rein::AgentState> states;
  std::vector<std::vector<rein::AuditEntry>> entries;
  for (std::size_t r = 0; r < kRuns; ++r) {
    const std::string run = "async-" + std::to_string(r);
    states.push_back(state_of(run));
    entries.push_back({rein::make_audit_entry(run, 0, "", 0, "status", {{"r", r}}, 0)});
    states.back().audit_count = 1;
    states.back().audit_head = entries.back().front().hash;
  }
  std::mutex mutex;
  std::vector<rein::Status> results;
  std::set<std::thread::id> threads_seen;
  std::atomic<int> blocking_failed{0};
  {
    auto store = *rein::SqliteStore::open(db.path, {.busy_timeout = std::chrono::minutes(1)});
    REQUIRE(store->commits_asynchronously());
    // Blocking commits of other runs, at the same time, from threads of their own.
    std::vector<std::thread> blocking;
    for (int t = 0; t < 4; ++t) {
      blocking.emplace_back([&, t] {
        const std::string run = "blocking-" + std::to_string(t);
        auto s = state_of(run);
        for (int i = 0; i < 20; ++i) {
          auto e = advance_chain(s, i);
          if (!store->commit(s, std::vector{e}).ok()) ++blocking_failed;
        }
      });
    }
    for (std::size_t r = 0; r < kRuns; ++r) {
      store->commit_async(states[r], entries[r],
                          rein::Completion<rein::Status>(
                              [&](rein::Status s) {
                                std::lock_guard lock(mutex);
                                results.push_back(std::move(s));
                                threads_seen.insert(std::this_thread::get_id());
                              },
                              nullptr));
    }
    for (auto& th : blocking)
      th.join();
  }  // closing the store writes what is still queued first
  CHECK(blocking_failed == 0);
  REQUIRE(results.size() == kRuns);
  for (const auto& s : results)
    CHECK(s.ok());
  CHECK(threads_seen.count(std::this_thread::get_id()) == 0);  // never on the caller's thread
  auto store = *rein::SqliteStore::open(db.path);
  auto all = store->read_audit("");
  REQUIRE(all.ok());
  CHECK(all->size() == kRuns + 4 * 20);
  auto anchors = store->audit_anchors();
  CHECK(rein::verify_audit(*all, &*anchors).ok);
  CHECK(store->load("async-17")->audit_count == 1);

  SECTION("a failing asynchronous commit is told why and changes nothing") {
    std::optional<rein::Status> told;
    rein::AgentState again = states[0];
    again.goal = "must not be stored";
    store->commit_async(
        again, entries[0],
        rein::Completion<rein::Status>([&](rein::Status s) { told = std::move(s); }, nullptr));
    store.reset();  // drains the queue
    REQUIRE(told.has_value());
    CHECK_FALSE(told->ok());
    auto reopened = *rein::SqliteStore::open(db.path);
    CHECK(reopened->load("async-0")->goal == "g");
  }
}
