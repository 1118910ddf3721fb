#include <catch2/catch.hpp>

#include "rein/eval.hpp"

TEST_CASE("Wilson intervals match reference values and behave at the edges", "[eval]") {
  // Reference: statsmodels proportion_confint(method="wilson").
  auto a = rein::wilson_interval(81, 100);
  CHECK(a.low == Approx(0.7222).epsilon(1e-3));
  CHECK(a.high == Approx(0.8749).epsilon(1e-3));
  auto none = rein::wilson_interval(0, 50);
  CHECK(none.low == 0.0);
  CHECK(none.high == Approx(0.0714).epsilon(1e-2));
  auto all = rein::wilson_interval(50, 50);
  CHECK(all.high == 1.0);
  CHECK(all.low == Approx(0.9286).epsilon(1e-2));
  auto empty = rein::wilson_interval(0, 0);
  CHECK(empty.low == 0.0);
  CHECK(empty.high == 1.0);
}

TEST_CASE("percentiles interpolate between order statistics", "[eval]") {
  CHECK(rein::percentile({}, 0.5) == 0.0);
  CHECK(rein::percentile({5.0}, 0.95) == 5.0);
  CHECK(rein::percentile({4, 1, 3, 2}, 0.5) == Approx(2.5));
  CHECK(rein::percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.95) == Approx(9.55));
  CHECK(rein::percentile({1, 2, 3}, 0.0) == 1.0);
  CHECK(rein::percentile({1, 2, 3}, 1.0) == 3.0);
}

TEST_CASE("two-proportion z-test", "[eval]") {
  // 60/100 vs 45/100: z ≈ 2.12, p ≈ 0.034.
  auto t = rein::two_proportion_test(60, 100, 45, 100);
  CHECK(t.difference == Approx(0.15));
  CHECK(t.z == Approx(2.1243).epsilon(1e-3));
  CHECK(t.p_value == Approx(0.0336).epsilon(2e-2));
  auto same = rein::two_proportion_test(50, 100, 50, 100);
  CHECK(same.z == 0.0);
  CHECK(same.p_value == Approx(1.0));
  auto degenerate = rein::two_proportion_test(10, 10, 10, 10);
  CHECK(degenerate.p_value == 1.0);
}

TEST_CASE("evaluate runs seeded episodes on threads, counting crashes without letting them escape",
          "[eval]") {
  std::vector<std::uint64_t> seen(200, 0);
  std::int64_t last_progress = 0;
  auto report = rein::evaluate(
      [&](std::uint64_t seed) {
        seen[seed - 1] = seed;
        if (seed % 50 == 0) throw std::runtime_error("boom");
        rein::Episode e;
        e.success = seed % 4 != 0;
        e.needs_review = !e.success;
        e.wall_ms = static_cast<double>(seed);
        return e;
      },
      {.first_seed = 1,
       .episodes = 200,
       .threads = 3,
       .progress = [&](std::int64_t done, std::int64_t) { last_progress = done; }});
  for (std::uint64_t i = 0; i < 200; ++i)
    CHECK(seen[i] == i + 1);
  CHECK(report.episodes == 200);
  CHECK(report.crashes == 4);
  CHECK(report.successes == 148);  // 150 seeds not divisible by 4, less crashed 50 and 150
  CHECK(report.completion_rate == Approx(0.74));
  CHECK(report.completion_ci95.low < 0.74);
  CHECK(report.completion_ci95.high > 0.74);
  CHECK(last_progress == 200);
  auto j = report.to_json();
  CHECK(j["episodes"] == 200);
  CHECK(j["completion_ci95"].size() == 2);
  CHECK(j["silent_errors"] == 0);
}
