#include "harness.hpp"

#include <algorithm>
#include <chrono>

namespace rein::bench {

namespace {
using Clock = std::chrono::steady_clock;

double batch_ns(const std::function<void()>& op, std::uint64_t batch) {
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < batch; ++i)
    op();
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}
}  // namespace

Figures measure(const std::string& name, const std::function<void()>& op, const Options& options) {
  // Warm up caches and lazy initialisation, then size batches to about 1 µs.
  for (int i = 0; i < options.warmup; ++i)
    op();
  std::uint64_t batch = 1;
  while (batch < (1u << 20) && batch_ns(op, batch) < 1000.0)
    batch *= 2;

  std::vector<double> per_call;
  const auto deadline = Clock::now() + std::chrono::duration<double>(options.min_seconds);
  while (per_call.size() < options.min_samples || Clock::now() < deadline) {
    per_call.push_back(batch_ns(op, batch) / static_cast<double>(batch));
    if (per_call.size() >= 200'000) break;
  }
  std::sort(per_call.begin(), per_call.end());
  auto at = [&](double q) {
    const auto index = static_cast<std::size_t>(q * static_cast<double>(per_call.size() - 1));
    return per_call[index];
  };
  return {name, at(0.5), at(0.99), per_call.size(), batch};
}

}  // namespace rein::bench
