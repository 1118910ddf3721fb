// Runs that outlive a Runtime: approvals across a restart, recovery of interrupted steps,
// cancellation, concurrent steps and many runs in one database.
#include <catch2/catch.hpp>
#include <thread>

#include <sqlite3.h>

#include "../support/waiting.hpp"
#include "runtime_fixture.hpp"
#ifdef REIN_TEST_POSTGRES_STORE
#include "../postgres/pg_fixture.hpp"
#endif

using namespace rein;
using namespace rein::testing;
using namespace std::chrono_literals;

namespace {

// These tests run against SqliteStore (rein_tests) and, compiled again with
// REIN_TEST_POSTGRES_STORE, against PostgresStore (rein_postgres_tests): `db` then names the
// schema (its file name, which is a valid schema name) instead of the file.
struct World {
#ifdef REIN_TEST_POSTGRES_STORE
  std::shared_ptr<PostgresStore> store;
  static std::shared_ptr<PostgresStore> open(const std::filesystem::path& db) {
    return open_pg(db.stem().string());
  }
#else
  std::shared_ptr<SqliteStore> store;
  static std::shared_ptr<SqliteStore> open(const std::filesystem::path& db) {
    return *SqliteStore::open(db);
  }
#endif
  std::shared_ptr<ToolRegistry> tools;
  CallLog log;

  explicit World(const std::filesystem::path& db) {
    store = open(db);
    tools = std::make_shared<ToolRegistry>(ToolRegistryOptions{.idempotency_store = store});
  }
  void add(ToolSpec s, std::function<ToolResult(const json&, ToolContext&)> fn = nullptr) {
    const std::string name = s.name;
    REQUIRE(tools
                ->register_tool(s,
                                [this, name, fn](const json& args, ToolContext& ctx) {
                                  log.add(name);
                                  return fn ? fn(args, ctx)
                                            : ToolResult::success(
                                                  {{"tool", name},
                                                   {"key", std::string(ctx.idempotency_key())}});
                                })
                .ok());
  }
};

PolicyEngine approval_policy() {
  return *PolicyEngine::from_json(json::parse(R"({"rules": [
      {"id": "read", "decision": "allow", "tool_glob": "crm.*"},
      {"id": "send-needs-approval", "decision": "require_approval", "tool": "email.send",
       "description": "outbound mail is checked by a person"}]})"));
}

}  // namespace

TEST_CASE("approval suspends the run, approve and resume work across a restart",
          "[runtime][approval]") {
  const auto db = temp_db_path("approval");
  auto plan = [] {
    return StaticPlanner::fixed(
        {call("lookup", "crm.search"), call("mail", "email.send", {{"to", "a@b.c"}}, {"lookup"})});
  };
  std::string run_id;
  {
    World w(db);
    w.add(spec("crm.search"));
    w.add(spec("email.send", true));
    Runtime rt(AgentConfig{"a", w.tools, approval_policy(), plan(), nullptr},
               RuntimeOptions{.store = w.store});
    auto run = rt.run(RunRequest{"send the QBR", {"riley", {"analyst"}}, nullptr, "approval-run"});
    REQUIRE(run.ok());
    run_id = run->run_id;
    CHECK(run->status == RunStatus::awaiting_approval);
    CHECK(run->find_step("mail")->status == StepStatus::awaiting_approval);
    CHECK(w.log.count("email.send") == 0);
    CHECK(w.log.count("crm.search") == 1);
  }  // the process "restarts": runtime, registry and store are gone
  World w(db);
  w.add(spec("crm.search"));
  w.add(spec("email.send", true));
  Runtime rt(AgentConfig{"a", w.tools, approval_policy(), plan(), nullptr},
             RuntimeOptions{.store = w.store});
  auto pending = rt.pending_approvals();
  REQUIRE(pending->size() == 1);
  CHECK(pending->at(0).run_id == run_id);
  CHECK(pending->at(0).step_id == "mail");
  CHECK(pending->at(0).approval.rule == "send-needs-approval");
  CHECK(pending->at(0).approval.reason ==
        "rule 'send-needs-approval' requires approval: outbound mail is checked by a person");
  CHECK(rt.run(run_id)->status == RunStatus::awaiting_approval);  // nothing moves until decided
  CHECK(rt.approve(run_id, "lookup").error().message() == "step 'lookup' is not awaiting approval");
  REQUIRE(rt.approve(run_id, "mail", "looks right").ok());
  CHECK(rt.pending_approvals()->empty());
  auto run = rt.run(run_id);
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::completed);
  CHECK(w.log.count("email.send") == 1);
  CHECK(w.log.count("crm.search") == 0);  // not repeated after the restart
  CHECK(run->find_step("mail")->approval->note == "looks right");
  CHECK(run->find_step("mail")->decision->reason == "approved by a person: looks right");
  CHECK(verify_run_audit(*w.store, *run).ok);
}

