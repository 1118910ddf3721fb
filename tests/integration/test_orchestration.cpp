// The multi-agent patterns (orchestration.hpp): orchestrator-worker, pipeline, debate and
// hierarchy, over sub-runs.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <vector>

#include "../support/process_stats.hpp"
#include "../support/waiting.hpp"
#include "runtime_fixture.hpp"

using namespace rein;
using namespace rein::testing;
using nlohmann::json;

namespace {

PolicyEngine allow_everything() {
  return allow_all();
}

// A worker agent that answers at once with `answer(state)`, or fails its run when `answer`
// returns an error. Counts its runs.
struct Answering {
  using AnswerFn = std::function<Result<json>(const AgentState&)>;
  std::atomic<int> runs{0};
  std::shared_ptr<Runtime> runtime;

  Answering(std::string name, AnswerFn answer, RuntimeOptions options = {}) {
    auto planner = std::make_shared<StaticPlanner>(
        [this, answer = std::move(answer)](const PlanRequest& r) -> Result<PlanDecision> {
          ++runs;
          auto a = answer(r.state);
          if (!a) return std::move(a).error();
          return PlanDecision::finish(std::move(*a));
        });
    runtime =
        std::make_shared<Runtime>(AgentConfig{std::move(name), std::make_shared<ToolRegistry>(),
                                              allow_everything(), planner, nullptr},
                                  std::move(options));
  }
};

// A coordinating agent over `workers`, with `planner`.
std::unique_ptr<Runtime> coordinator(std::shared_ptr<Planner> planner,
                                     std::vector<std::shared_ptr<Runtime>> workers,
                                     RuntimeOptions options = {},
                                     std::shared_ptr<Critic> critic = nullptr,
                                     AgentToolOptions tool_options = {}) {
  auto tools = std::make_shared<ToolRegistry>();
  for (auto& w : workers)
    REQUIRE(register_agent_tool(*tools, w, tool_options));
  return std::make_unique<Runtime>(
      AgentConfig{"coordinator", tools, allow_everything(), std::move(planner), critic},
      std::move(options));
}

RunRequest request(std::string id, json input = nullptr) {
  return {"assess the market", {"alice", {"analyst"}}, std::move(input), std::move(id)};
}

}  // namespace

TEST_CASE("debate: disagreeing agents, a judge, and the disagreement recorded", "[patterns]") {
  Answering optimist("optimist", [](const AgentState&) -> Result<json> {
    return json{{"rating", "buy"}, {"why", "growth"}};
  });
  Answering pessimist("pessimist", [](const AgentState&) -> Result<json> {
    return json{{"rating", "sell"}, {"why", "debt"}};
  });
  json judged_input;
  Answering judge("judge", [&](const AgentState& s) -> Result<json> {
    judged_input = s.input;
    return json{{"rating", "buy"}, {"why", "growth outweighs debt"}};
  });
  auto planner = DebatePlanner::create(
      {.debaters = {"optimist", "pessimist"}, .judge = "judge", .compare_pointer = "/rating"});
  REQUIRE(planner);
  auto lead = coordinator(*planner, {optimist.runtime, pessimist.runtime, judge.runtime});
  auto run = lead->run(request("debate"));
  REQUIRE(run);
  CHECK(run->status == RunStatus::completed);
  const json& a = *run->final_answer;
  CHECK(a["verdict"]["rating"] == "buy");
  CHECK(a["answers"]["answer1"]["rating"] == "buy");
  CHECK(a["answers"]["answer2"]["rating"] == "sell");
  CHECK(a["agreed"] == false);
  CHECK(a["dissent"] == json::array({"answer2"}));
  // The judge saw the question and both answers, and only after both were in.
  CHECK(judged_input["input"]["question"] == "assess the market");
  CHECK(judged_input["input"]["answers"]["answer2"]["why"] == "debt");

  SECTION("agreeing agents") {
    Answering second_optimist("optimist2", [](const AgentState&) -> Result<json> {
      return json{{"rating", "buy"}, {"why", "margins"}};
    });
    auto agreeing = DebatePlanner::create(
        {.debaters = {"optimist", "optimist2"}, .judge = "judge", .compare_pointer = "/rating"});
    REQUIRE(agreeing);
    auto lead2 = coordinator(*agreeing, {optimist.runtime, second_optimist.runtime, judge.runtime});
    auto agreed = lead2->run(request("agree"));
    REQUIRE(agreed);
    CHECK((*agreed->final_answer)["agreed"] == true);
    CHECK((*agreed->final_answer)["dissent"].empty());
  }
}

