// Shared pieces for whole-run tests: a few tools, a permissive policy, temporary databases.
#pragma once

#include <unistd.h>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "rein/rein.hpp"

namespace rein::testing {

using nlohmann::json;

inline std::filesystem::path temp_db_path(const std::string& name) {
  static std::atomic<int> n{0};
  auto path =
      std::filesystem::temp_directory_path() /
      ("rein_" + name + "_" + std::to_string(::getpid()) + "_" + std::to_string(++n) + ".db");
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path.string() + suffix);
  return path;
}

// Counts calls per tool, so tests can say what ran and how often.
struct CallLog {
  std::mutex mutex;
  std::map<std::string, int> calls;
  void add(const std::string& tool) {
    std::lock_guard lock(mutex);
    ++calls[tool];
  }
  int count(const std::string& tool) {
    std::lock_guard lock(mutex);
    return calls[tool];
  }
};

inline ToolSpec spec(std::string name, bool side_effects = false) {
  ToolSpec s;
  s.name = std::move(name);
  s.description = "test tool " + s.name;
  s.input_schema = {{"type", "object"}};
  s.timeout = std::chrono::milliseconds(0);
  s.retry.max_attempts = 1;  // the runtime's retries are under test, not the registry's
  s.side_effects = side_effects;
  if (side_effects) s.idempotency.key_required = true;
  s.circuit_breaker.failure_threshold = 0;
  return s;
}

inline PolicyEngine allow_all(Budgets budgets = {}) {
  PolicySpec p;
  PolicyRule r;
  r.id = "allow-all";
  r.decision = Decision::allow;
  r.tool = ToolMatch::glob("*");
  p.rules.push_back(r);
  p.budgets = budgets;
  return *PolicyEngine::create(p);
}

inline PlanStep call(std::string id, std::string tool, json args = json::object(),
                     std::vector<std::string> deps = {}) {
  return {std::move(id), std::move(tool), std::move(args), std::move(deps), ""};
}

// A model's plain answer, as ScriptedLlm scripts it (50 prompt and 20 completion tokens).
inline LlmResponse text_reply(const std::string& content) {
  LlmResponse r;
  r.content = content;
  r.finish_reason = "stop";
  r.prompt_tokens = 50;
  r.completion_tokens = 20;
  return r;
}

// Verifies the audit of `run_id` in `store`, against the checkpoint's anchor.
inline AuditVerification verify_run_audit(RunStore& store, const AgentState& state) {
  auto entries = store.read_audit(state.run_id);
  if (!entries) return {false, 0, 0, entries.error().message()};
  const std::map<std::string, AuditAnchor> anchors = {
      {state.run_id, {state.audit_count, state.audit_head}}};
  return verify_audit(*entries, &anchors);
}

}  // namespace rein::testing