TEST_CASE("a denied approval is reported and the run goes on without it", "[runtime][approval]") {
  World w(temp_db_path("deny"));
  w.add(spec("crm.search"));
  w.add(spec("email.send", true));
  Runtime rt(
      AgentConfig{"a", w.tools, approval_policy(),
                  StaticPlanner::fixed({call("mail", "email.send"), call("lookup", "crm.search")}),
                  nullptr},
      RuntimeOptions{.store = w.store});
  auto run = rt.run(RunRequest{"g", {}, nullptr, "deny-run"});
  CHECK(run->status == RunStatus::awaiting_approval);
  CHECK(run->find_step("lookup")->status == StepStatus::succeeded);  // independent work went ahead
  REQUIRE(rt.deny("deny-run", "mail", "wrong recipient").ok());
  auto done = rt.run("deny-run");
  CHECK(done->status == RunStatus::needs_review);
  CHECK(done->find_step("mail")->status == StepStatus::denied);
  CHECK(done->needs_review[0].issues ==
        std::vector<std::string>{"denied by a person: wrong recipient"});
  CHECK(w.log.count("email.send") == 0);
}

TEST_CASE("independent steps run concurrently, results are applied in plan order", "[runtime]") {
  auto tools = std::make_shared<ToolRegistry>();
  // Each call waits until all four are in flight, so the test passes only if they overlap,
  // however long the runtime takes to start its threads; a runtime that ran them one at a
  // time would leave the first waiting until the hang guard.
  auto all_in_flight = std::make_shared<Rendezvous>(4);
  auto met = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 4; ++i) {
    REQUIRE(tools
                ->register_tool(spec("slow.t" + std::to_string(i)),
                                [all_in_flight, met](const json&, ToolContext&) {
                                  if (all_in_flight->arrive()) ++*met;
                                  return ToolResult::success({{"ok", true}});
                                })
                .ok());
  }
  std::vector<PlanStep> steps;
  for (int i = 3; i >= 0; --i)
    steps.push_back(call("s" + std::to_string(i), "slow.t" + std::to_string(i)));
  auto tracer = std::make_shared<Tracer>();
  Runtime rt(AgentConfig{"a", tools, allow_all(), StaticPlanner::fixed(steps), nullptr},
             RuntimeOptions{.tracer = tracer, .max_parallel_calls = 4});
  auto run = rt.run(RunRequest{"g", {}, nullptr, "par"});
  CHECK(run->status == RunStatus::completed);
  CHECK(*met == 4);
  // The calls' own spans agree: every call started before any of them ended.
  std::int64_t last_start = 0, first_end = INT64_MAX;
  int calls = 0;
  for (const auto& sp : tracer->spans()) {
    if (sp.name != "rein.tool_call") continue;
    ++calls;
    last_start = std::max(last_start, sp.start_unix_nanos);
    first_end = std::min(first_end, sp.end_unix_nanos);
  }
  CHECK(calls == 4);
  CHECK(last_start < first_end);
  std::vector<std::string> order;
  for (const auto& e : *rt.store().read_audit("par")) {
    if (e.kind == "tool_call") order.push_back(e.payload_json()["step"]);
  }
  CHECK(order == std::vector<std::string>{"s3", "s2", "s1", "s0"});
}

