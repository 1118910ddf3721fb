// qbr — the QBR slide-pack agent of the notebook, on rein.
//
//   qbr [--region west] [--failure-rate 0.15] [--step-budget 60] [--role analyst] [--seed 7]
//       [--latency-ms 0] [--out DIR] [--json]
//   qbr --eval N [--failure-rate R] [--json]      seeds 1..N, statistics from rein::evaluate
//   qbr --llm-url URL --model NAME                 a model words each slide's next actions
#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "agent.hpp"
#include "model_flags.hpp"
#include "report.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

void print_summary(const qbr::Outcome& o, const fs::path& out_dir) {
  std::printf("run %s: %s (%s)\n", o.state.run_id.c_str(),
              std::string(rein::to_string(o.state.status)).c_str(), o.state.status_reason.c_str());
  std::printf("\n%-6s %-16s %-7s %12s %10s %6s  %s\n", "acct", "name", "owner", "current_mrr",
              "trend_90d", "risks", "slide");
  for (const auto& s : o.slides) {
    std::printf(
        "%-6s %-16s %-7s %12lld %10.3f %6zu  %s\n", s["account_id"].get<std::string>().c_str(),
        s["account_name"].get<std::string>().c_str(), s["owner"].get<std::string>().c_str(),
        static_cast<long long>(s["current_mrr"].get<std::int64_t>()), s["trend_90d"].get<double>(),
        s["top_risks"].size(), s["slide_id"].get<std::string>().c_str());
  }
  for (const auto& r : o.needs_review) {
    const std::string who =
        r["account_id"].is_string() ? r["account_id"].get<std::string>() : r.value("scope", "run");
    std::printf("%-6s NEEDS REVIEW: %s\n", who.c_str(), r["issues"][0].get<std::string>().c_str());
  }
  std::printf(
      "\nslides: %zu   needs review: %zu   tool calls: %lld   errors: %lld   retries: %lld\n",
      o.slides.size(), o.needs_review.size(),
      static_cast<long long>(o.metrics["tool_calls"].get<std::int64_t>()),
      static_cast<long long>(o.metrics["errors"].get<std::int64_t>()),
      static_cast<long long>(o.metrics["retries"].get<std::int64_t>()));
  if (!out_dir.empty()) std::printf("report: %s\n", (out_dir / "report.html").c_str());
}

int run_once(const qbr::Scenario& scenario, fs::path out_dir, bool as_json,
             const std::optional<rein::LlmGateway>& gateway) {
  qbr::Scenario s = scenario;
  if (s.run_id.empty()) s.run_id = rein::Env::system().new_id("qbr");
  if (out_dir.empty()) out_dir = fs::path("out") / "qbr" / s.run_id;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    std::fprintf(stderr, "qbr: cannot create %s: %s\n", out_dir.c_str(), ec.message().c_str());
    return 2;
  }
  for (const char* f : {"qbr.db", "qbr.db-wal", "qbr.db-shm", "audit.jsonl"})
    fs::remove(out_dir / f, ec);
  auto store = rein::SqliteStore::open(out_dir / "qbr.db");
  auto jsonl = rein::JsonlAuditSink::open(out_dir / "audit.jsonl");
  if (!store || !jsonl) {
    std::fprintf(stderr, "qbr: %s\n", (!store ? store.error() : jsonl.error()).to_string().c_str());
    return 2;
  }
  auto tracer = std::make_shared<rein::Tracer>("qbr");
  auto outcome = qbr::run_qbr(s, {.store = *store, .audit = {*jsonl}, .tracer = tracer});
  if (!outcome) {
    std::fprintf(stderr, "qbr: %s\n", outcome.error().to_string().c_str());
    return 1;
  }
  if (gateway)
    outcome->metrics["llm_usage"] = gateway->usage_of_run(outcome->state.run_id).to_json();
  auto audit = (*store)->read_audit(outcome->state.run_id);
  const bool written =
      write_file(out_dir / "slides.json", outcome->slides.dump(2) + "\n") &&
      write_file(out_dir / "needs_review.json", outcome->needs_review.dump(2) + "\n") &&
      write_file(out_dir / "metrics.json", outcome->metrics.dump(2) + "\n") &&
      tracer->export_otlp_json(out_dir / "trace.json").ok() &&
      write_file(out_dir / "report.html",
                 qbr::render_report(*outcome, s, tracer->spans(),
                                    audit ? *audit : std::vector<rein::AuditEntry>{}));
  if (!written) {
    std::fprintf(stderr, "qbr: writing the outputs under %s failed\n", out_dir.c_str());
    return 2;
  }
  if (as_json) {
    std::cout << json{{"slides", outcome->slides},
                      {"needs_review", outcome->needs_review},
                      {"metrics", outcome->metrics}}
                     .dump(2)
              << "\n";
  } else {
    print_summary(*outcome, out_dir);
  }
  return 0;
}

