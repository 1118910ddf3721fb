// rein_bench: measures rein's own overhead (never the model's).
//
//   rein_bench               a table on the terminal
//   rein_bench --json        one JSON object: {"name": {"median_ns": N, "p99_ns": N}, ...}
//   rein_bench --filter S    only benchmarks whose name contains S
//   rein_bench --quick       shorter runs (for smoke tests; figures are noisier)
//
// Scenarios (whole workloads such as concurrent_runs_10k) report objects of their own fields;
// each runs once, in a child process (rein_bench --scenario NAME), so its peak RSS and thread
// count are its own. --filter selects them too. The pg_* scenarios (builds with PostgreSQL) need
// REIN_BENCH_POSTGRES, a libpq conninfo; without it they report {"skipped": ...}.
//
// The memory recall benchmarks build their corpora once (1M items take a minute or two) and
// keep them in bench-cache/ next to the executable ($REIN_BENCH_CACHE to put them elsewhere).
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "benchmarks.hpp"
#include "harness.hpp"
#include "rein/config.hpp"

namespace {

// Runs scenario `name` in a fresh process of this program and returns what it printed.
nlohmann::json run_scenario_process(const std::string& name) {
  int out[2];
  if (pipe(out) != 0) return {{"error", "pipe failed"}};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    execl("/proc/self/exe", "rein_bench", "--scenario", name.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;)
    text.append(buffer, static_cast<std::size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || parsed.is_discarded()) {
    return {{"error", "scenario process failed (status " + std::to_string(status) + ")"}};
  }
  return parsed;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<rein::bench::Scenario> scenarios;
  rein::bench::add_concurrent_scenarios(scenarios);
  rein::bench::add_mcp_scenarios(scenarios);
  rein::bench::add_multi_agent_scenarios(scenarios);
#if REIN_WITH_POSTGRES
  rein::bench::add_postgres_scenarios(scenarios);
#endif
  if (argc == 3 && std::strcmp(argv[1], "--scenario") == 0) {
    for (const auto& s : scenarios) {
      if (s.name == argv[2]) {
        std::printf("%s\n", s.run().dump().c_str());
        return 0;
      }
    }
    std::fprintf(stderr, "rein_bench: no scenario '%s'\n", argv[2]);
    return 2;
  }
  bool as_json = false;
  bool quick = false;
  std::string filter;
  rein::bench::Options options;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      as_json = true;
    } else if (std::strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
      filter = argv[++i];
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
      options.min_seconds = 0.02;
      options.min_samples = 200;
    } else {
      std::fprintf(stderr, "usage: rein_bench [--json] [--filter TEXT] [--quick]\n");
      return 2;
    }
  }

  std::vector<rein::bench::Benchmark> benchmarks;
  rein::bench::add_policy_benchmarks(benchmarks);
  rein::bench::add_tool_benchmarks(benchmarks);
  rein::bench::add_schema_benchmarks(benchmarks);
  rein::bench::add_audit_benchmarks(benchmarks);
  rein::bench::add_runtime_benchmarks(benchmarks);
  rein::bench::add_memory_benchmarks(benchmarks);
  rein::bench::add_sandbox_benchmarks(benchmarks);
  rein::bench::add_multi_agent_benchmarks(benchmarks);

  nlohmann::ordered_json report = nlohmann::ordered_json::object();
  if (!as_json)
    std::printf("%-28s %12s %12s %10s\n", "benchmark", "median_ns", "p99_ns", "samples");
  for (const auto& b : benchmarks) {
    if (!filter.empty() && b.name.find(filter) == std::string::npos) continue;
    rein::bench::Options chosen = options;
    if (b.options) {
      chosen = *b.options;
      if (quick) {
        chosen.min_samples = std::min(chosen.min_samples, options.min_samples);
        chosen.min_seconds = std::min(chosen.min_seconds, options.min_seconds);
      }
    }
    const auto f = rein::bench::measure(b.name, b.op, chosen);
    if (as_json) {
      report[b.name] = {{"median_ns", std::llround(f.median_ns)},
                        {"p99_ns", std::llround(f.p99_ns)}};
    } else {
      std::printf("%-28s %12.0f %12.0f %10llu\n", f.name.c_str(), f.median_ns, f.p99_ns,
                  static_cast<unsigned long long>(f.samples));
    }
  }
  for (const auto& sc : scenarios) {
    if (!filter.empty() && sc.name.find(filter) == std::string::npos) continue;
    const auto figures = run_scenario_process(sc.name);
    if (as_json) {
      report[sc.name] = figures;
    } else {
      std::printf("%-28s %s\n", sc.name.c_str(), figures.dump().c_str());
    }
  }
  if (as_json) std::printf("%s\n", report.dump(2).c_str());
  return 0;
}