TEST_CASE("cancel stops a run at the next boundary and tells calls in flight", "[runtime]") {
  auto tools = std::make_shared<ToolRegistry>();
  struct Flags {
    std::atomic<bool> entered{false}, saw_cancel{false}, returned{false};
  };
  auto flags = std::make_shared<Flags>();
  auto s = spec("slow.call");
  s.timeout = std::chrono::minutes(5);
  REQUIRE(tools
              ->register_tool(s,
                              [flags](const json&, ToolContext& ctx) {
                                flags->entered = true;
                                ctx.sleep_for(kHangGuard);  // only cancellation ends this early
                                flags->saw_cancel = ctx.cancelled();
                                flags->returned = true;
                                return ToolResult::failure("interrupted", true);
                              })
              .ok());
  Runtime rt(AgentConfig{
      "a", tools, allow_all(),
      StaticPlanner::fixed({call("a", "slow.call"), call("b", "slow.call", json::object(), {"a"})}),
      nullptr});
  REQUIRE(rt.start(RunRequest{"g", {}, nullptr, "cancel-me"}).ok());
  // Cancels once the first call is in flight, however long the run took to get there.
  Status cancelled;
  bool saw_entry = false;
  std::thread canceller([&] {
    saw_entry = eventually([&] { return flags->entered.load(); });
    cancelled = rt.cancel("cancel-me");
  });
  const auto start = std::chrono::steady_clock::now();
  auto run = rt.run("cancel-me");
  canceller.join();
  REQUIRE(saw_entry);
  CHECK(cancelled.ok());
  // Far less than the call's own sleep: the run did not wait for the call to end.
  CHECK(std::chrono::steady_clock::now() - start < kHangGuard / 2);
  CHECK(run->status == RunStatus::cancelled);
  CHECK(run->partial);
  // The registry stops waiting at once; the tool's own thread notices a moment later.
  REQUIRE(eventually([&] { return flags->returned.load(); }));
  CHECK(flags->saw_cancel);

  REQUIRE(rt.start(RunRequest{"g", {}, nullptr, "idle"}).ok());
  REQUIRE(rt.cancel("idle").ok());  // not running: cancelled at once
  CHECK(rt.state("idle")->status == RunStatus::cancelled);
}

TEST_CASE("recovery after an interruption follows the journal", "[runtime][recovery]") {
  World w(temp_db_path("recovery"));
  w.add(spec("slides.make", true));  // keyed side effect
  auto keyless = spec("email.send", true);
  keyless.idempotency.key_required = false;
  w.add(keyless);
  w.add(spec("crm.search"));

  // A checkpoint as an interrupted process leaves it: three steps handed to tools, no verdicts.
  auto interrupted = [&](const std::string& run_id) {
    AgentState s;
    s.run_id = run_id;
    s.planning_rounds = 1;
    for (auto [id, tool] : {std::pair{"journaled", "slides.make"},
                            {"keyed", "slides.make"},
                            {"keyless", "email.send"},
                            {"pure", "crm.search"}}) {
      StepState st;
      st.step = call(id, tool);
      st.status = StepStatus::running;
      st.attempts = 1;
      if (std::string(tool) == "slides.make") st.idempotency_key = run_id + ":" + id;
      s.steps.push_back(st);
    }
    REQUIRE(w.store->commit(s, {}).ok());
    REQUIRE(w.store
                ->record_outcome(run_id, "journaled", 1,
                                 ToolResult::success({{"slide_id", "S-before"}}))
                .ok());
  };

  SECTION("without a reconcile callback") {
    interrupted("rec-1");
    Runtime rt(AgentConfig{"a", w.tools, allow_all(), StaticPlanner::fixed({}), nullptr},
               RuntimeOptions{.store = w.store});
    auto run = rt.run("rec-1");
    REQUIRE(run.ok());
    CHECK(run->find_step("journaled")->status == StepStatus::succeeded);
    CHECK(run->outputs["journaled"]["slide_id"] == "S-before");
    CHECK(run->find_step("keyed")->status == StepStatus::succeeded);
    CHECK(run->outputs["keyed"]["key"] == "rec-1:keyed");  // re-run under the same key
    CHECK(run->find_step("keyless")->status == StepStatus::needs_review);
    CHECK(run->find_step("pure")->status == StepStatus::succeeded);
    CHECK(w.log.count("slides.make") == 1);  // only "keyed" ran again
    CHECK(w.log.count("email.send") == 0);   // never replayed blindly
    REQUIRE(run->needs_review.size() == 1);
    CHECK(run->needs_review[0].source == "recovery");
    CHECK(run->status == RunStatus::needs_review);
  }
  SECTION("with a reconcile callback") {
    interrupted("rec-2");
    RuntimeOptions options{.store = w.store};
    options.reconcile = [](const AgentState&, const StepState& st) -> std::optional<ToolResult> {
      if (st.step.id == "keyless") return ToolResult::success({{"sent", "found in the outbox"}});
      return std::nullopt;
    };
    Runtime rt(AgentConfig{"a", w.tools, allow_all(), StaticPlanner::fixed({}), nullptr}, options);
    auto run = rt.run("rec-2");
    CHECK(run->find_step("keyless")->status == StepStatus::succeeded);
    CHECK(run->outputs["keyless"]["sent"] == "found in the outbox");
    CHECK(run->status == RunStatus::completed);
    CHECK(w.log.count("email.send") == 0);
  }
}

