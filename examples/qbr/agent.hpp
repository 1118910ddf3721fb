// The QBR agent on rein: the notebook's planner (accounts, then per-account fetches, then the
// slide), its critic (required fields, MRR not negative, citations) made stricter (stale data is
// caught), retry-once and flag-for-review, under a policy and a step budget.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <rein/rein.hpp>

#include "data.hpp"

namespace qbr {

struct Scenario {
  std::string region = "west";
  double failure_rate = 0.15;
  std::int64_t step_budget = 60;  // tool calls, as the notebook's STEP_BUDGET
  std::string role = "analyst";
  std::uint64_t seed = 7;
  std::chrono::milliseconds latency{0};
  std::chrono::milliseconds tool_timeout{1000};
  std::string run_id;     // "" → generated
  rein::LlmCallback llm;  // set: a model words each slide's next actions (checked; rules otherwise)
};

// Where a run's evidence goes (all optional).
struct Sinks {
  std::shared_ptr<rein::RunStore> store;
  std::vector<std::shared_ptr<rein::AuditSink>> audit;
  std::shared_ptr<rein::Tracer> tracer;
};

struct Outcome {
  rein::AgentState state;
  nlohmann::json slides = nlohmann::json::array();        // the notebook's slide objects + slide_id
  nlohmann::json needs_review = nlohmann::json::array();  // {"account_id", "issues": [...]}
  nlohmann::json metrics;                                 // tool_calls, errors, retries, ...
  int slides_created = 0;                                 // by the slide service itself
  rein::FailureInjector::Counts injected;                 // what the failure injector did
  bool actions_by_model = false;  // some next actions were worded by a model
};

// The policy shipped with the example (examples/qbr/policy.json), with the step budget applied.
rein::Result<rein::PolicyEngine> qbr_policy(std::int64_t step_budget);

// The slide the agent must make for `account` when nothing fails.
nlohmann::json expected_slide(const Data& data, const Account& account);
// The failure-free slides of a region, in account order.
nlohmann::json ground_truth(const Data& data, const std::string& region);

// One run. An Error only when rein itself could not run (e.g. a store failure).
rein::Result<Outcome> run_qbr(const Scenario& scenario, const Sinks& sinks = {});

// Slides that differ from the ground truth, plus accounts of the region that are in neither the
// slides nor needs_review: results passed off as right that are not. Must be 0.
std::int64_t silent_errors(const Data& data, const std::string& region, const Outcome& outcome);

}  // namespace qbr
