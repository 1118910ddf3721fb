// Budgets, rate limits and the usage they are checked against.
//
// A Budgets value says how much a run may consume; a Usage value says how much it has. The
// PolicyEngine compares the two: it keeps no counters of its own, so every decision is a pure
// function of its inputs, and the runtime (or any host) owns the Usage and updates it as calls
// are made (Usage::record_call).
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rein {

struct Budgets {
  std::optional<std::int64_t> max_steps{};       // loop steps per run
  std::optional<std::int64_t> max_tool_calls{};  // tool calls per run, all tools together
  std::map<std::string, std::int64_t, std::less<>> max_tool_calls_per_tool{};  // by exact name
  std::optional<std::int64_t> max_tokens{};  // LLM tokens per run (prompt + completion)
  std::optional<double> max_cost{};          // in the host's currency unit
  std::optional<std::chrono::milliseconds> max_wall_time{};

  friend bool operator==(const Budgets&, const Budgets&) = default;
};

// At most `max_calls` calls of each tool matching `tool` (an exact name, or a glob with * and
// ?) within any sliding window of `window`.
struct RateLimit {
  std::string tool{};
  std::int64_t max_calls = 0;
  std::chrono::milliseconds window{1000};

  friend bool operator==(const RateLimit&, const RateLimit&) = default;
};

// What model calls may spend: tokens and cost (unset: no limit). The run's Budgets hold the
// same two; LlmGateway applies one per run and one per principal.
struct LlmBudget {
  std::optional<std::int64_t> max_tokens{};  // prompt + completion
  std::optional<double> max_cost{};          // in the host's currency unit

  friend bool operator==(const LlmBudget&, const LlmBudget&) = default;
};

struct ToolUsage {
  std::int64_t calls = 0;
  // Start times (Usage::now_millis units) of recent calls, oldest first; the runtime trims
  // those older than the policy's longest rate-limit window.
  std::vector<std::int64_t> recent_call_millis{};
};

// What a call spent that counts against its caller's budgets: a child run's own usage (see
// delegation.hpp), or a tool that asks a model itself. The runtime adds it to the calling run's
// Usage when the call's result is taken in.
struct Spend {
  std::int64_t steps = 0;
  std::int64_t tool_calls = 0;
  std::int64_t tokens = 0;
  double cost = 0.0;

  bool empty() const noexcept { return steps == 0 && tool_calls == 0 && tokens == 0 && cost == 0; }
  friend bool operator==(const Spend&, const Spend&) = default;
};

struct Usage {
  std::int64_t steps = 0;       // steps completed
  std::int64_t tool_calls = 0;  // tool calls made
  std::int64_t tokens = 0;
  double cost = 0.0;
  std::chrono::milliseconds wall_time{0};
  std::int64_t now_millis = 0;  // "now" for rate-limit windows
  std::map<std::string, ToolUsage, std::less<>> per_tool{};

  // Counts one call of `tool` made at `at_millis`, dropping timestamps older than
  // `keep_window` (pass PolicyEngine::longest_rate_window()).
  void record_call(std::string_view tool, std::int64_t at_millis,
                   std::chrono::milliseconds keep_window);
  // Counts what a call spent on the caller's behalf (steps, calls, tokens, cost).
  void add(const Spend& spent);
};

// The tighter of two budgets, field by field (a limit set in either holds; per-tool limits of
// both are kept, the lower where both name a tool).
Budgets tighter(const Budgets& a, const Budgets& b);

// What `budgets` leave after `usage` (never below zero; unset limits stay unset; per-tool
// limits are not carried), split evenly among `shares` callers (at least one). Wall time is
// not split: callers running side by side share the same clock. `elapsed` is wall time not
// yet in `usage` (the turn under way).
Budgets remaining(const Budgets& budgets, const Usage& usage, std::size_t shares = 1,
                  std::chrono::milliseconds elapsed = std::chrono::milliseconds(0));

}  // namespace rein
