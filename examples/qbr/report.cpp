#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace qbr {

using nlohmann::json;

namespace {

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v, int decimals = 1) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

std::string flow_diagram() {
  const char* stages[] = {"Observe", "Plan",    "Authorize", "Act (Tool)",
                          "Verify",  "Repair?", "Stop"};
  std::ostringstream svg;
  svg << R"svg(<svg class="chart" id="flow" viewBox="0 0 760 120" width="760" height="120" role="img" aria-label="control loop">)svg"
      << R"svg(<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>)svg";
  for (int i = 0; i < 7; ++i) {
    const int x = 10 + i * 107;
    svg << "<rect x=\"" << x
        << "\" y=\"30\" width=\"90\" height=\"40\" rx=\"6\" fill=\"#eef3fb\" stroke=\"#35618f\"/>"
        << "<text x=\"" << x + 45 << "\" y=\"55\" text-anchor=\"middle\" font-size=\"13\">"
        << stages[i] << "</text>";
    if (i < 6) {
      svg << "<line x1=\"" << x + 90 << "\" y1=\"50\" x2=\"" << x + 105
          << "\" y2=\"50\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>";
    }
  }
  // Repair loops back to Act: retry once, else flag for review.
  svg << R"svg(<path d="M 597 70 C 597 110, 375 110, 375 72" fill="none" stroke="#b05" stroke-dasharray="4 3" marker-end="url(#arrow)"/>)svg"
      << R"svg(<text x="486" y="112" text-anchor="middle" font-size="11" fill="#b05">retry once, else flag for review</text></svg>)svg";
  return svg.str();
}

std::string mrr_chart(const std::string& id, const std::vector<std::int64_t>& series,
                      const std::string& title) {
  const double w = 340, h = 160, left = 50, bottom = 24, top = 20;
  const auto [lo_it, hi_it] = std::minmax_element(series.begin(), series.end());
  const double lo = static_cast<double>(*lo_it), hi = std::max(static_cast<double>(*hi_it), lo + 1);
  std::ostringstream pts;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const double x =
        left + (w - left - 10) * static_cast<double>(i) / static_cast<double>(series.size() - 1);
    const double y =
        top + (h - top - bottom) * (1 - (static_cast<double>(series[i]) - lo) / (hi - lo));
    pts << num(x) << "," << num(y) << " ";
  }
  std::ostringstream svg;
  svg << "<svg class=\"chart mrr\" id=\"mrr-" << esc(id)
      << "\" viewBox=\"0 0 340 160\" width=\"340\" height=\"160\" role=\"img\">"
      << "<text x=\"170\" y=\"14\" text-anchor=\"middle\" font-size=\"12\">" << esc(title)
      << "</text>"
      << "<line x1=\"" << left << "\" y1=\"" << h - bottom << "\" x2=\"" << w - 10 << "\" y2=\""
      << h - bottom << "\" stroke=\"#999\"/>"
      << "<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\""
      << h - bottom << "\" stroke=\"#999\"/>"
      << "<text x=\"" << left - 4 << "\" y=\"" << top + 4
      << "\" text-anchor=\"end\" font-size=\"10\">" << static_cast<long long>(hi) << "</text>"
      << "<text x=\"" << left - 4 << "\" y=\"" << h - bottom
      << "\" text-anchor=\"end\" font-size=\"10\">" << static_cast<long long>(lo) << "</text>"
      << "<text x=\"" << (w + left) / 2 << "\" y=\"" << h - 6
      << "\" text-anchor=\"middle\" font-size=\"10\">days (90)</text>"
      << "<polyline fill=\"none\" stroke=\"#35618f\" stroke-width=\"1.5\" points=\"" << pts.str()
      << "\"/></svg>";
  return svg.str();
}

std::string timeline(const std::vector<rein::Span>& spans) {
  std::vector<const rein::Span*> calls;
  std::int64_t t0 = 0, t1 = 0;
  for (const auto& s : spans) {
    if (s.name != "rein.tool_call") continue;
    calls.push_back(&s);
    t0 = t0 == 0 ? s.start_unix_nanos : std::min(t0, s.start_unix_nanos);
    t1 = std::max(t1, s.end_unix_nanos);
  }
  std::sort(calls.begin(), calls.end(),
            [](const auto* a, const auto* b) { return a->start_unix_nanos < b->start_unix_nanos; });
  const double row = 18, left = 170, width = 560;
  const double span_ms = std::max(1.0, static_cast<double>(t1 - t0) / 1e6);
  std::ostringstream svg;
  const double height = 30 + row * static_cast<double>(calls.size());
  svg << "<svg class=\"chart\" id=\"timeline\" viewBox=\"0 0 760 " << num(height, 0)
      << "\" width=\"760\" height=\"" << num(height, 0)
      << "\" role=\"img\" aria-label=\"tool calls over time\">";
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const auto* c = calls[i];
    const double x0 =
        left + width * (static_cast<double>(c->start_unix_nanos - t0) / 1e6) / span_ms;
    const double x1 = left + width * (static_cast<double>(c->end_unix_nanos - t0) / 1e6) / span_ms;
    const double y = 10 + row * static_cast<double>(i);
    const std::string tool = c->attributes.value("rein.tool", std::string("?"));
    svg << "<text x=\"" << left - 6 << "\" y=\"" << y + 12
        << "\" text-anchor=\"end\" font-size=\"11\">" << esc(tool) << "</text>"
        << "<rect class=\"bar\" x=\"" << num(x0) << "\" y=\"" << y + 2 << "\" width=\""
        << num(std::max(1.5, x1 - x0)) << "\" height=\"" << row - 5 << "\" fill=\""
        << (c->error ? "#c44" : "#4a8") << "\"><title>" << esc(tool) << ": "
        << num(static_cast<double>(c->end_unix_nanos - c->start_unix_nanos) / 1e6, 2)
        << " ms</title></rect>";
  }
  svg << "<text x=\"" << left << "\" y=\"" << height - 4 << "\" font-size=\"10\">0 ms</text>"
      << "<text x=\"" << left + width << "\" y=\"" << height - 4
      << "\" text-anchor=\"end\" font-size=\"10\">" << num(span_ms) << " ms</text></svg>";
  return svg.str();
}

}  // namespace

