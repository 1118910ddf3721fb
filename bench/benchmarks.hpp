// The benchmarks rein_bench knows, grouped by the part of rein they measure.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace rein {
class PolicyEngine;
class RunStore;
}  // namespace rein

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
void add_multi_agent_benchmarks(std::vector<Benchmark>& out);
void add_concurrent_scenarios(std::vector<Scenario>& out);
void add_multi_agent_scenarios(std::vector<Scenario>& out);
void add_mcp_scenarios(std::vector<Scenario>& out);
void add_postgres_scenarios(std::vector<Scenario>& out);  // REIN_WITH_POSTGRES builds only

// The workloads the durable scenarios share, so that stores compare on the same work.
// step_durable's step (bench_runtime.cpp): one loop step against `store` a call (a new run
// every 16 steps); false when the step failed.
std::function<bool()> loop_stepper(std::shared_ptr<RunStore> store);
// concurrent_durable_steps' runs (bench_concurrent.cpp): `runs` chains of ten no-op calls at
// once, dealt in turn to one Runtime per store (the runtimes share one executor).
struct ChainFigures {
  double steps_per_s = 0;  // turns of completed runs, per second of the whole
  int failed = 0;
  std::string first_failure{};
};
ChainFigures chain_steps(const std::vector<std::shared_ptr<RunStore>>& stores, int runs,
                         const std::string& prefix);

// A policy allowing every tool whose name matches `glob`, and nothing else.
PolicyEngine allow_tools(const std::string& glob);

// The schema and arguments of schema_validate_10_props, shared with the side-by-side runs.
nlohmann::json tool_schema_10_props();
nlohmann::json tool_args_10_props();

}  // namespace rein::bench
