// rein_bench's measuring loop: repeated timed batches, reported as median and p99 per call.
//
// Each sample times a batch of calls sized so that one batch takes about a microsecond or
// more (keeping clock overhead small) and divides by the batch size; median_ns and p99_ns are
// taken over the samples. Timings are wall-clock on whatever machine runs the bench.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rein::bench {

struct Figures {
  std::string name;
  double median_ns = 0;
  double p99_ns = 0;
  std::uint64_t samples = 0;
  std::uint64_t batch = 0;
};

struct Options {
  double min_seconds = 0.4;  // per benchmark, after warm-up
  std::uint64_t min_samples = 2000;
  int warmup = 200;  // calls before measuring
};

// For slow operations (milliseconds a call): at least a second, fewer samples, a short warm-up.
inline Options slow_options(std::uint64_t min_samples, int warmup) {
  Options o;
  o.min_seconds = 1.0;
  o.min_samples = min_samples;
  o.warmup = warmup;
  return o;
}

// `op` runs the operation once; its result must be consumed (see keep()).
Figures measure(const std::string& name, const std::function<void()>& op, const Options& options);

// Keeps the compiler from optimising away a value.
template <typename T>
inline void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

}  // namespace rein::bench
