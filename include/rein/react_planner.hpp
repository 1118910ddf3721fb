// rein::ReactPlanner: the model calls tools natively, one or more calls a turn, until it
// answers in text.
//
// Each turn the model sees the host's instructions, the task, and the conversation so far: its
// own earlier turns (kept in AgentState::messages) each followed by the results of its calls,
// which the runtime produced as plan steps (outputs marked untrusted, see prompt.hpp). The
// tools go over the wire as the registry's OpenAI catalog. A turn with tool calls becomes a
// round of independent steps (the step id is the call id when usable); a turn with text and
// no calls is the final answer (a JSON object when the text is one, else the text itself).
//
// A misbehaving model gets its mistake explained and another try (at most max_repairs a
// turn): unknown tools, arguments that are not JSON or violate the schema, an empty answer,
// an answer cut off by the token limit, or a call repeating one that already succeeded.
// Endless tool loops end at max_turns: the planner returns budget_exhausted, so the run stops
// cleanly with its partial outputs.
//
// Thread safety: plan() may be called concurrently.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "rein/planner.hpp"
#include "rein/prompt.hpp"

namespace rein {

struct ReactOptions {
  std::string instructions{};  // the host's system instructions
  std::string model{};         // "" → the callback's default
  std::optional<double> temperature = 0.0;
  std::optional<int> max_tokens = 1024;
  int max_turns = 12;   // turns with tool calls per run
  int max_repairs = 2;  // corrections a turn
  PromptOptions prompt{};
  std::vector<std::string> tags = {"planner"};
  std::string complexity{};
};

class ReactPlanner final : public Planner {
 public:
  explicit ReactPlanner(ReactOptions options = {});
  // Blocks until the plan is made (sync_wait of plan_async).
  Result<PlanDecision> plan(const PlanRequest& request) override;
  // Asynchronous end to end, repairs included: the task parks while the model answers.
  bool is_async() const noexcept override { return true; }
  bool needs_model() const noexcept override { return true; }
  Task<Result<PlanDecision>> plan_async(const PlanRequest& request) override;

  // The conversation of the next turn's request, for hosts and tests.
  std::vector<Message> conversation(const PlanRequest& request) const;

 private:
  // Asks the model for the next turn (the request built here, moved into the ask).
  Task<Result<LlmResponse>> ask(const PlanRequest& request,
                                const std::vector<Message>& repair_messages) const;

  ReactOptions options_;
};

}  // namespace rein
