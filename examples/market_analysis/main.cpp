// Seed 004's market-analysis orchestrator, offline: a lead agent and four specialised workers
// (data, research, analysis, writing), each with its own narrow tools and policy. Prints the
// run tree and writes an HTML report of it. See team.hpp.
//
//   market_analysis [--out DIR] [--store FILE.db]
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <CLI/CLI.hpp>

#include "team.hpp"

int main(int argc, char** argv) {
  CLI::App app{"rein's multi-agent example: a market analysis by a team of agents"};
  std::filesystem::path out = "out/market_analysis";
  market::Options options;
  app.add_option("--out", out, "Where report.html is written (default out/market_analysis)");
  app.add_option("--store", options.store,
                 "A SqliteStore file for the whole tree (default: in memory)");
  CLI11_PARSE(app, argc, argv);

  auto outcome = market::run_team(options);
  if (!outcome) {
    std::fprintf(stderr, "market_analysis: %s\n", outcome.error().to_string().c_str());
    return 1;
  }
  std::printf("The run tree:\n%s\n", market::tree_text(*outcome).c_str());
  for (const auto& d : outcome->denials)
    std::printf("refused: %s\n", d.c_str());
  const auto& lead = outcome->runs.front().state;
  if (lead.final_answer && (*lead.final_answer)["results"].contains("writing")) {
    std::printf("\nsummary: %s\n",
                (*lead.final_answer)["results"]["writing"].value("summary", "").c_str());
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  const auto report = out / "report.html";
  std::ofstream(report) << market::report_html(*outcome);
  std::printf(
      "\nmarket_analysis: %zu runs, %zu refused, lead %s, audit %s (%lld entries); "
      "report %s\n",
      outcome->runs.size(), outcome->denials.size(),
      std::string(rein::to_string(lead.status)).c_str(),
      outcome->audit.ok ? "verified" : ("BROKEN: " + outcome->audit.reason).c_str(),
      static_cast<long long>(outcome->audit.entries), report.string().c_str());
  return outcome->audit.ok && rein::is_terminal(lead.status) ? 0 : 1;
}
