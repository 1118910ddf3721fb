// RunWorker in one test process: workers sharing runs through one PostgreSQL schema, approvals
// decided elsewhere, agent versions.
#include <thread>

#include "../integration/runtime_fixture.hpp"
#include "pg_fixture.hpp"

using namespace rein;
using namespace rein::testing;
using namespace std::chrono_literals;

namespace {

// One worker process's share: its own store object and runtime on the shared schema.
struct Host {
  std::shared_ptr<PostgresStore> store;
  std::shared_ptr<ToolRegistry> tools;
  std::unique_ptr<Runtime> runtime;
  CallLog* log;

  Host(const std::string& schema, PostgresStoreOptions options, CallLog& calls,
       PolicyEngine policy = allow_all())
      : log(&calls) {
    options.lease = options.lease.count() == 10000 ? 2000ms : options.lease;
    store = open_pg(schema, options);
    tools = std::make_shared<ToolRegistry>(ToolRegistryOptions{.idempotency_store = store});
    REQUIRE(tools
                ->register_tool(spec("note.write", true),
                                [this](const json&, ToolContext& ctx) {
                                  log->add(std::string(ctx.idempotency_key()));
                                  return ToolResult::success({{"written", true}});
                                })
                .ok());
    auto planner =
        std::make_shared<StaticPlanner>([](const PlanRequest& req) -> Result<PlanDecision> {
          if (req.state.planning_rounds == 0) {
            return PlanDecision::run({call("write", "note.write", {{"run", req.state.run_id}})});
          }
          return PlanDecision::finish({{"done", req.state.run_id}});
        });
    runtime =
        std::make_unique<Runtime>(AgentConfig{"notes", tools, std::move(policy), planner, nullptr},
                                  RuntimeOptions{.store = store});
  }
};

// Waits until every run in the store has ended (or a generous deadline passes).
bool all_ended(PostgresStore& store, std::size_t expected) {
  for (int i = 0; i < 1200; ++i) {
    auto runs = store.list_runs();
    if (runs && runs->size() == expected &&
        std::all_of(runs->begin(), runs->end(),
                    [](const RunSummary& r) { return is_terminal(r.status); })) {
      return true;
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

}  // namespace

TEST_CASE("RunWorker: two workers share the runs of one schema, each run done once",
          "[postgres][worker]") {
  const std::string schema = fresh_schema("workers");
  CallLog calls;
  Host submitter(schema, {.worker_id = "submitter", .lease_new_runs = false}, calls);
  constexpr int kRuns = 60;
  for (int i = 0; i < kRuns; ++i) {
    REQUIRE(
        submitter.runtime->start({"write a note", {"p", {}}, nullptr, "run-" + std::to_string(i)})
            .ok());
  }
  Host a(schema, {.worker_id = "a"}, calls), b(schema, {.worker_id = "b"}, calls);
  auto wa = RunWorker::start(*a.runtime, a.store, {.max_runs = 8, .poll_interval = 20ms});
  auto wb = RunWorker::start(*b.runtime, b.store, {.max_runs = 8, .poll_interval = 20ms});
  REQUIRE(wa.ok());
  REQUIRE(wb.ok());
  REQUIRE(all_ended(*a.store, kRuns));
  (*wa)->stop();
  (*wb)->stop();
  const auto sa = (*wa)->stats(), sb = (*wb)->stats();
  CHECK(sa.claimed + sb.claimed == kRuns);
  CHECK(sa.stopped + sb.stopped == kRuns);
  CHECK(sa.claimed > 0);
  CHECK(sb.claimed > 0);
  CHECK(sa.lost + sb.lost == 0);
  for (int i = 0; i < kRuns; ++i) {
    const std::string id = "run-" + std::to_string(i);
    auto s = a.store->load(id);
    REQUIRE(s.ok());
    CHECK(s->status == RunStatus::completed);
    CHECK(verify_run_audit(*a.store, *s).ok);
  }
  CHECK(calls.calls.size() == kRuns);  // one idempotency key per run, each written once
  for (const auto& [key, n] : calls.calls)
    CHECK(n == 1);
}

TEST_CASE("RunWorker: an approval decided in another process resumes the run on a worker",
          "[postgres][worker]") {
  const std::string schema = fresh_schema("approval");
  auto policy = *PolicyEngine::from_json(json::parse(R"({"rules": [
      {"id": "notes-need-approval", "decision": "require_approval", "tool": "note.write",
       "description": "a person checks notes"}]})"));
  CallLog calls;
  Host worker(schema, {.worker_id = "worker"}, calls, policy);
  Host console(schema, {.worker_id = "console"}, calls, policy);
  auto w = RunWorker::start(*worker.runtime, worker.store, {.max_runs = 4, .poll_interval = 20ms});
  REQUIRE(w.ok());
  REQUIRE(worker.runtime->run_async({"write a note", {"p", {}}, nullptr, "r1"}, nullptr).ok());
  std::vector<PendingApproval> pending;
  for (int i = 0; i < 600 && pending.empty(); ++i) {
    std::this_thread::sleep_for(50ms);
    pending = *console.store->pending_approvals();
  }
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].tool == "note.write");
  CHECK(calls.calls.empty());
  REQUIRE(console.runtime->approve("r1", pending[0].step_id, "checked by ops").ok());
  REQUIRE(all_ended(*console.store, 1));
  (*w)->stop();
  auto s = *console.store->load("r1");
  CHECK(s.status == RunStatus::completed);
  CHECK(calls.calls.size() == 1);
  CHECK(verify_run_audit(*console.store, s).ok);
}

