// Seed 004's market-analysis orchestrator, offline: a lead agent splits "produce a market
// analysis report" into sub-tasks for four specialised agents, each with its own narrow tools
// and policy, and synthesises what they return.
//
//   lead ──┬─ data      market.figures, market.prices   (a prices API that fails once, retried)
//          ├─ research  web.search, pdf.read            (one page carries a prompt injection)
//          ├─ analysis  calc.growth, chart.render       (after data)
//          └─ writing   doc.compose, mail.send          (after analysis and research)
//
// The lead's decomposition comes from its model (a scripted one: model_decomposition() over
// ScriptedLlm). The workers plan in code, standing in for models; the writing agent acts as a
// compromised model would and tries to mail the report to an address the injected page named.
// Its own policy allows mail.send; the lead's allows mail only inside the company, so the send
// is denied by the lead's rule: delegation never widens what may be done.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <rein/rein.hpp>

namespace market {

struct Options {
  std::string run_id = "market-analysis";
  std::filesystem::path store;  // "" → everything in memory
};

// One run of the tree, for printing and the report.
struct RunNode {
  rein::AgentState state;
  std::string agent;
  int depth = 0;
};

struct Outcome {
  std::vector<RunNode> runs;         // the lead first, then its children in plan order
  rein::AuditVerification audit;     // the whole tree's audit, verified as one
  std::vector<std::string> denials;  // "run: step tool — rule: reason", every refused call
};

rein::Result<Outcome> run_team(const Options& options);

// The tree as text, one run per line.
std::string tree_text(const Outcome& outcome);
// A self-contained HTML page: the tree, each run's steps and decisions, the chart, the audit.
std::string report_html(const Outcome& outcome);

}  // namespace market
