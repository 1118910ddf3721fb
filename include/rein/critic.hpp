// rein::Critic: judges every tool result and the run's final answer.
//
// A wrong answer is worse than no answer: a critic that cannot verify something says
// needs_review, and the runtime flags it rather than passing it off as done. Verdicts:
// accept, retry (with the reason), replan, needs_review (with the issues), fail.
//
// RuleCritic composes checks. Each check applies to steps whose tool matches a glob (or to the
// final answer), and yields the verdict kind it was configured with, plus a reason, when it
// fails. Every failing check contributes: the verdict has all the reasons and the most
// severe kind (accept < retry < needs_review < replan < fail).
//
// Thread safety: review_* may be called concurrently for different runs; RuleCritic is safe
// for that once configured (configure it before handing it to a Runtime).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/agent_state.hpp"
#include "rein/env.hpp"
#include "rein/error.hpp"
#include "rein/task.hpp"
#include "rein/tool.hpp"
#include "rein/verdict.hpp"

namespace rein {

class Critic {
 public:
  virtual ~Critic() = default;
  // `result` is the step's tool result, ok or not.
  virtual Verdict review_step(const StepState& step, const ToolResult& result,
                              const AgentState& state) = 0;
  virtual Verdict review_output(const nlohmann::json& answer, const AgentState& state) = 0;

  // The critic's own configuration, checked by Runtime::create before any run: an error
  // names the rule at fault. The default has nothing to check.
  virtual Status validate() const { return {}; }

  // Whether review_* may block (wait on I/O, a model, a lock held long). The runtime calls a
  // critic that may on its executor's blocking pool, and one that may not right where the run
  // is, which saves a thread hop per result.
  virtual bool may_block() const noexcept { return true; }
  // Asynchronous critics (is_async() true) review in coroutines that park while they wait,
  // e.g. on a model. The arguments outlive the task. The defaults call review_*.
  virtual bool is_async() const noexcept { return false; }
  virtual Task<Verdict> review_step_async(const StepState& step, const ToolResult& result,
                                          const AgentState& state);
  virtual Task<Verdict> review_output_async(const nlohmann::json& answer, const AgentState& state);
};

class RuleCritic final : public Critic {
 public:
  // A custom check: nullopt when fine, else the reason it is not.
  using StepCheck = std::function<std::optional<std::string>(const StepState&, const ToolResult&,
                                                             const AgentState&)>;
  using OutputCheck =
      std::function<std::optional<std::string>(const nlohmann::json&, const AgentState&)>;

  struct Options {
    // What a tool result that is not ok leads to, before any check runs.
    VerdictKind on_transient_error = VerdictKind::retry;  // timeouts, transient errors
    VerdictKind on_permanent_error = VerdictKind::needs_review;
    VerdictKind on_invalid_input = VerdictKind::needs_review;
    Env* env = nullptr;  // clock for freshness checks; nullptr: Env::system()
  };

  RuleCritic() : RuleCritic(Options{}) {}
  explicit RuleCritic(Options options);

  // Checks on results of tools matching `tool_glob` ("*" for all). `pointer`s address the
  // result's data (RFC 6901; a malformed one is a configuration error, reported by
  // validate(), and the check fails every result it sees). Each returns *this for chaining.
  RuleCritic& require_fields(std::string tool_glob, std::vector<std::string> pointers,
                             VerdictKind on_fail = VerdictKind::needs_review);
  RuleCritic& require_range(std::string tool_glob, std::string pointer, std::optional<double> min,
                            std::optional<double> max,
                            VerdictKind on_fail = VerdictKind::needs_review);
  RuleCritic& require_evidence(std::string tool_glob,
                               VerdictKind on_fail = VerdictKind::needs_review);
  // The number at `pointer` is a Unix time in milliseconds no older than `max_age`.
  RuleCritic& require_fresh(std::string tool_glob, std::string pointer,
                            std::chrono::milliseconds max_age,
                            VerdictKind on_fail = VerdictKind::retry);
  // A staleness predicate: returns the reason when the data looks stale.
  RuleCritic& reject_stale(std::string tool_glob, StepCheck is_stale,
                           VerdictKind on_fail = VerdictKind::retry);
  RuleCritic& check(std::string tool_glob, StepCheck check,
                    VerdictKind on_fail = VerdictKind::needs_review);

  // Checks on the final answer.
  RuleCritic& require_output_fields(std::vector<std::string> pointers,
                                    VerdictKind on_fail = VerdictKind::needs_review);
  RuleCritic& require_output_range(std::string pointer, std::optional<double> min,
                                   std::optional<double> max,
                                   VerdictKind on_fail = VerdictKind::needs_review);
  RuleCritic& check_output(OutputCheck check, VerdictKind on_fail = VerdictKind::needs_review);

  Verdict review_step(const StepState& step, const ToolResult& result,
                      const AgentState& state) override;
  Verdict review_output(const nlohmann::json& answer, const AgentState& state) override;
  // invalid_argument naming each malformed JSON pointer and the rule it was given to.
  Status validate() const override;
  // Checks are plain computations on the result: they must not block.
  bool may_block() const noexcept override { return false; }

 private:
  struct Rule {
    std::string tool_glob{};
    StepCheck check{};
    VerdictKind on_fail{};
  };
  struct OutputRule {
    OutputCheck check{};
    VerdictKind on_fail{};
  };
  void note_pointer(std::string_view rule, const std::string& pointer);

  Options options_;
  std::vector<std::string> configuration_errors_;
  std::vector<Rule> rules_;
  std::vector<OutputRule> output_rules_;
};

}  // namespace rein
