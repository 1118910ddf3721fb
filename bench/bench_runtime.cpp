// step_in_memory: one Runtime::step (a loop step) — a static planner planning one call, a
// 100-rule policy
//   (decided by its last rule), a no-op tool, a rule critic, hash-chained audit entries, and
//   the commit to the in-memory store. Every 16 steps the run is ended and a new one started,
//   so the state stays the size of a short run; ending and starting are inside the measured
//   calls.
// step_durable: the same with the checkpoint and the step's audit committed to SQLite in one
//   WAL transaction (synchronous=NORMAL).
// run_16_steps_in_memory: a whole run — start, 15 chained calls, the verified answer.
#include <unistd.h>
#include <filesystem>
#include <memory>

#include "benchmarks.hpp"
#include "harness.hpp"
#include "rein/rein.hpp"

namespace rein::bench {
namespace {

using nlohmann::json;

PolicyEngine hundred_rules() {
  PolicySpec spec;
  for (int i = 0; i < 99; ++i) {
    PolicyRule r;
    r.id = "rule-" + std::to_string(i);
    r.priority = 100 - i;
    r.decision = i % 3 == 0 ? Decision::deny : Decision::allow;
    r.tool = i % 10 == 1 ? ToolMatch::glob("bench.*") : ToolMatch::exact("bench.noop");
    if (i % 5 == 0) {
      r.args.push_back(ArgConstraint::regex("/account_id", "Z[0-9]{3}-" + std::to_string(i)));
    } else {
      r.roles = {"auditor-" + std::to_string(i)};
    }
    spec.rules.push_back(std::move(r));
  }
  PolicyRule last;
  last.id = "analysts";
  last.decision = Decision::allow;
  last.tool = ToolMatch::exact("bench.noop");
  last.roles = {"analyst"};
  spec.rules.push_back(std::move(last));
  spec.budgets.max_tool_calls = 1'000'000;
  return *PolicyEngine::create(std::move(spec));
}

std::shared_ptr<ToolRegistry> noop_tools() {
  auto tools = std::make_shared<ToolRegistry>();
  ToolSpec spec;
  spec.name = "bench.noop";
  spec.description = "does nothing";
  spec.input_schema =
      json::parse(R"({"type": "object", "properties": {"account_id": {"type": "string"}}})");
  spec.timeout = std::chrono::milliseconds(0);
  (void)tools->register_tool(spec, [](const json&, ToolContext&) {
    return ToolResult::success({{"ok", true}});
  });
  return tools;
}

std::shared_ptr<RuleCritic> critic() {
  auto c = std::make_shared<RuleCritic>();
  c->require_fields("bench.*", {"/ok"});
  return c;
}

// Plans one call per round, forever: every step is plan → authorize → act → verify.
std::shared_ptr<Planner> one_call_per_round() {
  return std::make_shared<StaticPlanner>([](const PlanRequest& req) -> Result<PlanDecision> {
    return PlanDecision::run({{"s" + std::to_string(req.state.planning_rounds),
                               "bench.noop",
                               {{"account_id", "A100"}},
                               {},
                               ""}});
  });
}

struct Stepper {
  std::unique_ptr<Runtime> runtime;
  std::string run_id;
  int steps = 0;
  int runs = 0;

  bool step() {
    if (run_id.empty() || steps == 16) {
      if (!run_id.empty()) (void)runtime->cancel(run_id);  // runs end; the runtime lets go of them
      run_id = "bench-" + std::to_string(runs++);
      (void)runtime->start(RunRequest{"bench", {"riley", {"analyst"}}, nullptr, run_id});
      steps = 0;
    }
    auto status = runtime->step(run_id);
    keep(status);
    ++steps;
    return static_cast<bool>(status);
  }
};

std::shared_ptr<Stepper> stepper(std::shared_ptr<RunStore> store) {
  auto s = std::make_shared<Stepper>();
  s->runtime = std::make_unique<Runtime>(
      AgentConfig{"bench", noop_tools(), hundred_rules(), one_call_per_round(), critic()},
      RuntimeOptions{.store = std::move(store)});
  return s;
}

}  // namespace

std::function<bool()> loop_stepper(std::shared_ptr<RunStore> store) {
  auto s = stepper(std::move(store));
  return [s] { return s->step(); };
}

void add_runtime_benchmarks(std::vector<Benchmark>& out) {
  auto in_memory = stepper(nullptr);
  out.push_back({"step_in_memory", [in_memory] { in_memory->step(); }});

  const auto db =
      std::filesystem::temp_directory_path() / ("rein_bench_" + std::to_string(::getpid()) + ".db");
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(db.string() + suffix);
  auto store = SqliteStore::open(db);
  if (!store) std::abort();
  auto durable = stepper(*store);
  out.push_back({"step_durable", [durable] { durable->step(); }});

  std::vector<PlanStep> chain;
  for (int i = 0; i < 15; ++i) {
    chain.push_back({"s" + std::to_string(i),
                     "bench.noop",
                     {{"account_id", "A100"}},
                     i == 0 ? std::vector<std::string>{}
                            : std::vector<std::string>{"s" + std::to_string(i - 1)},
                     ""});
  }
  auto runtime = std::make_shared<Runtime>(
      AgentConfig{"bench", noop_tools(), hundred_rules(), StaticPlanner::fixed(chain), critic()});
  auto counter = std::make_shared<int>(0);
  out.push_back(
      {"run_16_steps_in_memory", [runtime, counter] {
         auto run = runtime->run(RunRequest{
             "bench", {"riley", {"analyst"}}, nullptr, "run-" + std::to_string((*counter)++)});
         if (!run || run->step_index != 16 || run->status != RunStatus::completed) std::abort();
         keep(run);
       }});
}

}  // namespace rein::bench
