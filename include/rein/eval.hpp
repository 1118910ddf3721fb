// rein's evaluation harness: run an agent over many seeded episodes and report what happened
// with honest statistics — success rates with Wilson 95% intervals, latency percentiles, and a
// two-proportion z-test to compare two configurations.
//
// Agents are not deterministic in the large (models, latencies, failures), so a single run says
// little; N seeded episodes say how often, with how much uncertainty.
//
// Thread safety: evaluate() calls the episode function from `threads` threads at once; the
// function must allow that. The statistics functions are pure.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rein {

struct Interval {
  double low = 0.0;
  double high = 0.0;
};

// The Wilson score interval for a proportion (z = 1.96: 95%). Well-behaved at 0 and n.
Interval wilson_interval(std::int64_t successes, std::int64_t trials, double z = 1.959963984540054);

// The q-th quantile (0..1) with linear interpolation between order statistics; 0 for no data.
double percentile(std::vector<double> values, double q);

struct ProportionTest {
  double difference = 0.0;  // rate A - rate B
  double z = 0.0;
  double p_value = 1.0;  // two-sided
};

// The pooled two-proportion z-test: is A's success rate different from B's?
ProportionTest two_proportion_test(std::int64_t successes_a, std::int64_t trials_a,
                                   std::int64_t successes_b, std::int64_t trials_b);

// What one episode came to.
struct Episode {
  bool success = false;            // the agent did the whole job
  bool needs_review = false;       // it flagged something for a person
  std::int64_t silent_errors = 0;  // wrong results passed off as right (must be 0)
  bool crashed = false;            // the episode function failed (set by evaluate when it throws)
  double wall_ms = 0.0;
  std::string error{};  // why it crashed
};

struct EvalOptions {
  std::uint64_t first_seed = 1;  // episodes use seeds first_seed .. first_seed + episodes - 1
  std::int64_t episodes = 100;
  std::size_t threads = 1;
  // Called after each episode (from the evaluating threads, serialised).
  std::function<void(std::int64_t done, std::int64_t total)> progress;
};

struct EvalReport {
  std::int64_t episodes = 0;
  std::int64_t successes = 0;
  std::int64_t needs_review = 0;
  std::int64_t silent_errors = 0;
  std::int64_t crashes = 0;
  double completion_rate = 0.0;
  Interval completion_ci95{};
  double needs_review_rate = 0.0;
  double wall_p50_ms = 0.0;
  double wall_p95_ms = 0.0;

  // {"episodes", "completion_rate", "completion_ci95": [low, high], "needs_review_rate",
  //  "silent_errors", "crashes", "wall_p50_ms", "wall_p95_ms"}
  nlohmann::json to_json() const;
};

// Runs `episode(seed)` for every seed and summarises. An exception from `episode` counts as a
// crash (and never escapes).
EvalReport evaluate(const std::function<Episode(std::uint64_t seed)>& episode,
                    const EvalOptions& options);

// Compares the completion rates of two evaluations.
ProportionTest compare(const EvalReport& a, const EvalReport& b);

}  // namespace rein
