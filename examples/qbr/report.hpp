// report.html: one self-contained page with SVG charts drawn here — the control-loop flow,
// the slides table, an MRR chart per account, a Gantt of tool calls, and the audit log.
#pragma once

#include <string>
#include <vector>

#include <rein/rein.hpp>

#include "agent.hpp"

namespace qbr {

std::string render_report(const Outcome& outcome, const Scenario& scenario,
                          const std::vector<rein::Span>& spans,
                          const std::vector<rein::AuditEntry>& audit);

}  // namespace qbr
