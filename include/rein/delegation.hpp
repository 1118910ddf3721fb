// rein::Ancestor, rein::Delegation, rein::CallerRun: a run's place in a tree of runs.
//
// A run may start child runs of other agents (an agent offered to a model as a tool:
// agent_tool.hpp). Authority only narrows down the tree. For a run with ancestors:
//
//   1. Attenuation. A call is allowed only when the run's own policy allows it for the run's
//      principal AND every ancestor's policy allows the same call (tool, arguments, argument
//      labels) for that ancestor's principal. The most restrictive answer wins: deny over
//      require_approval over allow. An ancestor's policy therefore names every tool that any
//      run below it may use, whether or not the ancestor has the tool itself. Ancestors'
//      rate limits and per-tool budgets are not applied to descendants; their run budgets are,
//      through the carve (2).
//   2. Carving. The run's budgets are the tighter of its own policy's and its carve: what its
//      parent had left when the call started (steps, tool calls, tokens, cost), split evenly
//      among the parent's calls of that turn, and the parent's remaining wall time. When the
//      child stops, its usage comes back to the parent in the call's result (ToolResult::spent)
//      and counts against the parent's budgets, so a parent's usage includes its children's.
//   3. Flow. Cancelling the parent's call cancels the child; a child's approval reaches the
//      host with the chain of runs above it (PendingApproval::chain); the child's context
//      starts with the labels of the arguments it was given, and its answer comes back to the
//      parent with the child's answer label.
//
// Ancestors are stored with the run (their policies as JSON), so a resumed child keeps every
// ancestor's rules as they were when it started. A host may also start a run with a
// Delegation of its own (RunRequest::delegation): ancestors and carves only ever narrow what
// the run may do.
//
// Thread safety: plain values (PolicyEngine is immutable and shared).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/budget.hpp"
#include "rein/error.hpp"
#include "rein/labels.hpp"
#include "rein/policy.hpp"
#include "rein/principal.hpp"

namespace rein {

// A run above this one in the tree.
struct Ancestor {
  std::string run_id{};
  std::string step_id{};  // its step that started the run below it
  std::string agent{};    // AgentConfig::name of the ancestor's runtime
  Principal principal{};  // who the ancestor run acts for
  PolicyEngine policy{};  // the ancestor's policy when the run below it started

  nlohmann::json to_json() const;
  static Result<Ancestor> from_json(const nlohmann::json& j);
};

// What a run inherits from the run that started it. Empty for a top-level run.
struct Delegation {
  std::vector<Ancestor> ancestors{};  // root first, the direct parent last
  Budgets carve{};                    // the most the run may spend, beside its own budgets
  Label input_label{};                // where the task it was given came from
  // Links into the parent's evidence: the hash of the parent's last audit entry when the run
  // started (its first audit entry names it, and verify_audit checks it against the parent's
  // chain), and the span of the parent's call (the run's spans nest under it, in the root's
  // trace).
  std::string parent_audit_entry{};
  std::string parent_span_id{};

  bool empty() const noexcept { return ancestors.empty(); }
  // The run ids from the root down to the parent.
  std::vector<std::string> chain() const;

  nlohmann::json to_json() const;
  static Result<Delegation> from_json(const nlohmann::json& j);
};

// The run making a tool call, as a tool sees it (ToolContext::caller()): enough to start a
// child run in its place. Set by the runtime for the calls of a run; nullptr for a call made
// through ToolRegistry::invoke directly.
struct CallerRun {
  std::string run_id{};
  std::string step_id{};
  std::string agent{};
  Principal principal{};
  PolicyEngine policy{};  // the caller's own policy
  // The caller's own place in the tree (shared with its state, not copied); nullptr for a
  // top-level caller.
  std::shared_ptr<const Delegation> delegation{};
  Budgets left{};            // this call's share of what the caller has left (rule 2 above)
  Label arguments_label{};   // the join of the call's argument labels
  std::string audit_head{};  // hash of the caller's last audit entry before the call
  std::string span_id{};     // the call's span ("" without a tracer)

  // What a child started for this call inherits: the caller's ancestors and the caller
  // itself, `left` as its carve, the arguments' label as its input label.
  Delegation for_child() const;
};

}  // namespace rein
