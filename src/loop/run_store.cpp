#include "rein/run_store.hpp"

#include <algorithm>

#include "core/not_found.hpp"

namespace rein {

namespace {
std::string outcome_key(std::string_view step_id, int attempt) {
  std::string key(step_id);
  key.push_back('\0');
  key += std::to_string(attempt);
  return key;
}
}  // namespace

std::vector<PendingApproval> pending_approvals_of(const AgentState& state) {
  std::vector<PendingApproval> out;
  for (const auto& s : state.steps) {
    if (s.status == StepStatus::awaiting_approval && s.approval &&
        s.approval->status == "pending") {
      out.push_back({state.run_id, s.step.id, s.step.tool, s.step.args, *s.approval});
    }
  }
  return out;
}

void RunStore::commit_async(const AgentState& state, std::span<const AuditEntry> entries,
                            Completion<Status> done) {
  done(commit(state, entries));
}

MemoryRunStore::Run& MemoryRunStore::run_of(std::string_view run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) it = runs_.emplace(std::string(run_id), Run{}).first;
  return it->second;
}

void MemoryRunStore::append(std::span<const AuditEntry> entries) {
  auto run = runs_.end();
  for (const auto& e : entries) {
    if (run == runs_.end() || run->first != e.run_id) run = runs_.try_emplace(e.run_id).first;
    run->second.audit.emplace_back(next_sequence_++, e);
  }
}

void MemoryRunStore::append(std::vector<AuditEntry>&& entries) {
  auto run = runs_.end();
  for (auto& e : entries) {
    if (run == runs_.end() || run->first != e.run_id) run = runs_.try_emplace(e.run_id).first;
    run->second.audit.emplace_back(next_sequence_++, std::move(e));  // the caller gave them up
  }
}

void MemoryRunStore::forget_oldest_ended() {
  while (ended_.size() > options_.max_ended_runs) {
    runs_.erase(ended_.front());
    ended_.pop_front();
  }
}

Status MemoryRunStore::commit(const AgentState& state, std::span<const AuditEntry> entries) {
  std::optional<AgentState> copy = state;  // copied (and the old one freed) outside the lock
  std::lock_guard lock(mutex_);
  Run& run = run_of(state.run_id);
  run.state.swap(copy);
  append(entries);
  if (!run.ended && is_terminal(state.status)) {
    run.ended = true;
    ended_.push_back(state.run_id);
    forget_oldest_ended();
  }
  return {};
}

Status MemoryRunStore::append_audit(std::vector<AuditEntry> entries) {
  std::lock_guard lock(mutex_);
  append(std::move(entries));
  return {};
}

Result<AgentState> MemoryRunStore::load(std::string_view run_id) {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run_id);
  if (it == runs_.end() || !it->second.state) return detail::no_run(run_id);
  return *it->second.state;
}

Result<std::vector<RunSummary>> MemoryRunStore::list_runs() {
  std::lock_guard lock(mutex_);
  std::vector<RunSummary> out;
  for (const auto& [id, run] : runs_) {
    if (run.state) out.push_back({id, run.state->status, run.state->updated_millis});
  }
  return out;
}

Result<std::vector<PendingApproval>> MemoryRunStore::pending_approvals() {
  std::lock_guard lock(mutex_);
  std::vector<PendingApproval> out;
  for (const auto& [id, run] : runs_) {
    if (!run.state) continue;
    auto pending = pending_approvals_of(*run.state);
    out.insert(out.end(), pending.begin(), pending.end());
  }
  return out;
}

Status MemoryRunStore::record_outcome(std::string_view run_id, std::string_view step_id,
                                      int attempt, const ToolResult& result) {
  std::lock_guard lock(mutex_);
  run_of(run_id).outcomes.insert_or_assign(outcome_key(step_id, attempt), result);
  return {};
}

Result<ToolResult> MemoryRunStore::find_outcome(std::string_view run_id, std::string_view step_id,
                                                int attempt) {
  std::lock_guard lock(mutex_);
  auto run = runs_.find(run_id);
  if (run != runs_.end()) {
    auto it = run->second.outcomes.find(outcome_key(step_id, attempt));
    if (it != run->second.outcomes.end()) return it->second;
  }
  return detail::no_outcome(run_id, step_id, attempt);
}

Result<std::vector<AuditEntry>> MemoryRunStore::read_audit(std::string_view run_id) {
  std::lock_guard lock(mutex_);
  std::vector<AuditEntry> out;
  if (!run_id.empty()) {
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return out;
    for (const auto& [sequence, e] : it->second.audit)
      out.push_back(e);
    return out;
  }
  // Every run's entries, in the order they were appended.
  std::vector<const std::pair<std::uint64_t, AuditEntry>*> all;
  for (const auto& [id, run] : runs_) {
    for (const auto& item : run.audit)
      all.push_back(&item);
  }
  std::sort(all.begin(), all.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  out.reserve(all.size());
  for (const auto* item : all)
    out.push_back(item->second);
  return out;
}

}  // namespace rein
