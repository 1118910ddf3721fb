// A slide's next actions: from rules over the verified facts (deterministic, the default), or
// worded by a model from those facts and rules, then checked; a model answer that fails the
// checks is replaced by the rules' actions, with the reason kept.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>
#include <rein/llm.hpp>

namespace qbr {

nlohmann::json rule_next_actions(const nlohmann::json& risks, double usage_trend, double trend_90d,
                                 const std::string& owner);

struct WordedActions {
  nlohmann::json actions;  // array of strings
  bool by_model = false;
  std::string note;  // why the rules' actions were kept ("" when the model's were used)
};

using ModelCall = std::function<rein::Result<rein::LlmResponse>(const rein::LlmRequest&)>;

// `slide` holds the verified facts (account, owner, MRR, trend, risks) and the rules' actions.
WordedActions word_next_actions(const ModelCall& llm, const nlohmann::json& slide,
                                double usage_trend);

}  // namespace qbr
