// The benchmarks rein_bench knows, grouped by the part of rein they measure.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace rein::bench {

struct Benchmark {
  std::string name;
  std::function<void()> op;  // one call of the measured operation; owns what it uses
};

void add_policy_benchmarks(std::vector<Benchmark>& out);
void add_tool_benchmarks(std::vector<Benchmark>& out);
void add_runtime_benchmarks(std::vector<Benchmark>& out);
void add_audit_benchmarks(std::vector<Benchmark>& out);

}  // namespace rein::bench
