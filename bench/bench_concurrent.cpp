// concurrent_runs_1k, concurrent_runs_10k: N runs at once in one process, each two model turns
//   of 200 ms and one round of two parallel 50 ms tool calls (ideal wall time 450 ms), with an
//   asynchronous fake model and asynchronous tools completing on the executor's timers, the
//   asynchronous ReactPlanner, a rule critic and the in-memory store; every final answer is
//   checked. Fields: wall_ms, ideal_ms, peak_rss_mb, threads (peak), runs, failed.
// concurrent_runs_10k_sync: the same with a synchronous model callback and synchronous tools
//   that sleep, on a blocking pool of 256 threads.
// Each runs in a process of its own (rein_bench --scenario NAME), so that its peak RSS and
// thread count are its own.
#include <dirent.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>

#include "benchmarks.hpp"
#include "rein/rein.hpp"

namespace rein::bench {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kThink = 200ms;
constexpr auto kWork = 50ms;

LlmResponse model_turn(const LlmRequest& request) {
  const bool have_results = std::any_of(request.messages.begin(), request.messages.end(),
                                        [](const Message& m) { return m.role == "tool"; });
  LlmResponse r;
  r.prompt_tokens = 100;
  r.completion_tokens = 20;
  if (!have_results) {
    r.finish_reason = "tool_calls";
    r.tool_calls = {{"a", "data__a", {{"n", 1}}, R"({"n":1})"},
                    {"b", "data__b", {{"n", 2}}, R"({"n":2})"}};
    return r;
  }
  static const std::regex value(R"re("value":\s*(\d+))re");
  std::int64_t sum = 0;
  for (const auto& m : request.messages) {
    if (m.role != "tool") continue;
    for (std::sregex_iterator it(m.content.begin(), m.content.end(), value), end; it != end; ++it) {
      sum += std::stoll((*it)[1].str());
    }
  }
  r.finish_reason = "stop";
  r.content = json{{"sum", sum}}.dump();
  return r;
}

ToolSpec data_tool(const char* name) {
  ToolSpec s;
  s.name = name;
  s.description = "returns n as value";
  s.input_schema = {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}};
  s.timeout = 0ms;
  s.retry.max_attempts = 1;
  return s;
}

std::size_t threads_now() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d))
      n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

json concurrent_runs(int runs, bool synchronous) {
  ExecutorOptions eo;
  eo.blocking_threads = synchronous ? 256 : 64;
  auto executor = std::make_shared<Executor>(eo);
  auto tools = std::make_shared<ToolRegistry>();
  RuntimeOptions options;
  options.executor = executor;
  if (synchronous) {
    options.llm = [](const LlmRequest& request) -> Result<LlmResponse> {
      std::this_thread::sleep_for(kThink);
      return model_turn(request);
    };
    for (const char* name : {"data.a", "data.b"}) {
      (void)tools->register_tool(data_tool(name), [](const json& args, ToolContext&) {
        std::this_thread::sleep_for(kWork);
        return ToolResult::success({{"value", args.value("n", 0)}});
      });
    }
  } else {
    options.llm_async = [executor](LlmRequest request, LlmCompletion done) {
      auto answer = model_turn(request);
      executor->call_at(executor->env().now() + kThink, [done, answer] { done.complete(answer); });
    };
    for (const char* name : {"data.a", "data.b"}) {
      (void)tools->register_async_tool(data_tool(name), [executor](AsyncToolCall call) {
        const auto n = call.args().value("n", 0);
        executor->call_at(executor->env().now() + kWork, [call, n] {
          call.complete(ToolResult::success({{"value", n}}));
        });
      });
    }
  }
  PolicySpec p;
  PolicyRule allow;
  allow.id = "allow";
  allow.decision = Decision::allow;
  allow.tool = ToolMatch::glob("data.*");
  p.rules.push_back(allow);
  Runtime runtime(AgentConfig{"bench", tools, *PolicyEngine::create(p),
                              std::make_shared<ReactPlanner>(), nullptr},
                  std::move(options));

  std::mutex m;
  std::condition_variable all_done;
  int stopped = 0, failed = 0;
  std::atomic<bool> sampling{true};
  std::atomic<std::size_t> peak_threads{threads_now()};
  std::thread sampler([&] {
    while (sampling) {
      const std::size_t n = threads_now() - 1;  // not counting the sampler itself
      if (n > peak_threads) peak_threads = n;
      std::this_thread::sleep_for(5ms);
    }
  });
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) {
    auto id = runtime.run_async(
        RunRequest{"add the values", {"bench", {"analyst"}}, nullptr, "run-" + std::to_string(i)},
        [&](const Result<AgentState>& s) {
          const bool ok =
              s && s->status == RunStatus::completed && s->final_answer == json{{"sum", 3}};
          std::lock_guard lock(m);
          ++stopped;
          failed += ok ? 0 : 1;
          if (stopped == runs) all_done.notify_one();
        });
    if (!id) ++failed;
  }
  {
    std::unique_lock lock(m);
    all_done.wait(lock, [&] { return stopped == runs; });
  }
  const auto wall = std::chrono::steady_clock::now() - start;
  sampling = false;
  sampler.join();
  return {{"wall_ms", std::chrono::duration<double, std::milli>(wall).count()},
          {"ideal_ms", 450},
          {"peak_rss_mb", peak_rss_mb()},
          {"threads", peak_threads.load()},
          {"runs", runs},
          {"failed", failed}};
}

}  // namespace

void add_concurrent_scenarios(std::vector<Scenario>& out) {
  out.push_back({"concurrent_runs_1k", [] { return concurrent_runs(1'000, false); }});
  out.push_back({"concurrent_runs_10k", [] { return concurrent_runs(10'000, false); }});
  out.push_back({"concurrent_runs_10k_sync", [] { return concurrent_runs(10'000, true); }});
}

}  // namespace rein::bench
