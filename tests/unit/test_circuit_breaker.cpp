#include <catch2/catch.hpp>

#include "rein/circuit_breaker.hpp"

using namespace std::chrono_literals;

TEST_CASE("circuit opens after consecutive failures, probes, and closes on success", "[breaker]") {
  rein::ManualEnv env;
  rein::CircuitBreaker b({.failure_threshold = 3, .open_duration = 10s, .half_open_probes = 1});
  CHECK(b.state(env) == rein::CircuitState::closed);
  for (int i = 0; i < 2; ++i) {
    REQUIRE(b.allow(env));
    b.record_failure(env);
  }
  REQUIRE(b.allow(env));
  b.record_success();  // a success resets the count
  for (int i = 0; i < 3; ++i) {
    REQUIRE(b.allow(env));
    b.record_failure(env);
  }
  CHECK(b.state(env) == rein::CircuitState::open);
  CHECK_FALSE(b.allow(env));
  CHECK(b.retry_after(env) == 10s);
  env.advance(4s);
  CHECK(b.retry_after(env) == 6s);
  env.advance(6s);
  CHECK(b.state(env) == rein::CircuitState::half_open);
  REQUIRE(b.allow(env));      // the probe
  CHECK_FALSE(b.allow(env));  // only one probe at a time
  b.record_success();
  CHECK(b.state(env) == rein::CircuitState::closed);
  CHECK(b.allow(env));
}

TEST_CASE("a failed probe opens the circuit again", "[breaker]") {
  rein::ManualEnv env;
  rein::CircuitBreaker b({.failure_threshold = 1, .open_duration = 1s, .half_open_probes = 1});
  REQUIRE(b.allow(env));
  b.record_failure(env);
  CHECK_FALSE(b.allow(env));
  env.advance(1s);
  REQUIRE(b.allow(env));
  b.record_failure(env);
  CHECK(b.state(env) == rein::CircuitState::open);
  CHECK_FALSE(b.allow(env));
}

TEST_CASE("a threshold of zero disables the breaker", "[breaker]") {
  rein::ManualEnv env;
  rein::CircuitBreaker b({.failure_threshold = 0, .open_duration = 1s, .half_open_probes = 1});
  for (int i = 0; i < 100; ++i) {
    REQUIRE(b.allow(env));
    b.record_failure(env);
  }
  CHECK(b.state(env) == rein::CircuitState::closed);
}

TEST_CASE("an abandoned probe frees its slot without closing or opening the circuit", "[breaker]") {
  rein::ManualEnv env;
  rein::CircuitBreaker b({.failure_threshold = 1, .open_duration = 1s, .half_open_probes = 1});
  REQUIRE(b.allow(env));
  b.record_failure(env);
  env.advance(1s);
  REQUIRE(b.allow(env));
  CHECK_FALSE(b.allow(env));
  b.record_abandoned();
  CHECK(b.state(env) == rein::CircuitState::half_open);
  CHECK(b.allow(env));  // the slot is free again
}