TEST_CASE("debate and pipeline refuse bad configurations, named", "[patterns]") {
  CHECK(DebatePlanner::create({.debaters = {"a"}, .judge = "j"}).error().message() ==
        "debate: at least two debaters are needed");
  CHECK_FALSE(DebatePlanner::create({.debaters = {"a", "b"}}).ok());
  CHECK(DebatePlanner::create({.debaters = {"a", "b"}, .judge = "j", .compare_pointer = "x"})
            .error()
            .message()
            .find("not a JSON pointer") != std::string::npos);
  CHECK_FALSE(PipelinePlanner::create({}).ok());
  CHECK(PipelinePlanner::create({{"", "a", "t"}, {"", "a", "t"}}).error().message() ==
        "pipeline: stages[1]: id 'a' is used twice");
  CHECK_FALSE(OrchestratorPlanner::create({}).ok());

  // An agent the coordinator has no tool for fails the run, naming it.
  auto planner = PipelinePlanner::create({{"", "ghost", "haunt"}});
  REQUIRE(planner);
  auto lead = coordinator(*planner, {});
  auto run = lead->run(request("ghost"));
  REQUIRE(run);
  CHECK(run->status == RunStatus::failed);
  CHECK(run->status_reason.find("agent 'ghost' has no tool 'agent.ghost'") != std::string::npos);
}

TEST_CASE("pipeline: each stage's output feeds the next, and a failed stage stops it, named",
          "[patterns]") {
  Answering extract("extract", [](const AgentState& s) -> Result<json> {
    return json{{"rows", s.input["input"]["rows"]}};
  });
  Answering analyse("analyse", [](const AgentState& s) -> Result<json> {
    const json rows = s.input["input"]["rows"];
    if (rows.empty()) return Error(ErrorCode::invalid_argument, "nothing to analyse");
    return json{{"total", rows.size()}};
  });
  Answering write("write", [](const AgentState& s) -> Result<json> {
    return json{{"report", "total " + s.input["input"]["total"].dump()}};
  });
  auto planner = PipelinePlanner::create(
      {{"", "extract", "extract rows"}, {"", "analyse", "analyse"}, {"", "write", "write it up"}});
  REQUIRE(planner);
  auto lead = coordinator(*planner, {extract.runtime, analyse.runtime, write.runtime}, [] {
    RuntimeOptions o;
    o.max_retries_per_step = 0;
    return o;
  }());

  SECTION("all stages succeed") {
    auto run = lead->run(request("ok", {{"rows", {1, 2, 3}}}));
    REQUIRE(run);
    CHECK(run->status == RunStatus::completed);
    CHECK((*run->final_answer)["complete"] == true);
    CHECK((*run->final_answer)["output"] == json{{"report", "total 3"}});
    CHECK((*run->final_answer)["stages"]["analyse"] == json{{"total", 3}});
  }
  SECTION("the middle stage fails: the last never runs, the answer names what there is") {
    auto run = lead->run(request("broken", {{"rows", json::array()}}));
    REQUIRE(run);
    CHECK(run->status == RunStatus::needs_review);
    const json& a = *run->final_answer;
    CHECK(a["complete"] == false);
    CHECK(a["failed_stage"] == "analyse");
    CHECK(a["output"].is_null());
    CHECK(a["stages"].contains("extract"));
    CHECK_FALSE(a["stages"].contains("write"));
    CHECK(write.runs == 0);
    CHECK(run->find_step("write")->status == StepStatus::skipped);
  }
}

