// Internal: how durable stores write and read the values they keep as JSON text, so that every
// store reports a corrupt value the same way (ErrorCode::data_loss, naming what was corrupt).
#pragma once

#include <string>
#include <string_view>

#include "core/json_text.hpp"
#include "core/log.hpp"
#include "rein/agent_state.hpp"
#include "rein/error.hpp"
#include "rein/llm.hpp"
#include "rein/run_store.hpp"
#include "rein/tool.hpp"

namespace rein::detail {

inline Result<ToolResult> parse_stored_result(const std::string& text, const std::string& what) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded()) return Error(ErrorCode::data_loss, what + " is not valid JSON");
  auto r = ToolResult::from_json(parsed);
  if (!r) return Error(ErrorCode::data_loss, what + ": " + r.error().message());
  return r;
}

inline Result<AgentState> parse_checkpoint(const std::string& text, std::string_view run_id) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    return Error(ErrorCode::data_loss,
                 "checkpoint of run '" + std::string(run_id) + "' is not valid JSON");
  }
  auto state = AgentState::from_json(parsed);
  if (!state) {
    return Error(ErrorCode::data_loss, "checkpoint of run '" + std::string(run_id) +
                                           "' is corrupt: " + state.error().message());
  }
  return state;
}

// A pending approval's stored form (the approvals table's `approval` column): the approval,
// and the chain of runs above the run when it was delegated.
inline std::string approval_text(const PendingApproval& p) {
  const Approval& a = p.approval;
  nlohmann::json j{{"id", a.id},
                   {"status", a.status},
                   {"rule", a.rule},
                   {"reason", a.reason},
                   {"requested_millis", a.requested_millis}};
  if (!p.chain.empty()) j["chain"] = p.chain;
  return json_text(j);
}

// A pending approval read back from its columns.
inline Result<PendingApproval> parse_pending_approval(std::string run_id, std::string step_id,
                                                      std::string tool, const std::string& args,
                                                      const std::string& approval) {
  PendingApproval p;
  p.run_id = std::move(run_id);
  p.step_id = std::move(step_id);
  p.tool = std::move(tool);
  p.args = nlohmann::json::parse(args, nullptr, false);
  nlohmann::json a = nlohmann::json::parse(approval, nullptr, false);
  auto string_at = [&](const char* key, const char* otherwise) {
    auto it = a.find(key);
    return it != a.end() && it->is_string() ? it->get<std::string>() : std::string(otherwise);
  };
  if (p.args.is_discarded() || !a.is_object()) {
    return Error(ErrorCode::data_loss,
                 "approval of run '" + p.run_id + "' step '" + p.step_id + "' is corrupt");
  }
  p.approval.id = string_at("id", "");
  p.approval.status = string_at("status", "pending");
  p.approval.rule = string_at("rule", "");
  p.approval.reason = string_at("reason", "");
  auto ms = a.find("requested_millis");
  p.approval.requested_millis =
      ms != a.end() && ms->is_number_integer() ? ms->get<std::int64_t>() : 0;
  if (auto chain = a.find("chain"); chain != a.end() && chain->is_array()) {
    for (const auto& id : *chain)
      if (id.is_string()) p.chain.push_back(id.get<std::string>());
  }
  return p;
}

// Whether a run whose state this is has approvals to keep in the approvals table.
inline bool has_approvals(const AgentState& state) {
  for (const auto& s : state.steps)
    if (s.approval) return true;
  return false;
}

// A cached model answer read back; nullopt (logged) when the entry is unreadable, which the
// caches treat as a miss and remove.
inline std::optional<LlmResponse> parse_cached_response(const std::string& text) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  auto response = parsed.is_discarded()
                      ? Result<LlmResponse>(Error(ErrorCode::data_loss, "not JSON"))
                      : llm_response_from_json(parsed);
  if (response) return std::move(*response);
  logger()->warn("rein: dropping unreadable LLM cache entry: {}", response.error().message());
  return std::nullopt;
}

}  // namespace rein::detail
