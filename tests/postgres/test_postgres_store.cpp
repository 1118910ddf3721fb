// The store contract, run against SqliteStore and PostgresStore alike, then what only the shared
// store has: schema checks, fencing, leases and agent versions.
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "pg_fixture.hpp"

using nlohmann::json;
using namespace rein;
using namespace rein::testing;
namespace fs = std::filesystem;

namespace {

struct SqliteKind {
  static constexpr const char* name = "SqliteStore";
  SqliteKind() {
    static int n = 0;
    path = fs::temp_directory_path() /
           ("rein_contract_" + std::to_string(::getpid()) + "_" + std::to_string(++n) + ".db");
  }
  ~SqliteKind() {
    for (const char* suffix : {"", "-wal", "-shm"})
      fs::remove(path.string() + suffix);
  }
  std::shared_ptr<SqliteStore> open() { return *SqliteStore::open(path); }
  fs::path path;
};

struct PostgresKind {
  static constexpr const char* name = "PostgresStore";
  std::shared_ptr<PostgresStore> open() { return open_pg(schema); }
  std::string schema = fresh_schema("contract");
};

AgentState state_of(const std::string& run, RunStatus status = RunStatus::running) {
  AgentState s;
  s.run_id = run;
  s.goal = "g";
  s.principal = {"p", {"analyst"}};
  s.status = status;
  return s;
}

AuditEntry advance_chain(AgentState& s, int i) {
  auto e = make_audit_entry(s.run_id, i, s.audit_head, i, "status", {{"i", i}}, i);
  s.audit_count = i + 1;
  s.audit_head = e.hash;
  s.step_index = i;
  return e;
}

}  // namespace

TEMPLATE_TEST_CASE("store contract: checkpoints and audit commit together and load back",
                   "[store][postgres]", SqliteKind, PostgresKind) {
  TestType kind;
  auto store = kind.open();
  auto s = state_of("run-1");
  std::vector<AuditEntry> entries{advance_chain(s, 0), advance_chain(s, 1)};
  REQUIRE(store->commit(s, entries).ok());
  auto loaded = store->load("run-1");
  REQUIRE(loaded.ok());
  CHECK(loaded->to_json() == s.to_json());
  auto unknown = store->load("nope");
  CHECK(is_not_found(unknown));
  CHECK(unknown.error().message() == "no run 'nope'");
  auto audit = store->read_audit("run-1");
  REQUIRE(audit->size() == 2);
  CHECK(audit->at(1).hash == s.audit_head);
  auto anchors = store->audit_anchors();
  CHECK(verify_audit(*audit, &*anchors).ok);
  auto runs = store->list_runs();
  REQUIRE(runs->size() == 1);
  CHECK(runs->at(0).run_id == "run-1");
  CHECK(store->durable());
  CHECK_FALSE(store->append_audit({}).ok());
  // Reopened (a restart), everything is still there.
  store.reset();
  auto again = kind.open();
  CHECK(again->load("run-1")->audit_head == s.audit_head);
}

TEMPLATE_TEST_CASE("store contract: a failed commit changes nothing", "[store][postgres]",
                   SqliteKind, PostgresKind) {
  TestType kind;
  auto store = kind.open();
  auto s = state_of("run-1");
  auto e0 = advance_chain(s, 0);
  REQUIRE(store->commit(s, std::vector{e0}).ok());
  s.goal = "changed";
  auto dup = make_audit_entry("run-1", 0, "", 1, "status", json::object(), 2);  // seq 0 again
  REQUIRE_FALSE(store->commit(s, std::vector{dup}).ok());
  CHECK(store->load("run-1")->goal == "g");
  CHECK(store->read_audit("run-1")->size() == 1);
  s.goal = "changed again";  // and the store takes the next good commit
  REQUIRE(store->commit(s, {}).ok());
  CHECK(store->load("run-1")->goal == "changed again");
}

