#include "agent.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>

#include "next_actions.hpp"
#include "policy_json.hpp"
#include "tools.hpp"

namespace qbr {

using nlohmann::json;
using rein::PlanDecision;
using rein::PlanStep;
using rein::StepStatus;

namespace {

double round3(double x) {
  return std::round(x * 1000.0) / 1000.0;
}

json make_slide(const Account& a, const std::vector<std::int64_t>& mrr, double usage_trend,
                const json& risks, json citations) {
  json top = json::array();
  for (std::size_t i = 0; i < risks.size() && i < 5; ++i)
    top.push_back(risks[i]);
  const double first = static_cast<double>(mrr.front());
  const double trend = round3((static_cast<double>(mrr.back()) - first) / std::max(1.0, first));
  return {{"account_id", a.account_id},
          {"account_name", a.name},
          {"owner", a.owner},
          {"current_mrr", mrr.back()},
          {"trend_90d", trend},
          {"top_risks", top},
          {"next_actions", rule_next_actions(top, usage_trend, trend, a.owner)},
          {"citations", std::move(citations)}};
}

std::string account_of(const std::string& step_id) {
  const auto colon = step_id.find(':');
  return colon == std::string::npos ? std::string() : step_id.substr(colon + 1);
}

bool flat_tail(const json& series, std::size_t n) {
  if (!series.is_array() || series.size() < n + 1) return false;
  for (std::size_t i = series.size() - n; i < series.size(); ++i) {
    if (series[i] != series[series.size() - n - 1]) return false;
  }
  return true;
}

std::shared_ptr<rein::Critic> make_critic() {
  auto c = std::make_shared<rein::RuleCritic>(rein::RuleCritic::Options{
      .on_transient_error = rein::VerdictKind::retry,
      .on_permanent_error = rein::VerdictKind::retry,  // the notebook retries any failure once
      .on_invalid_input = rein::VerdictKind::needs_review});
  for (const char* tool : {"crm.search", "billing.mrr", "product.usage", "tickets.risks"}) {
    c->require_fresh(tool, "/as_of", std::chrono::hours(1)).require_evidence(tool);
  }
  c->require_fields("crm.search", {"/accounts"})
      .require_fields("billing.mrr", {"/current_mrr", "/mrr_series"})
      .require_range("billing.mrr", "/current_mrr", 0.0, std::nullopt)
      .reject_stale("billing.mrr",
                    [](const rein::StepState&, const rein::ToolResult& r,
                       const rein::AgentState&) -> std::optional<std::string> {
                      if (flat_tail(r.data["mrr_series"], 5))
                        return "stale data: the MRR series ends flat for 5 days";
                      return std::nullopt;
                    })
      .require_fields("product.usage", {"/daily_active", "/usage_trend"})
      .reject_stale("product.usage",
                    [](const rein::StepState&, const rein::ToolResult& r,
                       const rein::AgentState&) -> std::optional<std::string> {
                      if (flat_tail(r.data["daily_active"], 7))
                        return "stale data: daily actives end flat for a week";
                      return std::nullopt;
                    })
      .require_fields("tickets.risks", {"/top_risks"})
      .require_fields("slides.make", {"/slide_id"})
      .require_evidence("slides.make")
      .check_output([](const json& answer, const rein::AgentState&) -> std::optional<std::string> {
        for (const auto& slide : answer.value("slides", json::array())) {
          if (slide.value("citations", json::array()).empty()) return "a slide has no citations";
          if (slide.value("current_mrr", -1) < 0) return "a slide has a negative MRR";
        }
        return std::nullopt;
      });
  return c;
}

json slides_of(const rein::AgentState& s) {
  json slides = json::array();
  for (const auto& st : s.steps) {
    if (st.step.tool != "slides.make" || st.status != StepStatus::succeeded) continue;
    json slide = st.step.args["deck_spec"];
    slide.erase("idem");
    slide["slide_id"] = s.outputs[st.step.id]["slide_id"];
    slides.push_back(std::move(slide));
  }
  return slides;
}

// How the next actions of the slides were worded (with a model).
struct ActionNotes {
  std::mutex mutex;
  int by_model = 0;
  int by_rules = 0;
  std::vector<std::string> notes;
};

// The notebook's planner: accounts first, then per-account fetches, then one slide each.
std::shared_ptr<rein::Planner> make_planner(const Data& data, std::string region,
                                            std::shared_ptr<ActionNotes> notes) {
  return std::make_shared<rein::StaticPlanner>(
      [&data, region, notes](const rein::PlanRequest& req) -> rein::Result<PlanDecision> {
        const auto& s = req.state;
        const rein::StepState* accounts = s.find_step("accounts");
        if (accounts == nullptr) {
          return PlanDecision::run(
              {{"accounts", "crm.search", {{"region", region}}, {}, "find the region's accounts"}});
        }
        const json finish = {{"region", region}, {"slides", slides_of(s)}};
        if (accounts->status != StepStatus::succeeded) return PlanDecision::finish(finish);
        const json& list = s.outputs["accounts"]["accounts"];
        if (list.empty()) return PlanDecision::finish(finish);

        const std::string first = list[0]["account_id"];
        if (s.find_step("mrr:" + first) == nullptr) {
          std::vector<PlanStep> fetches;
          for (const auto& a : list) {
            const std::string id = a["account_id"];
            const json args = {{"account_id", id}};
            fetches.push_back({"mrr:" + id, "billing.mrr", args, {"accounts"}, "revenue trend"});
            fetches.push_back({"usage:" + id, "product.usage", args, {"accounts"}, "usage trend"});
            fetches.push_back({"risks:" + id, "tickets.risks", args, {"accounts"}, "open risks"});
          }
          return PlanDecision::run(std::move(fetches));
        }
        const bool slides_planned =
            std::any_of(s.steps.begin(), s.steps.end(),
                        [](const rein::StepState& st) { return st.step.tool == "slides.make"; });
        if (!slides_planned) {
          std::vector<PlanStep> slides;
          for (const auto& a : list) {
            const std::string id = a["account_id"];
            const auto* mrr = s.find_step("mrr:" + id);
            const auto* usage = s.find_step("usage:" + id);
            const auto* risks = s.find_step("risks:" + id);
            const Account* account = data.find(id);
            if (account == nullptr || !mrr || !usage || !risks ||
                mrr->status != StepStatus::succeeded || usage->status != StepStatus::succeeded ||
                risks->status != StepStatus::succeeded) {
              continue;  // what failed is already flagged for review: never guess
            }
            json citations = json::array();
            for (const auto* step : {mrr, usage, risks}) {
              for (const auto& e : step->result->evidence)
                citations.push_back({{"type", e.type}, {"uri", e.uri}});
            }
            Account as_listed{id, a["name"], a["owner"], a["region"]};
            json deck = make_slide(
                as_listed, s.outputs[mrr->step.id]["mrr_series"].get<std::vector<std::int64_t>>(),
                s.outputs[usage->step.id]["usage_trend"].get<double>(),
                s.outputs[risks->step.id]["top_risks"], std::move(citations));
            if (notes) {  // a model words the next actions from the verified facts
              const WordedActions worded = word_next_actions(
                  req.llm, deck, s.outputs[usage->step.id]["usage_trend"].get<double>());
              deck["next_actions"] = worded.actions;
              std::lock_guard lock(notes->mutex);
              ++(worded.by_model ? notes->by_model : notes->by_rules);
              if (!worded.note.empty()) notes->notes.push_back(id + ": " + worded.note);
            }
            deck["idem"] = id + "-qbr";
            slides.push_back({"slide:" + id,
                              "slides.make",
                              {{"deck_spec", deck}},
                              {mrr->step.id, usage->step.id, risks->step.id},
                              "assemble the verified facts into the slide"});
          }
          if (!slides.empty()) return PlanDecision::run(std::move(slides));
        }
        return PlanDecision::finish(finish);
      });
}

json needs_review_of(const rein::AgentState& s, const std::string& region, const json& slides) {
  std::map<std::string, std::vector<std::string>> by_account;
  std::vector<std::string> run_level;
  for (const auto& item : s.needs_review) {
    const std::string account = account_of(item.step_id);
    auto& issues = account.empty() ? run_level : by_account[account];
    for (const auto& i : item.issues)
      issues.push_back((item.step_id.empty() ? "" : item.step_id + ": ") + i);
  }
  json out = json::array();
  std::set<std::string> with_slide;
  for (const auto& sl : slides)
    with_slide.insert(sl["account_id"].get<std::string>());
  const rein::StepState* accounts = s.find_step("accounts");
  if (accounts != nullptr && accounts->status == StepStatus::succeeded) {
    for (const auto& a : s.outputs["accounts"]["accounts"]) {
      const std::string id = a["account_id"];
      if (with_slide.count(id) != 0) continue;
      auto issues = by_account[id];
      if (issues.empty()) {
        issues.push_back("not processed: the run stopped (" +
                         std::string(rein::to_string(s.status)) + ": " + s.status_reason + ")");
      }
      out.push_back({{"account_id", id}, {"issues", issues}});
    }
  }
  if (accounts == nullptr || accounts->status != StepStatus::succeeded || !run_level.empty()) {
    if (run_level.empty())
      run_level.push_back("the account list of region '" + region + "' could not be verified");
    out.push_back({{"account_id", nullptr}, {"scope", "region " + region}, {"issues", run_level}});
  }
  return out;
}

}  // namespace

rein::Result<rein::PolicyEngine> qbr_policy(std::int64_t step_budget) {
  auto policy = rein::PolicyEngine::from_json(json::parse(kPolicyJson));
  if (!policy) return policy;
  rein::PolicySpec spec = policy->spec();
  spec.budgets.max_tool_calls = step_budget;
  return rein::PolicyEngine::create(std::move(spec));
}

json expected_slide(const Data& data, const Account& account) {
  json risks = json::array();
  for (const auto& t : data.tickets) {
    if (t.account_id == account.account_id && t.open)
      risks.push_back({{"severity", t.severity}, {"title", t.title}});
  }
  json citations = {{{"type", "source"}, {"uri", "billing://mrr/" + account.account_id}},
                    {{"type", "source"}, {"uri", "usage://dau/" + account.account_id}},
                    {{"type", "source"}, {"uri", "tickets://open/" + account.account_id}}};
  return make_slide(account, data.mrr_series.at(account.account_id),
                    usage_trend(data.daily_active.at(account.account_id)), risks, citations);
}

json ground_truth(const Data& data, const std::string& region) {
  json slides = json::array();
  for (const auto& a : data.accounts) {
    if (a.region == region) slides.push_back(expected_slide(data, a));
  }
  return slides;
}

rein::Result<Outcome> run_qbr(const Scenario& scenario, const Sinks& sinks) {
  const Data& data = notebook_data();
  auto policy = qbr_policy(scenario.step_budget);
  if (!policy) return policy.error();
  auto tools = std::make_shared<rein::ToolRegistry>(rein::ToolRegistryOptions{
      .idempotency_store = std::dynamic_pointer_cast<rein::IdempotencyStore>(sinks.store)});
  auto slide_store = std::make_shared<SlideStore>();
  auto notes = scenario.llm ? std::make_shared<ActionNotes>() : nullptr;
  auto chaos = register_tools(*tools, data, slide_store, rein::Env::system(),
                              {.failure_rate = scenario.failure_rate,
                               .seed = scenario.seed,
                               .latency = scenario.latency,
                               .timeout = scenario.tool_timeout});
  rein::Runtime runtime(rein::AgentConfig{.name = "qbr",
                                          .tools = tools,
                                          .policy = *policy,
                                          .planner = make_planner(data, scenario.region, notes),
                                          .critic = make_critic(),
                                          .llm = scenario.llm},
                        rein::RuntimeOptions{.store = sinks.store,
                                             .audit_sinks = sinks.audit,
                                             .tracer = sinks.tracer,
                                             .max_parallel_calls = 12,
                                             .max_retries_per_step = 1});
  auto run = runtime.run(rein::RunRequest{"QBR slide pack for the " + scenario.region + " region",
                                          {"qbr-user", {scenario.role}},
                                          {{"region", scenario.region}},
                                          scenario.run_id});
  if (!run) return run.error();
  Outcome out;
  out.state = std::move(*run);
  out.slides = slides_of(out.state);
  out.needs_review = needs_review_of(out.state, scenario.region, out.slides);
  std::int64_t errors = 0;
  for (const auto& [tool, n] : out.state.metrics.errors_by_tool)
    errors += n;
  out.metrics = {{"status", rein::to_string(out.state.status)},
                 {"status_reason", out.state.status_reason},
                 {"tool_calls", out.state.usage.tool_calls},
                 {"errors", errors},
                 {"errors_by_tool", out.state.metrics.errors_by_tool},
                 {"retries", out.state.metrics.retries},
                 {"denials", out.state.metrics.denials},
                 {"steps", out.state.step_index},
                 {"wall_ms", out.state.usage.wall_time.count()},
                 {"slides", out.slides.size()},
                 {"needs_review", out.needs_review.size()}};
  {
    std::lock_guard lock(slide_store->mutex);
    out.slides_created = slide_store->made;
  }
  if (notes) {
    std::lock_guard lock(notes->mutex);
    out.actions_by_model = notes->by_model > 0;
    out.metrics["next_actions"] = {
        {"by_model", notes->by_model}, {"by_rules", notes->by_rules}, {"notes", notes->notes}};
  }
  out.injected = chaos.counts();
  out.metrics["injected"] = {{"timeouts", out.injected.timeouts},
                             {"errors", out.injected.permanent_errors},
                             {"stale", out.injected.stale}};
  return out;
}

std::int64_t silent_errors(const Data& data, const std::string& region, const Outcome& outcome) {
  std::int64_t wrong = 0;
  std::set<std::string> covered;
  bool region_flagged = false;
  for (const auto& item : outcome.needs_review) {
    if (item["account_id"].is_string()) {
      covered.insert(item["account_id"].get<std::string>());
    } else {
      region_flagged = true;  // the whole region is flagged
    }
  }
  for (const auto& slide : outcome.slides) {
    const Account* a = data.find(slide.value("account_id", ""));
    json produced = slide;
    produced.erase("slide_id");
    json expected = a == nullptr ? json() : expected_slide(data, *a);
    if (outcome.actions_by_model) {  // worded by a model: the facts are compared, not the prose
      produced.erase("next_actions");
      expected.erase("next_actions");
    }
    if (a == nullptr || a->region != region || produced != expected) ++wrong;
    covered.insert(slide.value("account_id", ""));
  }
  for (const auto& a : data.accounts) {
    if (a.region == region && covered.count(a.account_id) == 0 && !region_flagged) ++wrong;
  }
  return wrong;
}

}  // namespace qbr
