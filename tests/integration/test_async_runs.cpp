// Runs driven by the executor: asynchronous tools and models, parking, deadlines, cancellation,
// approvals, determinism in virtual time, and thousands of runs in one process.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "../support/fake_llm_server.hpp"
#include "../support/waiting.hpp"
#include "async_fixture.hpp"
#include "rein/config.hpp"

#ifndef REIN_WITH_CURL
#error "REIN_WITH_CURL comes from rein/config.hpp"
#endif

using namespace rein;
using namespace rein::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

AgentConfig async_agent(std::shared_ptr<ToolRegistry> tools, AsyncLlmCallback model) {
  return react_agent({.name = "async",
                      .tools = std::move(tools),
                      .policy = allow_all(),
                      .model_async = std::move(model)});
}

RunRequest request(std::string id) {
  return RunRequest{"add the values", {"ann", {"analyst"}}, nullptr, std::move(id)};
}

// Runs `n` runs of the timed workload on one host-driven thread in virtual time; returns each
// run's audit head, in the order the runs stopped.
std::vector<std::pair<std::string, std::string>> simulate(int n) {
  ManualEnv env(7);
  auto executor = std::make_shared<Executor>(
      ExecutorOptions{.host_driven = true, .env = &env, .virtual_time = true});
  TimedWorkload work{executor};
  auto tools = std::make_shared<ToolRegistry>(ToolRegistryOptions{.env = &env});
  work.register_tools(*tools);
  Stops stops;
  std::vector<std::pair<std::string, std::string>> heads;
  {
    Runtime runtime(async_agent(tools, work.model()),
                    RuntimeOptions{.env = &env, .executor = executor});
    for (int i = 0; i < n; ++i)
      REQUIRE(runtime.run_async(request("run-" + std::to_string(i)), stops.callback()));
    executor->run_until([&] { return stops.count.load() == n; });
    std::lock_guard lock(stops.mutex);
    for (const auto& id : stops.order) {
      const auto& s = *stops.by_run.at(id).back();
      REQUIRE(s.status == RunStatus::completed);
      heads.emplace_back(id, s.audit_head);
    }
  }
  return heads;
}

// A tool that never completes by itself: it keeps every call it is given.
struct HeldCalls {
  std::mutex mutex;
  std::vector<AsyncToolCall> calls;
  void register_on(ToolRegistry& tools) {
    ToolSpec s = spec("forever.tool");
    s.timeout = 0ms;  // it may take as long as it likes
    REQUIRE(tools.register_async_tool(s, [this](AsyncToolCall call) {
      std::lock_guard lock(mutex);
      calls.push_back(call);
    }));
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return calls.size();
  }
  // An agent whose one-step plan calls the tool.
  static AgentConfig agent(std::shared_ptr<ToolRegistry> tools) {
    return AgentConfig{"async", std::move(tools), allow_all(),
                       StaticPlanner::fixed({{"x", "forever.tool", json::object(), {}, ""}}),
                       nullptr};
  }
};

}  // namespace

TEST_CASE("async runs: thousands of runs park on a few threads and all finish verified",
          "[async]") {
  auto executor = std::make_shared<Executor>(ExecutorOptions{.threads = 2});
  TimedWorkload work{executor, 20ms, 5ms};
  auto tools = std::make_shared<ToolRegistry>();
  work.register_tools(*tools);
  Stops stops;
  constexpr int kRuns = 2000;
  {
    Runtime runtime(async_agent(tools, work.model()), RuntimeOptions{.executor = executor});
    for (int i = 0; i < kRuns; ++i)
      REQUIRE(runtime.run_async(request("r" + std::to_string(i)), stops.callback()));
    REQUIRE(eventually([&] { return stops.count.load() == kRuns; }));
    CHECK(runtime.runs_in_memory() == 0);  // every ended run was let go
  }
  std::lock_guard lock(stops.mutex);
  REQUIRE(stops.by_run.size() == kRuns);
  for (const auto& [id, seen] : stops.by_run) {
    REQUIRE(seen.size() == 1);
    REQUIRE(seen.front());
    CHECK(seen.front()->status == RunStatus::completed);
    CHECK(seen.front()->final_answer == json{{"sum", 3}});
  }
  CHECK(work.model_calls.load() == 2 * kRuns);
  CHECK(work.tool_calls.load() == 2 * kRuns);
  CHECK(executor->blocking_threads_started() == 0);  // nothing blocked: no thread beyond the two
}

TEST_CASE(
    "async runs: many runs interleaved on one thread in virtual time give the same result every "
    "time",
    "[async]") {
  const auto first = simulate(40);
  const auto second = simulate(40);
  REQUIRE(first.size() == 40);
  CHECK(first == second);
}