TEST_CASE("a corrupt checkpoint is a store failure, not an absent run", "[runtime][store]") {
  const auto db = temp_db_path("corrupt");
  World w(db);
  w.add(spec("crm.search"));
  Runtime rt(AgentConfig{"a", w.tools, allow_all(), StaticPlanner::fixed({call("s", "crm.search")}),
                         nullptr},
             RuntimeOptions{.store = w.store});
  AgentState broken;
  broken.run_id = "broken";
  REQUIRE(w.store->commit(broken, {}).ok());
#ifdef REIN_TEST_POSTGRES_STORE
  pg_sql("UPDATE " + db.stem().string() + ".runs SET state = 'not json'");
  const int rc = SQLITE_OK;
#else
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
  const int rc = sqlite3_exec(raw, "UPDATE runs SET state='not json'", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
#endif
  REQUIRE(rc == SQLITE_OK);

  // start neither says "already exists" nor starts a fresh run over the unreadable one.
  auto started = rt.start(RunRequest{"g", {}, nullptr, "broken"});
  REQUIRE_FALSE(started.ok());
  CHECK(started.error().code() == ErrorCode::data_loss);
  auto resumed = rt.run("broken");
  REQUIRE_FALSE(resumed.ok());
  CHECK(resumed.error().code() == ErrorCode::data_loss);
  CHECK(w.log.count("crm.search") == 0);

  // An id the store does not know is absent: run says so, start takes it (once).
  CHECK(rt.run("nobody").error().code() == ErrorCode::not_found);
  auto fresh = rt.run(RunRequest{"g", {}, nullptr, "fresh"});
  REQUIRE(fresh.ok());
  CHECK(fresh->status == RunStatus::completed);
  CHECK(rt.start(RunRequest{"g", {}, nullptr, "fresh"}).error().code() ==
        ErrorCode::already_exists);
}

TEST_CASE("concurrency: many runs at once in one process and one database", "[concurrency]") {
  World w(temp_db_path("many"));
  w.add(spec("crm.search"));
  w.add(spec("slides.make", true));
  auto planner = StaticPlanner::fixed({call("a", "crm.search"),
                                       call("b", "slides.make", json::object(), {"a"}),
                                       call("c", "crm.search", json::object(), {"a"})});
  Runtime rt(AgentConfig{"a", w.tools, allow_all(), planner, nullptr},
             RuntimeOptions{.store = w.store, .max_parallel_calls = 2});
  constexpr int kThreads = 6, kRunsEach = 5;
  std::atomic<int> completed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRunsEach; ++i) {
        auto run = rt.run(
            RunRequest{"g", {}, nullptr, "many-" + std::to_string(t) + "-" + std::to_string(i)});
        if (run && run->status == RunStatus::completed) ++completed;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(completed == kThreads * kRunsEach);
  CHECK(w.log.count("slides.make") == kThreads * kRunsEach);
  auto all = w.store->read_audit("");
  auto anchors = w.store->audit_anchors();
  auto v = verify_audit(*all, &*anchors);
  CHECK(v.ok);
  CHECK(anchors->size() == kThreads * kRunsEach);
}