TEST_CASE("orchestrator: sub-tasks with dependencies, results synthesised", "[patterns]") {
  Answering counter("counter", [](const AgentState& s) -> Result<json> {
    return json{{"n", s.input["input"]["n"]}};
  });
  Answering adder("adder", [](const AgentState& s) -> Result<json> {
    std::int64_t sum = 0;
    for (const auto& part : s.input["input"]["parts"])
      sum += part["n"].get<std::int64_t>();
    return json{{"sum", sum}};
  });
  auto planner = OrchestratorPlanner::create(
      {.decompose = [](const PlanRequest&) -> Result<std::vector<SubTask>> {
        return std::vector<SubTask>{{"a", "counter", "count a", {{"n", 2}}, {}},
                                    {"b", "counter", "count b", {{"n", 3}}, {}},
                                    {"total",
                                     "adder",
                                     "add them",
                                     {{"parts",
                                       {{{"$from", "a"}, {"pointer", "/answer"}},
                                        {{"$from", "b"}, {"pointer", "/answer"}}}}},
                                     {"a", "b"}}};
      }});
  REQUIRE(planner);
  auto lead = coordinator(*planner, {counter.runtime, adder.runtime});
  auto run = lead->run(request("orchestrated"));
  REQUIRE(run);
  CHECK(run->status == RunStatus::completed);
  CHECK((*run->final_answer)["results"]["total"] == json{{"sum", 5}});
  CHECK_FALSE(run->final_answer->contains("flagged"));
  CHECK(counter.runs == 2);
}

TEST_CASE("orchestrator: a failed worker is retried, replanned or flagged, as the critic says",
          "[patterns]") {
  std::atomic<int> flaky_runs{0};
  Answering flaky("flaky", [&](const AgentState&) -> Result<json> {
    if (++flaky_runs == 1) return Error(ErrorCode::unavailable, "first try fails");
    return json{{"ok", true}};
  });
  Answering steady("steady", [](const AgentState&) -> Result<json> { return json{{"ok", 1}}; });
  std::vector<std::optional<ReplanRequest>> asked;
  std::mutex asked_mutex;
  auto planner = OrchestratorPlanner::create(
      {.decompose = [&](const PlanRequest& r) -> Result<std::vector<SubTask>> {
        std::lock_guard lock(asked_mutex);
        asked.push_back(r.replan);
        if (!r.replan) return std::vector<SubTask>{{"job", "flaky", "do it", nullptr, {}}};
        return std::vector<SubTask>{{"job-again", "steady", "do it instead", nullptr, {}}};
      }});
  REQUIRE(planner);
  auto critic_of = [](VerdictKind on_failure) {
    RuleCritic::Options o;
    o.on_permanent_error = on_failure;
    return std::make_shared<RuleCritic>(o);
  };

  SECTION("retried: a fresh child run succeeds") {
    auto lead =
        coordinator(*planner, {flaky.runtime, steady.runtime}, {}, critic_of(VerdictKind::retry));
    auto run = lead->run(request("retried"));
    REQUIRE(run);
    CHECK(run->status == RunStatus::completed);
    CHECK((*run->final_answer)["results"]["job"] == json{{"ok", true}});
    CHECK(flaky.runtime->state("retried:job")->status == RunStatus::failed);
    CHECK(flaky.runtime->state("retried:job#1")->status == RunStatus::completed);
  }
  SECTION("replanned: the decomposition is asked again, told what failed") {
    auto lead =
        coordinator(*planner, {flaky.runtime, steady.runtime}, {}, critic_of(VerdictKind::replan));
    auto run = lead->run(request("replanned"));
    REQUIRE(run);
    const json& a = *run->final_answer;
    CHECK(a["results"]["job-again"] == json{{"ok", 1}});
    CHECK(a["flagged"][0]["id"] == "job");
    std::lock_guard lock(asked_mutex);
    REQUIRE(asked.size() == 2);
    REQUIRE(asked[1].has_value());
    CHECK(asked[1]->step_id == "job");
  }
  SECTION("flagged: the answer lists it, the run needs review") {
    auto lead = coordinator(*planner, {flaky.runtime, steady.runtime}, {},
                            critic_of(VerdictKind::needs_review));
    auto run = lead->run(request("flagged"));
    REQUIRE(run);
    CHECK(run->status == RunStatus::needs_review);
    const json& flagged = (*run->final_answer)["flagged"];
    REQUIRE(flagged.size() == 1);
    CHECK(flagged[0]["agent"] == "flaky");
    CHECK(flagged[0]["status"] == "needs_review");
  }
}