TEMPLATE_TEST_CASE("store contract: outcome journal, idempotency ledger and approvals",
                   "[store][postgres]", SqliteKind, PostgresKind) {
  TestType kind;
  auto store = kind.open();
  auto r = ToolResult::success({{"slide_id", "S001"}});
  REQUIRE(store->record_outcome("run-1", "slide", 1, r).ok());
  CHECK(*store->find_outcome("run-1", "slide", 1) == r);
  auto other = store->find_outcome("run-1", "slide", 2);
  CHECK(other.error().message() == "no outcome journaled for run 'run-1' step 'slide' attempt 2");
  REQUIRE(store->record("slides.make", "A100", r).ok());
  REQUIRE(store->record("slides.make", "A100", ToolResult::success({{"slide_id", "S9"}})).ok());
  CHECK(store->find("slides.make", "A100")->data["slide_id"] == "S001");  // the first stays
  CHECK(store->find("slides.make", "other").error().message() ==
        "no result of tool 'slides.make' recorded under idempotency key 'other'");

  auto s = state_of("run-2", RunStatus::awaiting_approval);
  StepState st;
  st.step = {"send", "email.send", {{"to", "x"}}, {}, ""};
  st.status = StepStatus::awaiting_approval;
  st.approval = Approval{"approval-1", "pending", "mail", "needs a person", "", 5, 0};
  s.steps.push_back(st);
  REQUIRE(store->commit(s, {}).ok());
  auto pending = store->pending_approvals();
  REQUIRE(pending->size() == 1);
  CHECK(pending->at(0).tool == "email.send");
  CHECK(pending->at(0).args == json{{"to", "x"}});
  CHECK(pending->at(0).approval.reason == "needs a person");
  s.steps[0].status = StepStatus::pending;
  s.steps[0].approval->status = "approved";
  REQUIRE(store->commit(s, {}).ok());
  CHECK(store->pending_approvals()->empty());
}

TEMPLATE_TEST_CASE("store contract: many runs commit at once from many threads, in groups",
                   "[store][postgres][concurrency]", SqliteKind, PostgresKind) {
  TestType kind;
  auto store = kind.open();
  constexpr int kThreads = 8, kSteps = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto s = state_of("run-" + std::to_string(t));
      for (int i = 0; i < kSteps; ++i) {
        auto e = advance_chain(s, i);
        if (!store->commit(s, std::vector{e}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  CHECK(failures == 0);
  auto anchors = store->audit_anchors();
  auto audit = store->read_audit("");
  CHECK(audit->size() == kThreads * kSteps);
  CHECK(verify_audit(*audit, &*anchors).ok);
  const auto stats = store->write_stats();
  CHECK(stats.commits == kThreads * kSteps);
  CHECK(stats.transactions <= stats.commits);
}

TEST_CASE(
    "PostgresStore: opening refuses bad schema names, foreign and newer schemas, and "
    "unreachable servers",
    "[postgres]") {
  auto bad = PostgresStore::open(pg_conninfo(), {.schema = "Robert'); DROP TABLE x;--"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::invalid_argument);
  CHECK_THAT(bad.error().message(), Catch::Contains("lower-case letters"));

  const std::string foreign = fresh_schema("foreign");
  pg_sql("CREATE SCHEMA " + foreign + "; CREATE TABLE " + foreign + ".accounts(id int)");
  auto refused = PostgresStore::open(pg_conninfo(), {.schema = foreign});
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message(), Catch::Contains("not rein's"));
  CHECK(pg_sql("SELECT count(*) FROM information_schema.tables WHERE table_schema = '" + foreign +
               "'") == "1");  // nothing added

  const std::string newer = fresh_schema("newer");
  open_pg(newer);
  pg_sql("UPDATE " + newer + ".schema_version SET version = 99");
  auto too_new = PostgresStore::open(pg_conninfo(), {.schema = newer});
  REQUIRE_FALSE(too_new.ok());
  CHECK_THAT(too_new.error().message(), Catch::Contains("version 99, newer than this rein"));

  auto down = PostgresStore::open("host=/nonexistent-socket-dir port=1 user=rein");
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().code() == ErrorCode::unavailable);
  CHECK_THAT(down.error().message(), Catch::Contains("cannot connect"));
}

TEST_CASE("PostgresStore: processes opening one schema together migrate it once", "[postgres]") {
  const std::string schema = fresh_schema("together");
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      if (PostgresStore::open(pg_conninfo(), {.schema = schema}).ok()) ++opened;
    });
  }
  for (auto& t : threads)
    t.join();
  CHECK(opened == 6);
  CHECK(pg_sql("SELECT count(*) FROM " + schema + ".schema_version") == "1");
}

