// Concurrent invokes; also run under ThreadSanitizer in CI (tests named "concurrency: ...").
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "rein/failure_injector.hpp"
#include "rein/tool_registry.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using rein::ToolResult;

namespace {
rein::ToolSpec spec(std::string name, std::chrono::milliseconds timeout) {
  rein::ToolSpec s;
  s.name = std::move(name);
  s.description = "concurrency test tool";
  s.input_schema = json::parse(R"({"type": "object", "properties": {"n": {"type": "integer"}}})");
  s.timeout = timeout;
  s.retry.initial_backoff = 0ms;
  s.retry.max_attempts = 3;
  return s;
}
}  // namespace

TEST_CASE("concurrency: many threads invoke inline and timed tools at once", "[concurrency]") {
  rein::ToolRegistry reg({.env = nullptr, .idempotency_store = nullptr, .max_runner_threads = 16});
  std::atomic<int> inline_calls{0}, timed_calls{0};
  REQUIRE(reg.register_tool(spec("fast.inline", 0ms),
                            [&](const json& a, rein::ToolContext&) {
                              ++inline_calls;
                              return ToolResult::success({{"n", a.value("n", 0)}});
                            })
              .ok());
  REQUIRE(reg.register_tool(spec("fast.timed", 60'000ms),
                            [&](const json& a, rein::ToolContext&) {
                              ++timed_calls;
                              return ToolResult::success({{"n", a.value("n", 0)}});
                            })
              .ok());

  constexpr int kThreads = 8, kCalls = 200;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const int n = t * kCalls + i;
        auto r = reg.invoke(i % 2 == 0 ? "fast.inline" : "fast.timed", {{"n", n}});
        if (!r.ok() || r.data["n"] != n) ++wrong;
        if (i % 50 == 0) (void)reg.openai_catalog();
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(wrong == 0);
  CHECK(inline_calls == kThreads * kCalls / 2);
  CHECK(timed_calls == kThreads * kCalls / 2);
}

TEST_CASE("concurrency: one idempotency key applies its effect once under contention",
          "[concurrency]") {
  rein::ToolRegistry reg;
  auto s = spec("ledger.write", 60'000ms);
  s.side_effects = true;
  s.idempotency.key_required = true;
  std::atomic<int> effects{0};
  REQUIRE(reg.register_tool(s,
                            [&](const json&, rein::ToolContext&) {
                              ++effects;
                              std::this_thread::sleep_for(2ms);
                              return ToolResult::success({{"written", true}});
                            })
              .ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 10; ++k) {
        auto r = reg.invoke("ledger.write", json::object(),
                            {.idempotency_key = "key-" + std::to_string(k), .cancellation = {}});
        if (r.ok()) ++ok;
        (void)t;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(ok == 80);
  CHECK(effects == 10);
}

TEST_CASE("concurrency: registering while invoking, with injected failures", "[concurrency]") {
  rein::ToolRegistry reg;
  rein::FailureRates rates;
  rates.transient_error = 0.3;
  rein::FailureInjector chaos(rates, 11);
  REQUIRE(
      reg.register_tool(spec("chaos.tool", 0ms), chaos.wrap([](const json&, rein::ToolContext&) {
           return ToolResult::success({{"fine", true}});
         }))
          .ok());
  std::atomic<bool> stop{false};
  std::thread registrar([&] {
    for (int i = 0; i < 50; ++i) {
      (void)reg.register_tool(
          spec("extra.t" + std::to_string(i), 0ms),
          [](const json&, rein::ToolContext&) { return ToolResult::success({}); });
    }
    stop = true;
  });
  std::vector<std::thread> callers;
  std::atomic<int> finished{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 200 || !stop; ++i) {
        auto r = reg.invoke("chaos.tool", json::object());
        if (r.ok() || r.transient) ++finished;
        (void)reg.names();
      }
    });
  }
  registrar.join();
  for (auto& th : callers)
    th.join();
  CHECK(reg.size() == 51);
  CHECK(finished > 0);
  CHECK(chaos.counts().transient_errors > 0);
}
