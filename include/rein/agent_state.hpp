// rein::AgentState: everything a run knows and did — a plain value with an exact JSON round trip.
//
// The runtime keeps one AgentState per run, updates it through the loop's stages and commits
// it after every step (the checkpoint). Hosts read it to see progress, outputs and what needs
// review; planners and critics read it to decide. The JSON form carries a format version;
// from_json rejects other versions and malformed documents with an error naming the field.
//
// Thread safety: a plain value; the runtime never shares one mutable state between threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/budget.hpp"
#include "rein/delegation.hpp"
#include "rein/error.hpp"
#include "rein/labels.hpp"
#include "rein/message.hpp"
#include "rein/policy.hpp"
#include "rein/principal.hpp"
#include "rein/tool.hpp"
#include "rein/verdict.hpp"

namespace rein {

// Where a run stands. See runtime.hpp for the rules that end or suspend a run.
enum class RunStatus {
  running,
  completed,          // final answer verified, nothing flagged
  needs_review,       // final answer verified, but some items could not be: see needs_review
  awaiting_approval,  // suspended until the host approves or denies pending calls
  awaiting_input,     // suspended until the host answers the planner's question
  budget_exhausted,   // stopped by a budget; outputs are partial
  failed,             // stopped by an unrecoverable error
  cancelled,          // stopped by the host
};
std::string_view to_string(RunStatus status) noexcept;
std::optional<RunStatus> run_status_from_string(std::string_view name) noexcept;
bool is_terminal(RunStatus status) noexcept;   // will not change again
bool is_suspended(RunStatus status) noexcept;  // waits for the host, then resumes

// Something the run learned from outside its tools: a sensor, a user, the host.
struct Observation {
  std::string source{};  // e.g. "user", "crm-webhook"
  nlohmann::json content{};
  double confidence = 1.0;  // 0..1, as the source reports it
  bool trusted = false;     // false: shown to models as data, never as instructions
  std::int64_t step = 0;    // the loop step that took it in
  std::int64_t at_millis = 0;
  std::string level{};  // confidentiality level of the content ("" public), labels.hpp

  friend bool operator==(const Observation&, const Observation&) = default;
};

// One node of the plan: a tool call and the steps it needs first.
struct PlanStep {
  std::string id{};  // unique within the run
  std::string tool{};
  nlohmann::json args = nlohmann::json::object();
  std::vector<std::string> depends_on{};  // ids of steps whose success this one needs
  std::string why{};                      // the planner's reason, for people and audits

  friend bool operator==(const PlanStep&, const PlanStep&) = default;
};

enum class StepStatus {
  pending,            // waiting for dependencies, authorization or its turn
  running,            // authorized and handed to the tool (outcome not yet recorded)
  succeeded,          // result accepted by the critic
  denied,             // refused by policy or by a person
  awaiting_approval,  // a person must approve it first
  needs_review,       // could not be verified (see the run's needs_review)
  failed,             // given up (the critic asked to replan, or the planner could not)
  skipped,            // a dependency did not succeed, so it never ran
};
std::string_view to_string(StepStatus status) noexcept;
std::optional<StepStatus> step_status_from_string(std::string_view name) noexcept;

struct Approval {
  std::string id{};
  std::string status = "pending";  // pending, approved, denied
  std::string rule{};              // the policy rule that asked for it
  std::string reason{};
  std::string note{};  // the person's note
  std::int64_t requested_millis = 0;
  std::int64_t decided_millis = 0;

  friend bool operator==(const Approval&, const Approval&) = default;
};

// A plan step and everything that happened to it.
struct StepState {
  PlanStep step{};
  StepStatus status = StepStatus::pending;
  std::int64_t round = 0;         // the planning round that added it
  int attempts = 0;               // times it was handed to the tool
  int retries = 0;                // critic retries used
  std::string idempotency_key{};  // side-effecting steps: the key of the current attempt
  std::optional<PolicyDecision> decision{};
  std::optional<ToolResult> result{};
  std::optional<Verdict> verdict{};
  std::optional<Approval> approval{};
  // Where the arguments came from (set when the step is planned, and when references to
  // earlier outputs are filled in), and where the latest result came from. See labels.hpp.
  ValueLabels arg_labels{};
  Label output_label{};
};

// Something that needs a person: an unverifiable result, a denied call, an unknown outcome.
struct ReviewItem {
  std::string step_id{};  // "" for run-level items
  std::string source{};   // "critic", "policy", "approval", "recovery", "budget", "planner"
  std::vector<std::string> issues{};
  nlohmann::json data{};  // what was produced, for the reviewer (may be null)

  friend bool operator==(const ReviewItem&, const ReviewItem&) = default;
};

// Counters beyond Usage, for reports.
struct RunMetrics {
  std::map<std::string, std::int64_t> errors_by_tool{};
  std::int64_t retries = 0;  // critic retries
  std::int64_t replans = 0;
  std::int64_t denials = 0;
  std::int64_t approvals_requested = 0;

  friend bool operator==(const RunMetrics&, const RunMetrics&) = default;
};

struct AgentState {
  static constexpr int kFormatVersion = 1;

  std::string run_id{};
  std::string goal{};
  Principal principal{};
  nlohmann::json input{};  // anything the host passes to its planner (null when none)
  std::vector<Message> messages{};
  std::vector<Observation> observations{};
  std::vector<StepState> steps{};  // the plan so far, in the order steps were planned
  std::int64_t step_index = 0;     // loop steps completed
  std::int64_t planning_rounds = 0;
  Usage usage{};
  RunMetrics metrics{};
  RunStatus status = RunStatus::running;
  std::string status_reason{};
  nlohmann::json outputs = nlohmann::json::object();  // step id -> accepted data
  std::optional<nlohmann::json> final_answer{};
  // The join of everything the planner's model may have read so far (observations, recalled
  // memory, tool results), and the label of the final answer. See labels.hpp.
  Label context_label{};
  Label answer_label{};
  bool partial = false;  // outputs are incomplete (budget, failure, cancel)
  std::vector<ReviewItem> needs_review{};
  std::string question{};                 // awaiting_input: what the planner asked
  std::vector<nlohmann::json> answers{};  // the host's answers, in order
  std::optional<std::string>
      replan_step{};  // asks for a new plan: the failed step ("" = the answer)
  std::vector<std::string> replan_reasons{};
  std::string audit_head{};      // hash of the run's last audit entry ("" before any)
  std::int64_t audit_count = 0;  // entries in the run's audit chain
  std::int64_t created_millis = 0;
  std::int64_t updated_millis = 0;
  // Who started this run and what they allow (delegation.hpp); nullptr for a top-level run.
  // Set when the run starts and never changed, so copies of the state share it.
  std::shared_ptr<const Delegation> delegation{};

  StepState* find_step(std::string_view id);
  const StepState* find_step(std::string_view id) const;

  nlohmann::json to_json() const;
  // The same document as text (what durable stores write), produced without building a json
  // tree for the steps.
  std::string to_json_text() const;
  static Result<AgentState> from_json(const nlohmann::json& j);
};

nlohmann::json to_json(const Usage& usage);
Result<Usage> usage_from_json(const nlohmann::json& j);

}  // namespace rein
