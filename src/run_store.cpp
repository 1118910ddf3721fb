#include "rein/run_store.hpp"

namespace rein {

namespace {
std::string outcome_key(std::string_view run_id, std::string_view step_id, int attempt) {
  std::string key(run_id);
  key.push_back('\0');
  key.append(step_id);
  key.push_back('\0');
  key += std::to_string(attempt);
  return key;
}
}  // namespace

std::vector<PendingApproval> pending_approvals_of(const AgentState& state) {
  std::vector<PendingApproval> out;
  for (const auto& s : state.steps) {
    if (s.status == StepStatus::awaiting_approval && s.approval && s.approval->status == "pending") {
      out.push_back({state.run_id, s.step.id, s.step.tool, s.step.args, *s.approval});
    }
  }
  return out;
}

Status MemoryRunStore::commit(const AgentState& state, std::span<const AuditEntry> entries) {
  std::lock_guard lock(mutex_);
  runs_.insert_or_assign(state.run_id, state);
  audit_.insert(audit_.end(), entries.begin(), entries.end());
  return {};
}

Status MemoryRunStore::append_audit(std::vector<AuditEntry> entries) {
  std::lock_guard lock(mutex_);
  audit_.insert(audit_.end(), std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
  return {};
}

Result<std::optional<AgentState>> MemoryRunStore::load(std::string_view run_id) {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return std::optional<AgentState>{};
  return std::optional<AgentState>{it->second};
}

Result<std::vector<RunSummary>> MemoryRunStore::list_runs() {
  std::lock_guard lock(mutex_);
  std::vector<RunSummary> out;
  for (const auto& [id, s] : runs_) out.push_back({id, s.status, s.updated_millis});
  return out;
}

Result<std::vector<PendingApproval>> MemoryRunStore::pending_approvals() {
  std::lock_guard lock(mutex_);
  std::vector<PendingApproval> out;
  for (const auto& [id, s] : runs_) {
    auto pending = pending_approvals_of(s);
    out.insert(out.end(), pending.begin(), pending.end());
  }
  return out;
}

Status MemoryRunStore::record_outcome(std::string_view run_id, std::string_view step_id, int attempt,
                                      const ToolResult& result) {
  std::lock_guard lock(mutex_);
  outcomes_.insert_or_assign(outcome_key(run_id, step_id, attempt), result);
  return {};
}

Result<std::optional<ToolResult>> MemoryRunStore::find_outcome(std::string_view run_id, std::string_view step_id,
                                                               int attempt) {
  std::lock_guard lock(mutex_);
  auto it = outcomes_.find(outcome_key(run_id, step_id, attempt));
  if (it == outcomes_.end()) return std::optional<ToolResult>{};
  return std::optional<ToolResult>{it->second};
}

Result<std::vector<AuditEntry>> MemoryRunStore::read_audit(std::string_view run_id) {
  std::lock_guard lock(mutex_);
  if (run_id.empty()) return std::vector<AuditEntry>(audit_.begin(), audit_.end());
  std::vector<AuditEntry> out;
  for (const auto& e : audit_) {
    if (e.run_id == run_id) out.push_back(e);
  }
  return out;
}

}  // namespace rein