TEST_CASE("async runs: asynchronous tools completing on other threads, under run() and run_async()",
          "[async]") {
  auto tools = std::make_shared<ToolRegistry>();
  std::mutex m;
  std::set<std::thread::id> completers;
  ToolSpec s = spec("remote.fetch");
  s.timeout = 30s;
  REQUIRE(tools->register_async_tool(s, [&](AsyncToolCall call) {
    std::thread([&, call] {
      {
        std::lock_guard lock(m);
        completers.insert(std::this_thread::get_id());
      }
      call.complete(ToolResult::success({{"fetched", true}}));
    }).detach();
  }));
  auto planner = StaticPlanner::fixed({{"f1", "remote.fetch", json::object(), {}, ""},
                                       {"f2", "remote.fetch", json::object(), {}, ""}});
  Runtime runtime(AgentConfig{"async", tools, allow_all(), planner, nullptr});

  auto blocking = runtime.run(request("sync-api"));
  REQUIRE(blocking);
  CHECK(blocking->status == RunStatus::completed);
  CHECK(blocking->outputs["f1"] == json{{"fetched", true}});

  auto stopped = runtime.run_async(request("async-api")).get();
  REQUIRE(stopped);
  CHECK(stopped->status == RunStatus::completed);
  CHECK(stopped->outputs["f2"] == json{{"fetched", true}});
  std::lock_guard lock(m);
  CHECK(completers.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("async runs: a completion after the deadline is recorded as late and ignored",
          "[async]") {
  ManualEnv env;
  auto executor = std::make_shared<Executor>(
      ExecutorOptions{.host_driven = true, .env = &env, .virtual_time = true});
  auto tools = std::make_shared<ToolRegistry>(ToolRegistryOptions{.env = &env});
  ToolSpec s = spec("slow.tool");
  s.timeout = 1s;
  std::atomic<int> attempts{0};
  REQUIRE(tools->register_async_tool(s, [&](AsyncToolCall call) {
    ++attempts;
    executor->call_at(env.now() + 5s, [call] {
      CHECK_FALSE(call.complete(ToolResult::success({{"late", true}})));
    });
    CHECK_FALSE(call.context().cancelled());
  }));
  Stops stops;
  Runtime runtime(
      AgentConfig{"async", tools, allow_all(),
                  StaticPlanner::fixed({{"x", "slow.tool", json::object(), {}, ""}}), nullptr},
      RuntimeOptions{.env = &env, .max_retries_per_step = 0, .executor = executor});
  REQUIRE(runtime.run_async(request("late"), stops.callback()));
  executor->run_until([&] { return stops.count.load() == 1; });
  const auto run = stops.last("late");
  REQUIRE(run);
  const StepState* x = run->find_step("x");
  REQUIRE(x != nullptr);
  REQUIRE(x->result);
  CHECK(x->result->status == ToolStatus::timeout);
  CHECK(run->outputs.count("x") == 0);
  executor->run_until([&] { return tools->late_completions() == 1; });
  CHECK(tools->late_completions() == 1);
  CHECK(attempts.load() == 1);
}

TEST_CASE("async runs: cancelling a parked run ends it and tells the tool", "[async]") {
  auto tools = std::make_shared<ToolRegistry>();
  HeldCalls held;
  held.register_on(*tools);
  Stops stops;
  Runtime runtime(HeldCalls::agent(tools), RuntimeOptions{.executor_options = {.threads = 1}});
  REQUIRE(runtime.run_async(request("parked"), stops.callback()));
  REQUIRE(eventually([&] { return held.count() == 1; }));
  CHECK(stops.count.load() == 0);
  REQUIRE(runtime.cancel("parked"));
  REQUIRE(eventually([&] { return stops.count.load() == 1; }));
  const auto run = stops.last("parked");
  REQUIRE(run);
  CHECK(run->status == RunStatus::cancelled);
  std::lock_guard lock(held.mutex);
  CHECK(held.calls.front().context().cancelled());
  CHECK_FALSE(held.calls.front().complete(ToolResult::success(1)));
}

TEST_CASE("async runs: an approval resumes a parked run by itself", "[async]") {
  auto tools = std::make_shared<ToolRegistry>();
  REQUIRE(tools->register_tool(spec("pay.out", true), [](const json&, ToolContext&) {
    return ToolResult::success({{"paid", 1}});
  }));
  PolicySpec p;
  PolicyRule r;
  r.id = "pay-needs-approval";
  r.decision = Decision::require_approval;
  r.tool = ToolMatch::exact("pay.out");
  p.rules.push_back(r);
  auto policy = PolicyEngine::create(p);
  REQUIRE(policy);
  Stops stops;
  Runtime runtime(
      AgentConfig{"async", tools, *policy,
                  StaticPlanner::fixed({{"pay", "pay.out", json::object(), {}, ""}}), nullptr},
      RuntimeOptions{.executor_options = {.threads = 1}});
  REQUIRE(runtime.run_async(request("needs-ok"), stops.callback()));
  REQUIRE(eventually([&] { return stops.count.load() == 1; }));
  CHECK(stops.last("needs-ok")->status == RunStatus::awaiting_approval);
  CHECK(runtime.runs_in_memory() == 1);
  REQUIRE(runtime.approve("needs-ok", "pay", "fine"));
  REQUIRE(eventually([&] { return stops.count.load() == 2; }));
  const auto done = stops.last("needs-ok");
  REQUIRE(done);
  CHECK(done->status == RunStatus::completed);
  CHECK(done->outputs["pay"] == json{{"paid", 1}});
  // Resuming an ended run only tells its final state.
  REQUIRE(runtime.resume_async("needs-ok", stops.callback()));
  REQUIRE(eventually([&] { return stops.count.load() == 3; }));
  CHECK(stops.last("needs-ok")->status == RunStatus::completed);
}

TEST_CASE("async runs: the asynchronous ReAct planner repairs a bad turn while parked", "[async]") {
  auto executor = std::make_shared<Executor>(ExecutorOptions{.threads = 1});
  TimedWorkload work{executor, 1ms, 1ms};
  auto tools = std::make_shared<ToolRegistry>();
  work.register_tools(*tools);
  std::atomic<int> calls{0};
  auto timed = work.model();
  AsyncLlmCallback model = [&](LlmRequest request, LlmCompletion done) {
    if (calls++ == 0) {  // first a call of a tool that does not exist
      LlmResponse r;
      r.finish_reason = "tool_calls";
      r.tool_calls = {{"z", "no__such", json::object(), "{}"}};
      std::thread([done, r] { done.complete(r); }).detach();
      return;
    }
    timed(std::move(request), std::move(done));
  };
  Runtime runtime(async_agent(tools, model), RuntimeOptions{.executor = executor});
  auto run = runtime.run_async(request("repair")).get();
  REQUIRE(run);
  CHECK(run->status == RunStatus::completed);
  CHECK(run->final_answer == json{{"sum", 3}});
  CHECK(calls.load() == 3);  // the bad turn, its repair, the answer
}

TEST_CASE("async runs: a synchronous planner may wait on an asynchronous model, under either API",
          "[async]") {
  auto tools = std::make_shared<ToolRegistry>();
  struct AskingPlanner final : Planner {
    Result<PlanDecision> plan(const PlanRequest& r) override {
      LlmRequest ask;
      ask.messages = {{"user", "what is the answer?", {}, "", ""}};
      auto answer = r.llm(ask);
      if (!answer) return answer.error();
      return PlanDecision::finish({{"model_said", answer->content}});
    }
  };
  AsyncLlmCallback model = [](LlmRequest, LlmCompletion done) {
    std::thread([done] {
      LlmResponse r;
      r.content = "42";
      done.complete(r);
    }).detach();
  };
  Runtime runtime(
      AgentConfig{
          "async", tools, allow_all(), std::make_shared<AskingPlanner>(), nullptr, {}, model},
      RuntimeOptions{.executor_options = {.threads = 1, .blocking_threads = 2}});
  auto blocking = runtime.run(request("sync"));
  REQUIRE(blocking);
  CHECK(blocking->final_answer == json{{"model_said", "42"}});
  auto parked = runtime.run_async(request("async")).get();
  REQUIRE(parked);
  CHECK(parked->final_answer == json{{"model_said", "42"}});
}

TEST_CASE("async runs: synchronous tools run on the blocking pool, never where runs are driven",
          "[async]") {
  ManualEnv env;
  auto executor = std::make_shared<Executor>(ExecutorOptions{.host_driven = true, .env = &env});
  auto tools = std::make_shared<ToolRegistry>(ToolRegistryOptions{.env = &env});
  std::atomic<std::thread::id> ran_on{};
  REQUIRE(tools->register_tool(spec("local.work"), [&](const json&, ToolContext&) {
    ran_on = std::this_thread::get_id();
    return ToolResult::success(1);
  }));
  Stops stops;
  Runtime runtime(
      AgentConfig{"async", tools, allow_all(),
                  StaticPlanner::fixed({{"w", "local.work", json::object(), {}, ""}}), nullptr},
      RuntimeOptions{.env = &env, .executor = executor});
  REQUIRE(runtime.run_async(request("pool"), stops.callback()));
  executor->run_until([&] { return stops.count.load() == 1; });
  CHECK(stops.last("pool")->status == RunStatus::completed);
  CHECK(ran_on.load() != std::thread::id{});
  CHECK(ran_on.load() != std::this_thread::get_id());
  CHECK(executor->blocking_threads_started() >= 1);
}

TEST_CASE("async runs: a throwing or dropped asynchronous tool is an error result, not a hang",
          "[async]") {
  auto tools = std::make_shared<ToolRegistry>();
  REQUIRE(tools->register_async_tool(spec("throws.tool"), [](AsyncToolCall) { throw 7; }));
  REQUIRE(tools->register_async_tool(spec("drops.tool"), [](AsyncToolCall) {}));
  auto a = tools->invoke("throws.tool", json::object());
  CHECK(a.status == ToolStatus::error);
  CHECK(a.errors.front().find("non-standard exception") != std::string::npos);
  auto b = tools->invoke("drops.tool", json::object());
  CHECK(b.status == ToolStatus::error);
  CHECK(b.errors.front().find("dropped its call") != std::string::npos);
}

TEST_CASE("async runs: destroying the runtime cancels the runs it drives and waits for them",
          "[async]") {
  auto tools = std::make_shared<ToolRegistry>();
  HeldCalls held;
  held.register_on(*tools);
  Stops stops;
  {
    Runtime runtime(HeldCalls::agent(tools), RuntimeOptions{.executor_options = {.threads = 2}});
    for (int i = 0; i < 20; ++i)
      REQUIRE(runtime.run_async(request("p" + std::to_string(i)), stops.callback()));
    REQUIRE(eventually([&] { return held.count() == 20; }));
    CHECK(runtime.resume_async("p0", stops.callback()).error().code() == ErrorCode::already_exists);
    CHECK(runtime.resume_async("nobody", stops.callback()).error().code() == ErrorCode::not_found);
  }
  CHECK(stops.count.load() == 20);
  std::lock_guard lock(stops.mutex);
  for (const auto& [id, seen] : stops.by_run)
    CHECK(seen.back()->status == RunStatus::cancelled);
}

#if REIN_WITH_CURL
TEST_CASE("async runs: runs whose model is an OpenAiClient over HTTP park while it answers",
          "[async][http]") {
  test::FakeLlmServer server;
  // The timed workload's model, over the wire: two tool calls, then the sum of their values.
  server.set_handler([](const test::RecordedRequest& r) {
    static const std::regex value(R"re("value":\s*(\d+))re");
    std::int64_t sum = 0;
    bool have_results = false;
    for (const auto& m : r.json["messages"]) {
      if (m.value("role", "") != "tool") continue;
      const std::string content = m.value("content", "");
      for (std::sregex_iterator it(content.begin(), content.end(), value), end; it != end; ++it) {
        have_results = true;
        sum += std::stoll((*it)[1].str());
      }
    }
    test::FakeReply reply =
        have_results
            ? test::FakeReply::answer(json{{"sum", sum}}.dump())
            : test::FakeReply::answer(
                  "", json::array({{{"id", "a"}, {"name", "data__a"}, {"arguments", {{"n", 1}}}},
                                   {{"id", "b"}, {"name", "data__b"}, {"arguments", {{"n", 2}}}}}));
    reply.delay = 50ms;
    return reply;
  });
  OpenAiOptions o;
  o.base_url = server.base_url();
  o.model = "fake-model";
  o.max_idle_connections = 300;
  auto client = OpenAiClient::create(o);
  REQUIRE(client);

  auto executor = std::make_shared<Executor>(ExecutorOptions{.threads = 2});
  TimedWorkload work{executor, 0ms, 5ms};
  auto tools = std::make_shared<ToolRegistry>();
  work.register_tools(*tools);
  Stops stops;
  constexpr int kRuns = 300;  // as many as max_idle_connections
  {
    Runtime runtime(async_agent(tools, client->async_callback()),
                    RuntimeOptions{.executor = executor});
    for (int i = 0; i < kRuns; ++i)
      REQUIRE(runtime.run_async(request("h" + std::to_string(i)), stops.callback()));
    REQUIRE(eventually([&] { return stops.count.load() == kRuns; }));
  }
  std::lock_guard lock(stops.mutex);
  for (const auto& [id, seen] : stops.by_run) {
    REQUIRE(seen.size() == 1);
    REQUIRE(seen.front());
    CHECK(seen.front()->status == RunStatus::completed);
    CHECK(seen.front()->final_answer == json{{"sum", 3}});
  }
  CHECK(server.requests().size() == 2 * kRuns);
  CHECK(server.connections() <= kRuns);              // the second turns reused connections
  CHECK(executor->blocking_threads_started() == 0);  // no run waited on a blocked thread
}
#endif