TEST_CASE(
    "PostgresStore: a commit made on a stale copy is refused by the fence, and changes "
    "nothing",
    "[postgres]") {
  const std::string schema = fresh_schema("fence");
  auto a = open_pg(schema, {.worker_id = "a"});
  auto b = open_pg(schema, {.worker_id = "b"});
  auto s = state_of("run-1");
  REQUIRE(a->commit(s, std::vector{advance_chain(s, 0)}).ok());

  // A second process cannot create a run under the same id.
  auto twin = state_of("run-1");
  auto created = b->commit(twin, std::vector{advance_chain(twin, 0)});
  REQUIRE_FALSE(created.ok());
  CHECK(created.error().code() == ErrorCode::aborted);
  CHECK_THAT(created.error().message(), Catch::Contains("load it before changing it"));

  // b loads and moves on; a's copy is now stale.
  auto copy = *b->load("run-1");
  REQUIRE(b->commit(copy, std::vector{advance_chain(copy, 1)}).ok());
  auto stale = a->commit(s, std::vector{advance_chain(s, 1)});
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code() == ErrorCode::aborted);
  CHECK_THAT(stale.error().message(), Catch::Contains("changed by another process"));
  // The outcome journal is fenced too.
  auto journal = a->record_outcome("run-1", "s1", 1, ToolResult::success({}));
  CHECK(journal.error().code() == ErrorCode::aborted);
  CHECK(rein::is_not_found(b->find_outcome("run-1", "s1", 1)));
  // What b committed stands, its chain whole.
  CHECK(b->load("run-1")->audit_head == copy.audit_head);
  const auto anchors = *b->audit_anchors();
  CHECK(verify_audit(*b->read_audit("run-1"), &anchors).ok);
  // a reloads and may go on.
  auto fresh = *a->load("run-1");
  REQUIRE(a->commit(fresh, std::vector{advance_chain(fresh, 2)}).ok());
}

TEST_CASE(
    "PostgresStore: leases are claimed once, renewed, released, and taken over when they "
    "expire",
    "[postgres]") {
  const std::string schema = fresh_schema("lease");
  auto submitter = open_pg(schema, {.worker_id = "submitter", .lease_new_runs = false});
  for (int i = 0; i < 6; ++i) {
    auto s = state_of("run-" + std::to_string(i));
    REQUIRE(submitter->commit(s, std::vector{advance_chain(s, 0)}).ok());
  }
  auto done = state_of("run-done", RunStatus::completed);
  REQUIRE(submitter->commit(done, {}).ok());
  auto waiting = state_of("run-waiting", RunStatus::awaiting_approval);
  StepState st;
  st.step = {"send", "email.send", json::object(), {}, ""};
  st.status = StepStatus::awaiting_approval;
  st.approval = Approval{"a-1", "pending", "mail", "a person decides", "", 5, 0};
  waiting.steps.push_back(st);
  REQUIRE(submitter->commit(waiting, {}).ok());

  const auto lease = std::chrono::milliseconds(400);
  auto w1 = open_pg(schema, {.worker_id = "w1", .lease = lease});
  auto w2 = open_pg(schema, {.worker_id = "w2", .lease = lease});
  auto first = w1->claim(4);
  REQUIRE(first->runs.size() == 4);
  auto second = w2->claim(10);
  REQUIRE(second->runs.size() == 2);  // the rest; ended and suspended runs are not offered
  std::set<std::string> all(first->runs.begin(), first->runs.end());
  all.insert(second->runs.begin(), second->runs.end());
  CHECK(all.size() == 6);
  CHECK(w2->claim(10)->runs.empty());

  // Renewed leases hold; w1 lets one go, and w2 may take it.
  CHECK(w1->renew()->size() == 4);
  REQUIRE(w1->release(first->runs[0]).ok());
  CHECK(w1->renew()->size() == 3);
  auto freed = w2->claim(10);
  REQUIRE(freed->runs.size() == 1);
  CHECK(freed->runs[0] == first->runs[0]);

  // w1 stops renewing (it died): after the lease, w2 takes its runs over, and w1's commits to
  // them are refused.
  std::this_thread::sleep_for(lease + std::chrono::milliseconds(200));
  CHECK(w2->renew()->size() == 3);
  auto taken = w2->claim(10);
  REQUIRE(taken->runs.size() == 3);
  auto late = state_of(first->runs[1]);
  auto refused = w1->commit(late, std::vector{advance_chain(late, 1)});
  CHECK(refused.error().code() == ErrorCode::aborted);
  CHECK_THAT(refused.error().message(), Catch::Contains("held by 'w2'"));
  CHECK(w1->renew()->empty());

  // A decided approval makes the suspended run claimable.
  auto approver = open_pg(schema, {.worker_id = "console"});
  auto w = *approver->load("run-waiting");
  w.steps[0].status = StepStatus::pending;
  w.steps[0].approval->status = "approved";
  REQUIRE(approver->commit(w, {}).ok());
  CHECK(approver->pending_approvals()->empty());
  CHECK(approver->renew()->empty());  // deciding took no lease
  auto decided = w2->claim(10);
  REQUIRE(decided->runs.size() == 1);
  CHECK(decided->runs[0] == "run-waiting");
}

