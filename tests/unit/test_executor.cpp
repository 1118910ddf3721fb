#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../support/waiting.hpp"
#include "rein/executor.hpp"
#include "rein/task.hpp"

using namespace rein;
using namespace std::chrono_literals;

namespace {

Task<int> answer_after(Executor& ex, std::chrono::milliseconds d) {
  co_await ex.sleep_until(ex.env().now() + d);
  co_return 42;
}

Task<int> add_one(Task<int> inner) {
  co_return co_await std::move(inner) + 1;
}

Task<int> throws() {
  throw std::runtime_error("inside the task");
  co_return 0;
}

// A chain of tasks, each awaiting the next.
Task<int> depth(int n) {
  if (n == 0) co_return 0;
  co_return co_await depth(n - 1) + 1;
}

}  // namespace

TEST_CASE("executor: posted work runs on its run threads, never on the poster's") {
  Executor ex({.threads = 2});
  const auto me = std::this_thread::get_id();
  std::mutex m;
  std::set<std::thread::id> seen;
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) {
    ex.post([&] {
      {
        std::lock_guard lock(m);
        seen.insert(std::this_thread::get_id());
      }
      ++ran;
    });
  }
  REQUIRE(rein::testing::eventually([&] { return ran.load() == 100; }));
  std::lock_guard lock(m);
  CHECK(seen.count(me) == 0);
  CHECK(seen.size() <= 2);
}

TEST_CASE("executor: timers fire in the order of their times, and a cancelled one never") {
  ManualEnv env;
  Executor ex({.host_driven = true, .env = &env});
  std::vector<int> order;
  ex.call_at(env.now() + 30ms, [&] { order.push_back(3); });
  ex.call_at(env.now() + 10ms, [&] { order.push_back(1); });
  auto cancelled = ex.call_at(env.now() + 20ms, [&] { order.push_back(2); });
  CHECK(ex.cancel(cancelled));
  CHECK_FALSE(ex.cancel(cancelled));
  CHECK(ex.poll() == 0);  // time stands still
  env.advance(15ms);
  CHECK(ex.poll() == 1);
  env.advance(15ms);
  CHECK(ex.poll() == 1);
  CHECK(order == std::vector<int>{1, 3});
}

TEST_CASE("executor: virtual time moves an idle executor's clock straight to its next timer") {
  ManualEnv env;
  Executor ex({.host_driven = true, .env = &env, .virtual_time = true});
  const auto t0 = env.now();
  std::optional<int> got;
  start_detached(answer_after(ex, 5000ms), [&](int v) { got = v; });
  CHECK_FALSE(got);
  ex.run_until([&] { return got.has_value(); });
  CHECK(*got == 42);
  CHECK(env.now() - t0 == 5000ms);  // no real waiting: the clock jumped
}

TEST_CASE("executor: a sleep ends early, with false, when its token is cancelled") {
  Executor ex({.threads = 1});
  CancellationSource cancel;
  std::atomic<int> result{-1};
  auto sleeper = [](Executor& e, CancellationToken token, std::atomic<int>& out) -> Task<void> {
    const bool slept = co_await e.sleep_until(e.env().now() + std::chrono::hours(1), token);
    out = slept ? 1 : 0;
  };
  start_detached(sleeper(ex, cancel.token(), result), [] {});
  cancel.cancel();
  REQUIRE(rein::testing::eventually([&] { return result.load() != -1; }));
  CHECK(result.load() == 0);
  // Already cancelled: no wait at all.
  result = -1;
  start_detached(sleeper(ex, cancel.token(), result), [] {});
  REQUIRE(rein::testing::eventually([&] { return result.load() != -1; }));
  CHECK(result.load() == 0);
}

TEST_CASE("executor: blocking work runs on the bounded pool and resumes on a run thread") {
  ManualEnv env;
  Executor ex({.host_driven = true, .blocking_threads = 2, .env = &env});
  const auto driver = std::this_thread::get_id();
  std::atomic<int> done{0};
  std::mutex m;
  std::set<std::thread::id> blocking_ids;
  auto job = [&](Executor& e) -> Task<void> {
    const auto where = co_await e.blocking([&] {
      std::this_thread::sleep_for(5ms);
      return std::this_thread::get_id();
    });
    {
      std::lock_guard lock(m);
      blocking_ids.insert(where);
    }
    CHECK(std::this_thread::get_id() == driver);  // resumed where the executor runs
    ++done;
  };
  for (int i = 0; i < 8; ++i)
    start_detached(job(ex), [] {});
  ex.run_until([&] { return done.load() == 8; });
  CHECK(ex.blocking_threads_started() <= 2);
  std::lock_guard lock(m);
  CHECK(blocking_ids.count(driver) == 0);
}

TEST_CASE("tasks: values and exceptions reach the awaiter, through chains of tasks") {
  ManualEnv env;
  Executor ex({.host_driven = true, .env = &env, .virtual_time = true});
  std::optional<int> got;
  start_detached(add_one(answer_after(ex, 10ms)), [&](int v) { got = v; });
  ex.run_until([&] { return got.has_value(); });
  CHECK(*got == 43);

  CHECK_THROWS_WITH(sync_wait(throws()), "inside the task");
  CHECK(sync_wait(depth(1000)) == 1000);
}

TEST_CASE("completion: the first call wins, a dropped handle delivers the abandoned value") {
  std::vector<int> delivered;
  {
    Completion<int> done([&](int v) { delivered.push_back(v); }, [] { return -1; });
    Completion<int> copy = done;
    CHECK(done.complete(1));
    CHECK_FALSE(copy.complete(2));
    CHECK(copy.done());
  }
  CHECK(delivered == std::vector<int>{1});
  {
    Completion<int> dropped([&](int v) { delivered.push_back(v); }, [] { return -1; });
  }
  CHECK(delivered == std::vector<int>{1, -1});
}

TEST_CASE(
    "cancellation: on_cancel runs once, at once when already cancelled, never after "
    "unregistering") {
  CancellationSource source;
  int calls = 0;
  {
    auto registration = source.token().on_cancel([&] { ++calls; });
  }
  auto kept = source.token().on_cancel([&] { calls += 10; });
  source.cancel();
  source.cancel();
  CHECK(calls == 10);
  auto late = source.token().on_cancel([&] { calls += 100; });
  CHECK(calls == 110);
  int never = 0;
  auto none = CancellationToken().on_cancel([&] { ++never; });
  CHECK(never == 0);
}
