// subrun_round_trip: one parent run (in memory) whose one step calls a child agent through its
//   agent tool; the child answers at once and the parent finishes with the child's answer,
//   checked. Start, delegation, the child's whole run, the hop back and the verified answer
//   are all inside one measured call. Parent and child share one executor.
// run_async_round_trip: the baseline — the child agent's run alone, started with run_async
//   and waited for the same way.
// orchestrator_fanout_1k: an OrchestratorPlanner fanning out to 1,000 workers at once (no
//   limit on parallel calls), each worker one asynchronous tool call completing after 50 ms on
//   the executor's timers, then its answer; the orchestrator synthesises the 1,000 results,
//   checked. Fields: wall_ms, ideal_ms (50), peak_rss_mb, threads (peak), workers, failed.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "../tests/support/process_stats.hpp"
#include "benchmarks.hpp"
#include "rein/rein.hpp"

namespace rein::bench {
namespace {

using testing::peak_rss_mb;
using testing::threads_now;

using nlohmann::json;

// A planner that plans in code without leaving the run thread (asynchronous, never waits): the
// workers' planning costs the runtime's own work, not a hop to the blocking pool.
class InlinePlanner final : public Planner {
 public:
  using Fn = std::function<Result<PlanDecision>(const PlanRequest&)>;
  explicit InlinePlanner(Fn fn) : fn_(std::move(fn)) {}
  Result<PlanDecision> plan(const PlanRequest& r) override { return fn_(r); }
  bool is_async() const noexcept override { return true; }
  Task<Result<PlanDecision>> plan_async(const PlanRequest& r) override { co_return fn_(r); }

 private:
  Fn fn_;
};

struct RoundTrip {
  std::shared_ptr<Executor> executor = std::make_shared<Executor>();
  std::shared_ptr<Runtime> child;
  std::unique_ptr<Runtime> parent;
  std::int64_t n = 0;

  RoundTrip() {
    RuntimeOptions o;
    o.executor = executor;
    child = std::make_shared<Runtime>(
        AgentConfig{"echo", std::make_shared<ToolRegistry>(), allow_tools("*"),
                    std::make_shared<InlinePlanner>([](const PlanRequest& r) {
                      return Result<PlanDecision>(PlanDecision::finish({{"echo", r.state.goal}}));
                    }),
                    nullptr},
        o);
    auto tools = std::make_shared<ToolRegistry>();
    if (!register_agent_tool(*tools, child)) std::abort();
    parent = std::make_unique<Runtime>(
        AgentConfig{"lead", tools, allow_tools("*"),
                    std::make_shared<InlinePlanner>([](const PlanRequest& r) {
                      if (r.state.planning_rounds == 0) {
                        return Result<PlanDecision>(
                            PlanDecision::run({{"ask", "agent.echo", {{"task", "ping"}}, {}, ""}}));
                      }
                      return Result<PlanDecision>(
                          PlanDecision::finish(r.state.outputs["ask"]["answer"]));
                    }),
                    nullptr},
        o);
  }
  // The baseline: the child alone, started and waited for the same way.
  void child_once() {
    auto run =
        child->run_async(RunRequest{"ping", {"bench", {}}, nullptr, "alone-" + std::to_string(n++)})
            .get();
    if (!run || run->status != RunStatus::completed) std::abort();
  }
  void once() {
    auto done = parent->run_async(
        RunRequest{"round trip", {"bench", {}}, nullptr, "trip-" + std::to_string(n++)});
    auto run = done.get();
    if (!run || run->status != RunStatus::completed || run->final_answer != json{{"echo", "ping"}})
      std::abort();
  }
};

json orchestrator_fanout(int workers) {
  auto executor = std::make_shared<Executor>();
  RuntimeOptions o;
  o.executor = executor;
  o.max_parallel_calls = static_cast<std::size_t>(workers);
  auto tools = std::make_shared<ToolRegistry>();
  ToolSpec work;
  work.name = "data.work";
  work.description = "answers n after 50 ms";
  work.timeout = std::chrono::milliseconds(0);
  (void)tools->register_async_tool(work, [executor](AsyncToolCall call) {
    const auto n = call.args().value("n", 0);
    executor->call_at(executor->env().now() + std::chrono::milliseconds(50), [call, n] {
      call.complete(ToolResult::success({{"n", n}}));
    });
  });
  auto worker = std::make_shared<Runtime>(
      AgentConfig{"worker", tools, allow_tools("*"),
                  std::make_shared<InlinePlanner>([](const PlanRequest& r) {
                    if (r.state.planning_rounds == 0) {
                      return Result<PlanDecision>(PlanDecision::run(
                          {{"work", "data.work", {{"n", r.state.input["input"]["n"]}}, {}, ""}}));
                    }
                    return Result<PlanDecision>(PlanDecision::finish(r.state.outputs["work"]["n"]));
                  }),
                  nullptr},
      o);
  auto lead_tools = std::make_shared<ToolRegistry>();
  if (!register_agent_tool(*lead_tools, worker)) throw std::runtime_error("agent tool");
  auto planner = OrchestratorPlanner::create({.decompose = [workers](const PlanRequest&) {
    std::vector<SubTask> tasks;
    for (int i = 0; i < workers; ++i)
      tasks.push_back({"w" + std::to_string(i), "worker", "work", {{"n", i}}, {}});
    return Result<std::vector<SubTask>>(std::move(tasks));
  }});
  if (!planner) throw std::runtime_error(planner.error().message());
  Runtime lead(AgentConfig{"lead", lead_tools, allow_tools("*"), *planner, nullptr}, o);

  testing::PeakThreads peak_threads;
  const auto start = std::chrono::steady_clock::now();
  auto run = lead.run_async(RunRequest{"fan out", {"bench", {}}, nullptr, "fanout"}).get();
  const auto wall = std::chrono::steady_clock::now() - start;
  const std::size_t threads = peak_threads.stop();
  int failed = 0;
  std::int64_t sum = 0;
  if (!run || run->status != RunStatus::completed) {
    failed = workers;
  } else {
    const json& results = (*run->final_answer)["results"];
    failed = workers - static_cast<int>(results.size());
    for (const auto& [id, n] : results.items())
      sum += n.get<std::int64_t>();
  }
  if (sum != static_cast<std::int64_t>(workers) * (workers - 1) / 2) failed = std::max(failed, 1);
  return {{"wall_ms", std::chrono::duration<double, std::milli>(wall).count()},
          {"ideal_ms", 50},
          {"peak_rss_mb", peak_rss_mb()},
          {"threads", threads},
          {"workers", workers},
          {"failed", failed}};
}

}  // namespace

void add_multi_agent_benchmarks(std::vector<Benchmark>& out) {
  auto trip = std::make_shared<RoundTrip>();
  out.push_back({"subrun_round_trip", [trip] { trip->once(); }, slow_options(2000, 200)});
  out.push_back({"run_async_round_trip", [trip] { trip->child_once(); }, slow_options(2000, 200)});
}

void add_multi_agent_scenarios(std::vector<Scenario>& out) {
  out.push_back({"orchestrator_fanout_1k", [] { return orchestrator_fanout(1'000); }});
}

}  // namespace rein::bench
