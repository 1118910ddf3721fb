#include "next_actions.hpp"

#include <cmath>

#include <rein/prompt.hpp>

namespace qbr {

using nlohmann::json;

namespace {

std::string percent(double fraction) {
  return std::to_string(std::lround(std::fabs(fraction) * 100)) + "%";
}

constexpr const char* kInstructions =
    "You write the 'next actions' of one QBR slide for an account manager. Reply with one JSON "
    "object "
    "{\"next_actions\": [\"...\"]}: one to five short imperative sentences, at most 140 characters "
    "each, most "
    "urgent first. Keep every point of the baseline (you may reword or merge them), and add "
    "nothing the facts "
    "do not support.";

constexpr std::size_t kMaxActions = 5;
constexpr std::size_t kMaxLength = 160;

}  // namespace

json rule_next_actions(const json& risks, double usage_trend, double trend_90d,
                       const std::string& owner) {
  json actions = json::array();
  for (const auto& r : risks) {
    if (r.value("severity", "") == "high")
      actions.push_back("Resolve high-severity risk: " + r.value("title", ""));
  }
  if (usage_trend < -0.10)
    actions.push_back("Investigate falling usage (down " + percent(usage_trend) + " in two weeks)");
  if (trend_90d < -0.02) {
    actions.push_back("Review the renewal: MRR down " + percent(trend_90d) + " over 90 days");
  } else if (trend_90d > 0.05) {
    actions.push_back("Propose an expansion: MRR up " + percent(trend_90d) + " over 90 days");
  }
  actions.push_back("Schedule the QBR with " + owner);
  return actions;
}

WordedActions word_next_actions(const ModelCall& llm, const json& slide, double usage_trend) {
  WordedActions out{slide["next_actions"], false, {}};
  const std::string facts = "Account: " + slide.value("account_name", "") + " (" +
                            slide.value("account_id", "") + "), owner " + slide.value("owner", "") +
                            "\nCurrent MRR: " + slide["current_mrr"].dump() +
                            ", 90-day trend: " + slide["trend_90d"].dump() +
                            ", two-week usage trend: " + json(usage_trend).dump() +
                            "\nOpen risks (from the ticket system):\n" +
                            rein::mark_untrusted("tool:tickets.risks", slide["top_risks"].dump()) +
                            "\nBaseline actions (from rules):\n" + slide["next_actions"].dump();
  rein::LlmRequest request;
  request.messages = {
      {"system",
       std::string(kInstructions) + "\n\n" + std::string(rein::kUntrustedContentRule),
       {},
       "",
       ""},
      {"user", facts, {}, "", ""}};
  request.response_format = {{"type", "json_object"}};
  request.temperature = 0.0;
  request.max_tokens = 400;
  request.tags = {"next_actions"};
  request.complexity = "low";
  auto response = llm(request);
  if (!response) {
    out.note = "model unavailable: " + response.error().message();
    return out;
  }
  const json parsed = json::parse(response->content, nullptr, false);
  const json* actions =
      parsed.is_object() && parsed.contains("next_actions") ? &parsed["next_actions"] : nullptr;
  if (actions == nullptr || !actions->is_array() || actions->empty() ||
      actions->size() > kMaxActions) {
    out.note = "the model's answer is not {\"next_actions\": [1 to 5 strings]}";
    return out;
  }
  for (const auto& a : *actions) {
    if (!a.is_string() || a.get<std::string>().empty() ||
        a.get<std::string>().size() > kMaxLength) {
      out.note =
          "a next action is not a string of 1 to " + std::to_string(kMaxLength) + " characters";
      return out;
    }
  }
  out.actions = *actions;
  out.by_model = true;
  return out;
}

}  // namespace qbr