std::string render_report(const Outcome& o, const Scenario& sc,
                          const std::vector<rein::Span>& spans,
                          const std::vector<rein::AuditEntry>& audit) {
  const Data& data = notebook_data();
  std::ostringstream h;
  h << "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>QBR slide pack — "
    << esc(o.state.run_id)
    << "</"
       "title><style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-"
       "collapse:collapse;margin:8px 0}"
       "td,th{border:1px solid #ccc;padding:4px "
       "8px;font-size:13px;text-align:left;vertical-align:top}th{background:#f3f5f8}"
       ".review{color:#b05}.charts{display:flex;flex-wrap:wrap;gap:12px}code{font-size:12px}</"
       "style></head><body>";
  h << "<h1>QBR slide pack</h1><p>Run <code>" << esc(o.state.run_id) << "</code> — region <b>"
    << esc(sc.region) << "</b>, role <b>" << esc(sc.role) << "</b>, failure rate "
    << num(sc.failure_rate, 2) << ", step budget " << sc.step_budget << ", seed " << sc.seed
    << ". Status: <b>" << esc(std::string(rein::to_string(o.state.status))) << "</b> ("
    << esc(o.state.status_reason) << ").</p>";
  h << "<h2>The control loop</h2>" << flow_diagram();
  h << "<h2>Slides</h2><table "
       "id=\"slides\"><tr><th>account</th><th>name</th><th>owner</th><th>current MRR</th><th>trend "
       "90d</th>"
       "<th>top risks</th><th>next actions</th><th>citations</th><th>slide</th></tr>";
  for (const auto& s : o.slides) {
    std::string risks, actions, cites;
    for (const auto& r : s["top_risks"])
      risks += esc(r.value("severity", "") + ": " + r.value("title", "")) + "<br>";
    for (const auto& a : s["next_actions"])
      actions += esc(a.get<std::string>()) + "<br>";
    for (const auto& c : s["citations"])
      cites += "<code>" + esc(c.value("uri", "")) + "</code><br>";
    h << "<tr><td>" << esc(s["account_id"]) << "</td><td>" << esc(s["account_name"]) << "</td><td>"
      << esc(s["owner"]) << "</td><td>" << s["current_mrr"].get<std::int64_t>() << "</td><td>"
      << num(s["trend_90d"].get<double>(), 3) << "</td><td>" << risks << "</td><td>" << actions
      << "</td><td>" << cites << "</td><td>" << esc(s["slide_id"]) << "</td></tr>";
  }
  h << "</table>";
  if (!o.needs_review.empty()) {
    h << "<h2 class=\"review\">Needs review</h2><table "
         "id=\"needs-review\"><tr><th>account</th><th>issues</th></tr>";
    for (const auto& r : o.needs_review) {
      std::string issues;
      for (const auto& i : r["issues"])
        issues += esc(i.get<std::string>()) + "<br>";
      h << "<tr><td>"
        << (r["account_id"].is_string() ? esc(r["account_id"]) : esc(r.value("scope", "run")))
        << "</td><td>" << issues << "</td></tr>";
    }
    h << "</table>";
  }
  h << "<h2>MRR, 90 days</h2><div class=\"charts\">";
  for (const auto& a : data.accounts) {
    if (a.region != sc.region) continue;
    h << mrr_chart(a.account_id, data.mrr_series.at(a.account_id), a.account_id + " — " + a.name);
  }
  h << "</div><h2>Tool calls over time</h2><p>Each bar is one call; bars that overlap ran at the "
       "same time "
       "(green: succeeded, red: failed).</p>"
    << timeline(spans);
  h << "<h2>Metrics</h2><pre>" << esc(o.metrics.dump(2)) << "</pre>";
  h << "<h2>Audit log</h2><p>" << audit.size()
    << " entries, hash-chained; verify with <code>rein audit verify audit.jsonl</code>.</p>"
       "<table "
       "id=\"audit\"><tr><th>seq</th><th>step</th><th>kind</th><th>payload</th><th>hash</th></tr>";
  for (const auto& e : audit) {
    std::string payload = e.payload.size() > 240 ? e.payload.substr(0, 240) + "…" : e.payload;
    h << "<tr><td>" << e.seq << "</td><td>" << e.step << "</td><td>" << esc(e.kind)
      << "</td><td><code>" << esc(payload) << "</code></td><td><code>" << esc(e.hash.substr(0, 12))
      << "</code></td></tr>";
  }
  h << "</table></body></html>\n";
  return h.str();
}

}  // namespace qbr
