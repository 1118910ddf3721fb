// The benchmarks rein_bench knows, grouped by the part of rein they measure.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"

namespace rein::bench {

struct Benchmark {
  std::string name;
  std::function<void()> op;        // one call of the measured operation; owns what it uses
  std::optional<Options> options;  // slow operations measure fewer samples
};

void add_policy_benchmarks(std::vector<Benchmark>& out);
void add_tool_benchmarks(std::vector<Benchmark>& out);
void add_runtime_benchmarks(std::vector<Benchmark>& out);
void add_audit_benchmarks(std::vector<Benchmark>& out);
void add_memory_benchmarks(std::vector<Benchmark>& out);
void add_sandbox_benchmarks(std::vector<Benchmark>& out);

}  // namespace rein::bench
