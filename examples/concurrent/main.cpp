// Drives 1,000 agents at once in one process with the asynchronous API, and prints throughput
// and latency percentiles. Offline: the "model" and the tools are stand-ins that answer after
// 200 ms and 50 ms on the runtime's timers, the way a remote model and remote services would,
// so a run's life is almost all waiting — and a run that waits holds no thread.
//
//   concurrent [RUNS]
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "rein/rein.hpp"

using namespace std::chrono_literals;
using nlohmann::json;

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1000;
  auto executor = std::make_shared<rein::Executor>();  // one run thread per core

  // Two tools that answer 50 ms later, completing from a timer: asynchronous tools hand their
  // result back through the AsyncToolCall whenever it is ready, from any thread.
  auto tools = std::make_shared<rein::ToolRegistry>();
  for (const char* name : {"prices.quote", "stock.level"}) {
    rein::ToolSpec spec;
    spec.name = name;
    spec.description = std::string("looks up ") + name;
    spec.input_schema = {
        {"type", "object"}, {"properties", {{"sku", {{"type", "string"}}}}}, {"required", {"sku"}}};
    (void)tools->register_async_tool(
        spec, [executor, name = std::string(name)](rein::AsyncToolCall call) {
          const json value = name == "prices.quote" ? json{{"price", 42}} : json{{"in_stock", 7}};
          executor->call_at(executor->env().now() + 50ms,
                            [call, value] { call.complete(rein::ToolResult::success(value)); });
        });
  }

  // The model: first it asks for both tools, then it answers. A real host would start an HTTP
  // request here and complete `done` from its client's callback.
  rein::AsyncLlmCallback model = [executor](rein::LlmRequest request, rein::LlmCompletion done) {
    rein::LlmResponse r;
    const bool answered = std::any_of(request.messages.begin(), request.messages.end(),
                                      [](const rein::Message& m) { return m.role == "tool"; });
    if (!answered) {
      r.finish_reason = "tool_calls";
      r.tool_calls = {{"q", "prices__quote", {{"sku", "A1"}}, R"({"sku":"A1"})"},
                      {"s", "stock__level", {{"sku", "A1"}}, R"({"sku":"A1"})"}};
    } else {
      r.content = R"({"sku": "A1", "price": 42, "in_stock": 7})";
    }
    executor->call_at(executor->env().now() + 200ms, [done, r] { done.complete(r); });
  };

  auto policy = rein::PolicyEngine::from_json(json::parse(R"({"rules": [
      {"id": "lookups", "decision": "allow", "tool_glob": "*.*", "roles": ["clerk"]}]})"));
  if (!policy) {
    std::fprintf(stderr, "%s\n", policy.error().to_string().c_str());
    return 1;
  }
  auto created = rein::Runtime::create(
      rein::react_agent(
          {.name = "concurrent", .tools = tools, .policy = *policy, .model_async = model}),
      {.executor = executor});
  if (!created) {
    std::fprintf(stderr, "%s\n", created.error().to_string().c_str());
    return 1;
  }
  rein::Runtime& runtime = *created;

  std::mutex mutex;
  std::condition_variable all_done;
  std::vector<double> latencies_ms;
  int completed = 0, stopped = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) {
    const auto begun = std::chrono::steady_clock::now();
    auto id = runtime.run_async(
        rein::RunRequest{
            "quote A1 with its stock", {"clerk-" + std::to_string(i), {"clerk"}}, nullptr, {}},
        [&, begun](const rein::Result<rein::AgentState>& s) {
          const double ms =
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begun)
                  .count();
          const bool ok = s && s->status == rein::RunStatus::completed && s->final_answer &&
                          (*s->final_answer)["price"] == 42 && (*s->final_answer)["in_stock"] == 7;
          std::lock_guard lock(mutex);
          latencies_ms.push_back(ms);
          completed += ok ? 1 : 0;
          if (++stopped == runs) all_done.notify_one();
        });
    if (!id) {
      std::fprintf(stderr, "%s\n", id.error().to_string().c_str());
      return 1;
    }
  }
  std::unique_lock lock(mutex);
  all_done.wait(lock, [&] { return stopped == runs; });
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    return latencies_ms[static_cast<std::size_t>(p * static_cast<double>(latencies_ms.size() - 1))];
  };
  std::printf("%d of %d runs completed, answers verified\n", completed, runs);
  std::printf("wall %.2f s, %.0f runs/s; each run waits 450 ms on its model and tools\n", wall_s,
              runs / wall_s);
  std::printf("latency ms: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", pct(0.5), pct(0.9), pct(0.99),
              latencies_ms.back());
  return completed == runs ? 0 : 1;
}