TEST_CASE("RunWorker: a worker leaves runs of another agent version and reports them",
          "[postgres][worker]") {
  const std::string schema = fresh_schema("versions");
  CallLog calls;
  Host old_submitter(schema, {.agent_version = "v1", .lease_new_runs = false}, calls);
  REQUIRE(old_submitter.runtime->start({"write a note", {"p", {}}, nullptr, "old"}).ok());
  Host v2(schema, {.agent_version = "v2"}, calls);
  auto w = RunWorker::start(*v2.runtime, v2.store, {.max_runs = 4, .poll_interval = 20ms});
  REQUIRE(w.ok());
  for (int i = 0; i < 200 && (*w)->stats().left_for_other_versions.empty(); ++i)
    std::this_thread::sleep_for(20ms);
  CHECK((*w)->stats().left_for_other_versions == std::map<std::string, std::size_t>{{"v1", 1}});
  CHECK((*w)->stats().claimed == 0);
  CHECK(v2.store->load("old")->status == RunStatus::running);
  (*w)->stop();
  Host v1(schema, {.agent_version = "v1"}, calls);
  auto w1 = RunWorker::start(*v1.runtime, v1.store, {.max_runs = 4, .poll_interval = 20ms});
  REQUIRE(all_ended(*v1.store, 1));
  (*w1)->stop();
  CHECK(v1.store->load("old")->status == RunStatus::completed);
}

TEST_CASE("RunWorker: refuses a runtime whose store is not the leases' store",
          "[postgres][worker]") {
  CallLog calls;
  Host h(fresh_schema("mismatch"), {}, calls);
  auto other = open_pg(fresh_schema("mismatch_other"));
  auto w = RunWorker::start(*h.runtime, other);
  REQUIRE_FALSE(w.ok());
  CHECK_THAT(w.error().message(), Catch::Contains("must be the store whose leases it takes"));
  Runtime memory(h.runtime->agent());
  CHECK(memory.unload("x").error().code() == ErrorCode::invalid_argument);
}

TEST_CASE(
    "a runtime on a shared store reads it at each operation: what another process did is "
    "seen",
    "[postgres][worker]") {
  const std::string schema = fresh_schema("fresh");
  auto policy = *PolicyEngine::from_json(json::parse(R"({"rules": [
      {"id": "notes-need-approval", "decision": "require_approval", "tool": "note.write"}]})"));
  CallLog calls;
  Host front(schema, {.worker_id = "front", .lease_new_runs = false}, calls, policy);
  Host back(schema, {.worker_id = "back"}, calls, policy);
  // The front office starts the run; the back office steps it to its approval.
  REQUIRE(front.runtime->start({"write a note", {"p", {}}, nullptr, "r1"}).ok());
  CHECK(front.runtime->runs_in_memory() == 0);  // nothing kept: others may change it
  auto suspended = back.runtime->run("r1");
  REQUIRE(suspended->status == RunStatus::awaiting_approval);
  // The front office sees the suspension, and its approval is made on the state the back
  // office left, not on the copy it had when it started the run.
  CHECK(front.runtime->state("r1")->status == RunStatus::awaiting_approval);
  const std::string step = suspended->steps.at(0).step.id;
  REQUIRE(front.runtime->approve("r1", step, "fine").ok());
  auto done = back.runtime->run("r1");
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::completed);
  CHECK(calls.calls.size() == 1);
}
