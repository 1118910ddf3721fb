// The benchmarks rein_bench knows, grouped by the part of rein they measure.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace rein::bench {

struct Benchmark {
  std::string name;
  std::function<void()> op;        // one call of the measured operation; owns what it uses
  std::optional<Options> options;  // slow operations measure fewer samples
};

// A whole workload measured once, in a process of its own; it reports its own fields.
struct Scenario {
  std::string name;
  std::function<nlohmann::json()> run;
};

void add_policy_benchmarks(std::vector<Benchmark>& out);
void add_tool_benchmarks(std::vector<Benchmark>& out);
void add_runtime_benchmarks(std::vector<Benchmark>& out);
void add_audit_benchmarks(std::vector<Benchmark>& out);
void add_memory_benchmarks(std::vector<Benchmark>& out);
void add_schema_benchmarks(std::vector<Benchmark>& out);
void add_sandbox_benchmarks(std::vector<Benchmark>& out);
void add_concurrent_scenarios(std::vector<Scenario>& out);
void add_mcp_scenarios(std::vector<Scenario>& out);

// The schema and arguments of schema_validate_10_props, shared with the side-by-side runs.
nlohmann::json tool_schema_10_props();
nlohmann::json tool_args_10_props();

}  // namespace rein::bench