TEST_CASE("orchestrator: independent sub-tasks run side by side within the limit", "[patterns]") {
  // Workers hold their answer until the test lets them go, so the test sees how many run.
  auto tools = std::make_shared<ToolRegistry>();
  std::mutex mutex;
  std::vector<AsyncToolCall> held;
  int in_flight = 0, most = 0;
  REQUIRE(tools->register_async_tool(spec("work.hold"), [&](AsyncToolCall call) {
    std::lock_guard lock(mutex);
    held.push_back(call);
    most = std::max(most, ++in_flight);
  }));
  auto worker = std::make_shared<Runtime>(
      AgentConfig{"worker", tools, allow_everything(),
                  StaticPlanner::fixed({call("hold", "work.hold")}), nullptr});
  auto planner = OrchestratorPlanner::create({.decompose = [](const PlanRequest&) {
    std::vector<SubTask> tasks;
    for (int i = 0; i < 6; ++i)
      tasks.push_back({"t" + std::to_string(i), "worker", "wait", nullptr, {}});
    return Result<std::vector<SubTask>>(tasks);
  }});
  REQUIRE(planner);
  RuntimeOptions o;
  o.max_parallel_calls = 2;
  auto lead = coordinator(*planner, {worker}, o);
  auto done = lead->run_async(request("limited"));
  for (int released = 0; released < 6; ++released) {
    // Two at a time while there are two left to start.
    const auto expected = static_cast<std::size_t>(std::min(2, 6 - released));
    REQUIRE(eventually([&] {
      std::lock_guard lock(mutex);
      return held.size() == expected;
    }));
    std::lock_guard lock(mutex);
    --in_flight;
    held.front().complete(ToolResult::success({{"done", released}}));
    held.erase(held.begin());
  }
  REQUIRE(done.wait_for(kHangGuard) == std::future_status::ready);
  auto run = done.get();
  REQUIRE(run);
  CHECK(run->status == RunStatus::completed);
  CHECK((*run->final_answer)["results"].size() == 6);
  CHECK(most == 2);
}

TEST_CASE("hierarchy: orchestrators of orchestrators, within a depth limit", "[patterns]") {
  Answering leaf("leaf", [](const AgentState& s) -> Result<json> {
    return json{{"depth", s.delegation ? s.delegation->ancestors.size() : 0}};
  });
  auto middle_planner = OrchestratorPlanner::create({.decompose = [](const PlanRequest& r) {
    return Result<std::vector<SubTask>>(
        std::vector<SubTask>{{"leaf-work", "leaf", r.state.goal, nullptr, {}}});
  }});
  REQUIRE(middle_planner);
  auto top_planner = OrchestratorPlanner::create({.decompose = [](const PlanRequest&) {
    return Result<std::vector<SubTask>>(
        std::vector<SubTask>{{"east", "middle", "cover the east", nullptr, {}},
                             {"west", "middle", "cover the west", nullptr, {}}});
  }});
  REQUIRE(top_planner);

  auto build = [&](int max_depth) {
    auto middle_tools = std::make_shared<ToolRegistry>();
    REQUIRE(register_agent_tool(*middle_tools, leaf.runtime, {.max_depth = max_depth}));
    auto middle = std::make_shared<Runtime>(
        AgentConfig{"middle", middle_tools, allow_everything(), *middle_planner, nullptr});
    auto top = coordinator(*top_planner, {middle});
    return std::pair{middle, std::move(top)};
  };

  SECTION("three levels") {
    auto [middle, top] = build(8);
    auto run = top->run(request("tree"));
    REQUIRE(run);
    CHECK(run->status == RunStatus::completed);
    const json& results = (*run->final_answer)["results"];
    CHECK(results["east"]["results"]["leaf-work"]["depth"] == 2);
    CHECK(results["west"]["results"]["leaf-work"]["depth"] == 2);
    auto leaf_run = leaf.runtime->state("tree:east:leaf-work");
    REQUIRE(leaf_run);
    CHECK(leaf_run->delegation->chain() == std::vector<std::string>{"tree", "tree:east"});
    CHECK(leaf_run->principal.id == "alice/middle/leaf");
  }
  SECTION("a depth limit of one stops the third level, named") {
    auto [middle, top] = build(1);
    auto run = top->run(request("shallow"));
    REQUIRE(run);
    CHECK(leaf.runs == 0);
    auto middle_run = middle->state("shallow:east");
    REQUIRE(middle_run);
    const StepState* refused = middle_run->find_step("leaf-work");
    REQUIRE(refused);
    REQUIRE(refused->result);
    CHECK(refused->result->errors.front().find("depth limit of 1") != std::string::npos);
  }
}

