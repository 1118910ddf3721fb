// The run tree as text and as a self-contained HTML page.
#include <sstream>

#include "team.hpp"

namespace market {

using nlohmann::json;
using namespace rein;

namespace {

std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string usage_text(const Usage& u) {
  std::ostringstream s;
  s << u.steps << " steps, " << u.tool_calls << " tool calls, " << u.tokens << " tokens";
  return s.str();
}

std::string carve_text(const AgentState& s) {
  if (!s.delegation) return "";
  const Budgets& c = s.delegation->carve;
  std::ostringstream out;
  out << "carved:";
  if (c.max_tool_calls) out << " " << *c.max_tool_calls << " calls";
  if (c.max_tokens) out << " " << *c.max_tokens << " tokens";
  return out.str();
}

}  // namespace

std::string tree_text(const Outcome& outcome) {
  std::ostringstream out;
  for (const auto& node : outcome.runs) {
    const AgentState& s = node.state;
    out << std::string(static_cast<std::size_t>(node.depth) * 4, ' ')
        << (node.depth > 0 ? "└─ " : "") << s.run_id << " [" << node.agent << "] "
        << to_string(s.status) << " — " << usage_text(s.usage) << " — principal " << s.principal.id;
    if (const std::string carve = carve_text(s); !carve.empty()) out << " — " << carve;
    out << "\n";
  }
  return out.str();
}

std::string report_html(const Outcome& outcome) {
  std::ostringstream h;
  h << "<!doctype html><html><head><meta charset='utf-8'><title>Market analysis: the run tree"
       "</title><style>"
       "body{font-family:system-ui,sans-serif;margin:2rem;max-width:1000px;color:#111}"
       "h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.6rem}"
       ".run{border-left:4px solid #2563eb;padding:.4rem .9rem;margin:.6rem 0;background:#f8fafc}"
       "table{border-collapse:collapse;width:100%;font-size:.9rem}"
       "td,th{border-bottom:1px solid #e5e7eb;text-align:left;padding:.25rem .4rem}"
       ".denied{color:#b91c1c;font-weight:600}.ok{color:#15803d}.meta{color:#555;font-size:.85rem}"
       "</style></head><body>";
  h << "<h1>Market analysis — one orchestration, five runs</h1>";
  const AgentState& lead = outcome.runs.front().state;
  if (lead.final_answer) {
    const json& results = (*lead.final_answer)["results"];
    if (results.contains("writing")) {
      h << "<h2>Executive summary</h2><p><b>" << escaped(results["writing"].value("title", ""))
        << "</b>. " << escaped(results["writing"].value("summary", "")) << "</p>";
    }
    if (results.contains("analysis") && results["analysis"].contains("chart_svg")) {
      // The chart is the analysis agent's output, drawn by rein's own tool: embedded as is.
      h << "<h2>Revenue by segment, 2022–2025 ($M)</h2>"
        << results["analysis"]["chart_svg"].get<std::string>();
    }
  }
  h << "<h2>Audit</h2><p class='" << (outcome.audit.ok ? "ok" : "denied") << "'>"
    << (outcome.audit.ok ? "The tree's audit verifies as a whole: " : "The audit does NOT verify: ")
    << outcome.audit.entries << " entries in " << outcome.runs.size() << " hash chains"
    << (outcome.audit.ok ? ", each child linked to its parent's entry."
                         : ": " + escaped(outcome.audit.reason))
    << "</p>";
  if (!outcome.denials.empty()) {
    h << "<h2>Refused by policy</h2><ul>";
    for (const auto& d : outcome.denials)
      h << "<li class='denied'>" << escaped(d) << "</li>";
    h << "</ul>";
  }
  h << "<h2>The run tree</h2>";
  for (const auto& node : outcome.runs) {
    const AgentState& s = node.state;
    h << "<div class='run' style='margin-left:" << node.depth * 2.5 << "rem'><b>"
      << escaped(node.agent) << "</b> <code>" << escaped(s.run_id) << "</code> — "
      << to_string(s.status) << "<div class='meta'>principal " << escaped(s.principal.id) << "; "
      << usage_text(s.usage);
    if (const std::string carve = carve_text(s); !carve.empty()) h << "; " << carve;
    if (s.delegation) h << "; chain " << escaped(json(s.delegation->chain()).dump());
    h << "</div><table><tr><th>step</th><th>tool</th><th>status</th><th>decision</th></tr>";
    for (const auto& st : s.steps) {
      const bool denied = st.status == StepStatus::denied;
      h << "<tr><td>" << escaped(st.step.id) << "</td><td>" << escaped(st.step.tool) << "</td><td"
        << (denied ? " class='denied'" : "") << ">" << to_string(st.status) << "</td><td>"
        << (st.decision ? escaped(st.decision->rule + (denied ? ": " + st.decision->reason : ""))
                        : std::string("allowed"))
        << "</td></tr>";
    }
    h << "</table></div>";
  }
  h << "</body></html>\n";
  return h.str();
}

}  // namespace market
