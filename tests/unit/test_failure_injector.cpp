#include <catch2/catch.hpp>

#include "rein/failure_injector.hpp"
#include "rein/tool_registry.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using rein::InjectedFailure;
using rein::ToolResult;

TEST_CASE("draws are reproducible from the seed and follow the rates", "[chaos]") {
  rein::FailureRates rates;
  rates.timeout = 0.1;
  rates.permanent_error = 0.2;
  rates.transient_error = 0.1;
  rates.stale = 0.2;
  rein::FailureInjector a(rates, 42), b(rates, 42);
  std::map<InjectedFailure, int> seen;
  for (int i = 0; i < 20000; ++i) {
    auto x = a.draw();
    REQUIRE(x == b.draw());
    ++seen[x];
  }
  CHECK(seen[InjectedFailure::timeout] == Approx(2000).epsilon(0.1));
  CHECK(seen[InjectedFailure::permanent_error] == Approx(4000).epsilon(0.1));
  CHECK(seen[InjectedFailure::transient_error] == Approx(2000).epsilon(0.1));
  CHECK(seen[InjectedFailure::stale] == Approx(4000).epsilon(0.1));
  CHECK(seen[InjectedFailure::none] == Approx(8000).epsilon(0.1));
  auto counts = a.counts();
  CHECK(counts.calls == 20000);
  CHECK(counts.stale == static_cast<std::uint64_t>(seen[InjectedFailure::stale]));
}

namespace {
rein::ToolSpec spec(std::chrono::milliseconds timeout) {
  rein::ToolSpec s;
  s.name = "crm.search";
  s.description = "accounts by region";
  s.timeout = timeout;
  s.retry.max_attempts = 1;
  s.circuit_breaker.failure_threshold = 0;
  return s;
}
rein::ToolFn accounts() {
  return [](const json&, rein::ToolContext&) {
    return ToolResult::success({{"accounts", {"A100", "A200", "A400"}}});
  };
}
}  // namespace

TEST_CASE("each failure kind reaches the caller in its shape", "[chaos]") {
  rein::ManualEnv env;
  auto run_with = [&](rein::FailureRates rates, std::chrono::milliseconds timeout) {
    rein::ToolRegistry reg({.env = &env});
    rein::FailureInjector chaos(rates, 1);
    auto drop_last = [](ToolResult& r) { r.data["accounts"].erase(r.data["accounts"].size() - 1); };
    REQUIRE(reg.register_tool(spec(timeout), chaos.wrap(accounts(), drop_last)).ok());
    return reg.invoke("crm.search", json::object());
  };
  rein::FailureRates only;
  only.timeout = 1.0;
  auto timed_out = run_with(only, 1000ms);
  CHECK(timed_out.status == rein::ToolStatus::timeout);
  auto timed_out_inline = run_with(only, 0ms);
  CHECK(timed_out_inline.status == rein::ToolStatus::timeout);

  only = {};
  only.permanent_error = 1.0;
  auto permanent = run_with(only, 0ms);
  CHECK(permanent.status == rein::ToolStatus::error);
  CHECK_FALSE(permanent.transient);
  CHECK(permanent.errors == std::vector<std::string>{"injected error: not found or bad id"});

  only = {};
  only.transient_error = 1.0;
  auto transient = run_with(only, 0ms);
  CHECK(transient.transient);

  only = {};
  only.stale = 1.0;
  auto stale = run_with(only, 0ms);
  REQUIRE(stale.ok());
  CHECK(stale.data["accounts"] == json({"A100", "A200"}));

  auto healthy = run_with({}, 0ms);
  CHECK(healthy.data["accounts"].size() == 3);
}

TEST_CASE("added latency is slept through the Env", "[chaos]") {
  rein::ManualEnv env;
  rein::ToolRegistry reg({.env = &env});
  rein::FailureRates rates;
  rates.latency_min = 10ms;
  rates.latency_max = 60ms;
  rein::FailureInjector chaos(rates, 3);
  REQUIRE(reg.register_tool(spec(0ms), chaos.wrap(accounts())).ok());
  for (int i = 0; i < 20; ++i)
    REQUIRE(reg.invoke("crm.search", json::object()).ok());
  CHECK(env.slept() >= 200ms);
  CHECK(env.slept() <= 1200ms);
}