TEST_CASE("PostgresStore: a worker claims only runs of its agent version and says what it left",
          "[postgres]") {
  const std::string schema = fresh_schema("version");
  auto v1 = open_pg(schema, {.agent_version = "v1", .lease_new_runs = false});
  auto v2 = open_pg(schema, {.agent_version = "v2", .lease_new_runs = false});
  for (int i = 0; i < 3; ++i) {
    auto s = state_of("old-" + std::to_string(i));
    REQUIRE(v1->commit(s, {}).ok());
  }
  auto n = state_of("new-0");
  REQUIRE(v2->commit(n, {}).ok());
  auto claimed = v2->claim(10);
  REQUIRE(claimed->runs.size() == 1);
  CHECK(claimed->runs[0] == "new-0");
  CHECK(claimed->left_for_other_versions == std::map<std::string, std::size_t>{{"v1", 3}});
  // A v2 store cannot change a v1 run even after loading it; a versionless one (a console) can.
  auto old = *v2->load("old-0");
  auto refused = v2->commit(old, {});
  CHECK(refused.error().code() == ErrorCode::invalid_argument);
  CHECK_THAT(refused.error().message(), Catch::Contains("belongs to agent version 'v1'"));
  auto console = open_pg(schema, {});
  auto seen = *console->load("old-0");
  CHECK(console->commit(seen, {}).ok());
  CHECK(v1->claim(10)->runs.size() == 3);
}

TEST_CASE("PostgresStore: the LLM cache is shared by every process on the schema", "[postgres]") {
  const std::string schema = fresh_schema("cache");
  auto one = open_pg(schema)->llm_cache();
  auto two = open_pg(schema)->llm_cache();  // keeps its store alive by itself
  LlmResponse r;
  r.content = "cached answer";
  r.prompt_tokens = 12;
  one->put("k1", r, 2000);
  one->put("k-old", r, 500);
  auto hit = two->get("k1", 1000);
  REQUIRE(hit.has_value());
  CHECK(hit->content == "cached answer");
  CHECK(hit->prompt_tokens == 12);
  CHECK_FALSE(two->get("k-old", 1000).has_value());  // expired: a miss, and removed
  CHECK_FALSE(two->get("absent", 1000).has_value());
  CHECK(one->size() == 1);
  pg_sql("UPDATE " + schema + ".llm_cache SET response = 'not json' WHERE key = 'k1'");
  CHECK_FALSE(one->get("k1", 1000).has_value());  // unreadable: a miss, and removed
  CHECK(one->size() == 0);
}

TEST_CASE(
    "PostgresStore: a server that goes away fails operations as unavailable, and the "
    "store reconnects when it is back",
    "[postgres]") {
  // A server of this test's own: the shared one serves other tests meanwhile. Durable (no
  // --fast): an immediate stop must not lose what was committed.
  const std::string dir = "/tmp/rein-pg-restart-" + std::to_string(::getpid());
  const std::string script = REIN_PG_SERVER_SCRIPT;
  auto server = [&](const std::string& command) {
    return std::system(("bash " + script + " " + command + " " + dir + " >/dev/null").c_str());
  };
  // Stopped however the test ends.
  struct Stop {
    std::function<int(const std::string&)> server;
    ~Stop() { server("stop"); }
  } stop{server};
  REQUIRE(server("start") == 0);
  const std::string conninfo = "host=" + dir + " port=5432 user=rein dbname=postgres";
  auto store = *PostgresStore::open(conninfo, {.schema = "restart", .connections = 2});
  auto s = state_of("run-1");
  REQUIRE(store->commit(s, std::vector{advance_chain(s, 0)}).ok());

  const std::string data = dir + "/data";
  const std::string as_owner = ::getuid() == 0 ? "runuser -u postgres -- " : "";
  const std::string pg_ctl = "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pg_ctl";
  REQUIRE(std::system(
              (as_owner + pg_ctl + " -D " + data + " -m immediate -w stop >/dev/null").c_str()) ==
          0);
  auto lost = store->commit(s, std::vector{advance_chain(s, 1)});
  REQUIRE_FALSE(lost.ok());
  CHECK(lost.error().code() == ErrorCode::unavailable);
  CHECK(store->load("run-1").error().code() == ErrorCode::unavailable);

  REQUIRE(std::system((as_owner + pg_ctl + " -D " + data + " -l " + dir + "/server.log -o \"-k " +
                       dir + " -c listen_addresses= -p 5432\" -w start >/dev/null")
                          .c_str()) == 0);
  // Back: the failed commit left nothing, and the run goes on from its last commit.
  auto back = store->load("run-1");
  INFO((back ? "" : back.error().to_string()));
  REQUIRE(back.ok());
  CHECK(back->audit_count == 1);
  auto next = *back;
  REQUIRE(store->commit(next, std::vector{advance_chain(next, 1)}).ok());
  CHECK(store->read_audit("run-1")->size() == 2);
  store.reset();
}