int run_eval(const qbr::Scenario& base, std::int64_t episodes, std::size_t threads, bool as_json) {
  const bool bar = isatty(STDERR_FILENO) != 0;
  auto report = rein::evaluate(
      [&base](std::uint64_t seed) {
        qbr::Scenario s = base;
        s.seed = seed;
        s.run_id = "eval-" + std::to_string(seed);
        auto outcome = qbr::run_qbr(s);
        if (!outcome) throw std::runtime_error(outcome.error().to_string());
        rein::Episode e;
        e.success = outcome->state.status == rein::RunStatus::completed;
        e.needs_review = !outcome->needs_review.empty();
        e.silent_errors = qbr::silent_errors(qbr::notebook_data(), s.region, *outcome);
        return e;
      },
      {.first_seed = 1,
       .episodes = episodes,
       .threads = threads,
       .progress = [bar](std::int64_t done, std::int64_t total) {
         if (!bar) return;
         const int width = 40;
         const int filled = static_cast<int>(width * done / std::max<std::int64_t>(1, total));
         std::fprintf(stderr, "\r[%-*s] %lld/%lld", width,
                      std::string(static_cast<std::size_t>(filled), '#').c_str(),
                      static_cast<long long>(done), static_cast<long long>(total));
         if (done == total) std::fprintf(stderr, "\n");
       }});
  if (as_json) {
    std::cout << report.to_json().dump(2) << "\n";
  } else {
    std::printf(
        "episodes %lld: completion %.3f [%.3f, %.3f], needs review %.3f, silent errors %lld, "
        "crashes %lld, "
        "wall p50 %.1f ms, p95 %.1f ms\n",
        static_cast<long long>(report.episodes), report.completion_rate, report.completion_ci95.low,
        report.completion_ci95.high, report.needs_review_rate,
        static_cast<long long>(report.silent_errors), static_cast<long long>(report.crashes),
        report.wall_p50_ms, report.wall_p95_ms);
  }
  return report.silent_errors == 0 && report.crashes == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qbr: the QBR slide-pack agent, on rein"};
  qbr::Scenario scenario;
  std::string out_dir;
  bool as_json = false;
  std::int64_t eval = 0;
  std::size_t threads = 2;
  int latency_ms = 0, timeout_ms = -1;
  app.add_option("--region", scenario.region, "east or west")
      ->check(CLI::IsMember({"east", "west"}));
  app.add_option("--failure-rate", scenario.failure_rate, "0.0 (easy) .. 0.35 (harder)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--step-budget", scenario.step_budget, "tool calls allowed")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--role", scenario.role, "the user's role: analyst, manager, ...");
  app.add_option("--seed", scenario.seed, "seed of the injected failures");
  app.add_option("--latency-ms", latency_ms, "latency added to every tool call")
      ->check(CLI::Range(0, 60'000));
  app.add_option("--tool-timeout-ms", timeout_ms, "per-call timeout (default 1000; 25 with --eval)")
      ->check(CLI::Range(1, 600'000));
  app.add_option("--out", out_dir, "output directory (default out/qbr/<run-id>)");
  app.add_flag("--json", as_json, "print one JSON object");
  app.add_option("--eval", eval, "run N seeded episodes and report statistics")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "episodes run at once with --eval")
      ->check(CLI::Range(1, 64));
  examples::ModelFlags model_flags;
  examples::add_model_flags(app, model_flags);
  CLI11_PARSE(app, argc, argv);
  // Answers are cached across runs (temperature 0), so a re-run costs no tokens.
  auto gateway = examples::make_gateway(
      model_flags, model_flags.url.empty() ? fs::path() : fs::path("out") / "qbr" / "llm-cache.db");
  if (!gateway) {
    std::fprintf(stderr, "qbr: %s\n", gateway.error().to_string().c_str());
    return 2;
  }
  if (*gateway) scenario.llm = (*gateway)->callback();
  scenario.latency = std::chrono::milliseconds(latency_ms);
  if (eval > 0) {
    scenario.tool_timeout = std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : 25);
    return run_eval(scenario, eval, threads, as_json);
  }
  scenario.tool_timeout = std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : 1000);
  return run_once(scenario, out_dir, as_json, *gateway);
}