TEST_CASE("orchestrator: a fan-out to 1,000 workers completes on a bounded number of threads",
          "[patterns]") {
  const std::size_t before = threads_now();
  // One executor for every runtime: two run threads and a blocking pool of four, whatever
  // the number of runs in flight.
  auto executor = std::make_shared<Executor>(ExecutorOptions{.threads = 2, .blocking_threads = 4});
  RuntimeOptions o;
  o.executor = executor;
  o.max_parallel_calls = 1000;
  auto tools = std::make_shared<ToolRegistry>();
  std::atomic<std::size_t> peak{0};
  REQUIRE(tools->register_async_tool(spec("work.echo"), [&](AsyncToolCall call) {
    const std::size_t now = threads_now();
    for (std::size_t seen = peak.load(); now > seen && !peak.compare_exchange_weak(seen, now);) {
    }
    const auto n = call.args().value("n", 0);
    executor->call_at(executor->env().now() + std::chrono::milliseconds(5), [call, n] {
      call.complete(ToolResult::success({{"n", n}}));
    });
  }));
  auto worker = std::make_shared<Runtime>(
      AgentConfig{"worker", tools, allow_everything(),
                  std::make_shared<StaticPlanner>([](const PlanRequest& r) -> Result<PlanDecision> {
                    if (r.state.planning_rounds == 0)
                      return PlanDecision::run(
                          {call("echo", "work.echo", {{"n", r.state.input["input"]["n"]}})});
                    return PlanDecision::finish(r.state.outputs["echo"]["n"]);
                  }),
                  nullptr},
      o);
  auto planner = OrchestratorPlanner::create({.decompose = [](const PlanRequest&) {
    std::vector<SubTask> tasks;
    for (int i = 0; i < 1000; ++i)
      tasks.push_back({"w" + std::to_string(i), "worker", "echo", {{"n", i}}, {}});
    return Result<std::vector<SubTask>>(std::move(tasks));
  }});
  REQUIRE(planner);
  auto lead = coordinator(*planner, {worker}, o);
  auto done = lead->run_async(request("fanout"));
  REQUIRE(done.wait_for(kHangGuard * 5) == std::future_status::ready);
  auto run = done.get();
  REQUIRE(run);
  INFO(run->status_reason);
  CHECK(run->status == RunStatus::completed);
  const json& results = (*run->final_answer)["results"];
  REQUIRE(results.size() == 1000);
  std::int64_t sum = 0;
  for (const auto& [id, n] : results.items())
    sum += n.get<std::int64_t>();
  CHECK(sum == 999 * 1000 / 2);
  // The executor's threads (2 + 4) and nothing per run.
  CHECK(peak.load() <= before + 6);
  CHECK(executor->blocking_threads_started() <= 4);
}
