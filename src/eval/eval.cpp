#include "rein/eval.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

namespace rein {

Interval wilson_interval(std::int64_t successes, std::int64_t trials, double z) {
  if (trials <= 0) return {0.0, 1.0};
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double z2 = z * z;
  const double center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
  // Exact at the ends: no successes has low 0, all successes high 1 (not 1e-17 away).
  return {successes <= 0 ? 0.0 : std::max(0.0, center - half),
          successes >= trials ? 1.0 : std::min(1.0, center + half)};
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  q = std::clamp(q, 0.0, 1.0);
  const double position = q * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const auto above = std::min(below + 1, values.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return values[below] + (values[above] - values[below]) * fraction;
}

ProportionTest two_proportion_test(std::int64_t sa, std::int64_t na, std::int64_t sb,
                                   std::int64_t nb) {
  ProportionTest t;
  if (na <= 0 || nb <= 0) return t;
  const double pa = static_cast<double>(sa) / static_cast<double>(na);
  const double pb = static_cast<double>(sb) / static_cast<double>(nb);
  t.difference = pa - pb;
  const double pooled = static_cast<double>(sa + sb) / static_cast<double>(na + nb);
  const double se = std::sqrt(pooled * (1 - pooled) *
                              (1.0 / static_cast<double>(na) + 1.0 / static_cast<double>(nb)));
  if (se == 0.0) return t;  // both rates 0 or both 1: no evidence of a difference
  t.z = t.difference / se;
  t.p_value = std::erfc(std::fabs(t.z) / std::sqrt(2.0));
  return t;
}

nlohmann::json EvalReport::to_json() const {
  return {{"episodes", episodes},
          {"completion_rate", completion_rate},
          {"completion_ci95", {completion_ci95.low, completion_ci95.high}},
          {"needs_review_rate", needs_review_rate},
          {"silent_errors", silent_errors},
          {"crashes", crashes},
          {"wall_p50_ms", wall_p50_ms},
          {"wall_p95_ms", wall_p95_ms}};
}

EvalReport evaluate(const std::function<Episode(std::uint64_t seed)>& episode,
                    const EvalOptions& options) {
  const std::int64_t total = std::max<std::int64_t>(0, options.episodes);
  std::vector<Episode> results(static_cast<std::size_t>(total));
  std::atomic<std::int64_t> next{0};
  std::mutex progress_mutex;
  std::int64_t done = 0;
  auto work = [&] {
    for (std::int64_t i; (i = next.fetch_add(1)) < total;) {
      Episode e;
      const auto start = std::chrono::steady_clock::now();
      try {
        e = episode(options.first_seed + static_cast<std::uint64_t>(i));
      } catch (const std::exception& ex) {
        e = Episode{};
        e.crashed = true;
        e.error = ex.what();
      } catch (...) {
        e = Episode{};
        e.crashed = true;
        e.error = "unknown exception";
      }
      if (e.wall_ms == 0.0) {
        e.wall_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
      }
      results[static_cast<std::size_t>(i)] = std::move(e);
      if (options.progress) {
        std::lock_guard lock(progress_mutex);
        options.progress(++done, total);
      }
    }
  };
  std::vector<std::thread> helpers;
  for (std::size_t t = 1; t < std::max<std::size_t>(1, options.threads); ++t)
    helpers.emplace_back(work);
  work();
  for (auto& h : helpers)
    h.join();

  EvalReport r;
  r.episodes = total;
  std::vector<double> walls;
  for (const auto& e : results) {
    r.successes += (e.success && !e.crashed) ? 1 : 0;
    r.needs_review += e.needs_review ? 1 : 0;
    r.silent_errors += e.silent_errors;
    r.crashes += e.crashed ? 1 : 0;
    walls.push_back(e.wall_ms);
  }
  if (total > 0) {
    r.completion_rate = static_cast<double>(r.successes) / static_cast<double>(total);
    r.needs_review_rate = static_cast<double>(r.needs_review) / static_cast<double>(total);
  }
  r.completion_ci95 = wilson_interval(r.successes, total);
  r.wall_p50_ms = percentile(walls, 0.50);
  r.wall_p95_ms = percentile(walls, 0.95);
  return r;
}

ProportionTest compare(const EvalReport& a, const EvalReport& b) {
  return two_proportion_test(a.successes, a.episodes, b.successes, b.episodes);
}

}  // namespace rein
