#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "rein/cancellation.hpp"
#include "rein/env.hpp"

using namespace std::chrono_literals;

TEST_CASE("ManualEnv time moves only when advanced or slept through", "[env]") {
  rein::ManualEnv env(1);
  const auto t0 = env.now();
  CHECK(env.now() == t0);
  CHECK(env.sleep_for(5s));
  CHECK(env.now() - t0 == 5s);
  env.advance(250ms);
  CHECK(env.now() - t0 == 5250ms);
  CHECK(env.slept() == 5s);
  CHECK(env.unix_millis() == 1'700'000'000'000 + 5250);
}

TEST_CASE("ManualEnv randomness is reproducible from its seed", "[env]") {
  rein::ManualEnv a(7), b(7), c(8);
  for (int i = 0; i < 10; ++i) {
    const auto x = a.random_u64();
    CHECK(x == b.random_u64());
    (void)c;
  }
  rein::ManualEnv d(7), e(8);
  CHECK(d.random_u64() != e.random_u64());
  for (int i = 0; i < 1000; ++i) {
    const double u = d.random_unit();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
  }
}

TEST_CASE("ids are prefixed, ManualEnv ids are sequential, system ids unique", "[env]") {
  rein::ManualEnv env;
  CHECK(env.new_id("run") == "run-000001");
  CHECK(env.new_id("run") == "run-000002");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i)
    seen.insert(rein::Env::system().new_id("call"));
  CHECK(seen.size() == 100);
  CHECK(seen.begin()->rfind("call-", 0) == 0);
}

TEST_CASE("cancellation wakes sleepers and propagates to linked sources", "[env]") {
  rein::CancellationSource parent;
  auto child = rein::CancellationSource::linked_to(parent.token());
  CHECK_FALSE(child.cancelled());
  std::thread canceller([&] {
    std::this_thread::sleep_for(20ms);  // usually lands while the sleeper waits; before is fine too
    parent.cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  // Only the cancellation can end this sleep in less than a minute.
  const bool completed = rein::Env::system().sleep_for(std::chrono::minutes(1), child.token());
  canceller.join();
  CHECK_FALSE(completed);
  CHECK(std::chrono::steady_clock::now() - start < 30s);
  CHECK(child.cancelled());

  // Linking to an already-cancelled parent yields a cancelled child.
  auto late = rein::CancellationSource::linked_to(parent.token());
  CHECK(late.cancelled());
  // Cancelling the child does not cancel the parent.
  rein::CancellationSource p2;
  auto c2 = rein::CancellationSource::linked_to(p2.token());
  c2.cancel();
  CHECK_FALSE(p2.cancelled());
}

TEST_CASE("a default token is never cancelled", "[env]") {
  rein::CancellationToken none;
  CHECK_FALSE(none.cancelled());
  CHECK_FALSE(none.can_be_cancelled());
  CHECK_FALSE(none.wait_for(1ms));
}

TEST_CASE("ManualEnv::wait_until returns on signal or when time passes the deadline", "[env]") {
  rein::ManualEnv env;
  rein::CancellationSource signal;
  const auto deadline = env.now() + 1s;
  std::thread advancer([&] {
    std::this_thread::sleep_for(5ms);
    env.advance(2s);
  });
  CHECK_FALSE(env.wait_until(signal.token(), deadline));
  advancer.join();
  signal.cancel();
  CHECK(env.wait_until(signal.token(), env.now() + 1s));
}
