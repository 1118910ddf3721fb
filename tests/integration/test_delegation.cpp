// Sub-runs: an agent offered to another as a tool (agent_tool.hpp), under the rules of
// delegation.hpp — attenuation, carved budgets, usage counted up, cancellation down,
// approvals up with the chain.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <vector>

#include "../support/waiting.hpp"
#include "runtime_fixture.hpp"

using namespace rein;
using namespace rein::testing;
using nlohmann::json;

namespace {

PolicyRule rule(std::string id, Decision decision, std::string tool_glob) {
  PolicyRule r;
  r.id = std::move(id);
  r.decision = decision;
  r.tool = ToolMatch::glob(std::move(tool_glob));
  return r;
}

PolicyEngine policy_of(std::vector<PolicyRule> rules, Budgets budgets = {}) {
  PolicySpec p;
  p.rules = std::move(rules);
  p.budgets = std::move(budgets);
  auto engine = PolicyEngine::create(p);
  REQUIRE(engine);
  return *engine;
}

// A worker agent ("researcher") whose plan is `steps` over its tools web.search (read-only)
// and mail.send (side-effecting), each counting its calls.
struct Worker {
  std::shared_ptr<ToolRegistry> tools = std::make_shared<ToolRegistry>();
  CallLog log;
  std::shared_ptr<Runtime> runtime;

  Worker(PolicyEngine policy, std::vector<PlanStep> steps, RuntimeOptions options = {}) {
    for (auto [name, effects] : {std::pair{"web.search", false}, std::pair{"mail.send", true}}) {
      REQUIRE(tools->register_tool(
          spec(name, effects), [this, name = std::string(name)](const json& args, ToolContext&) {
            log.add(name);
            return ToolResult::success({{"from", name}, {"args", args}});
          }));
    }
    runtime =
        std::make_shared<Runtime>(AgentConfig{"researcher", tools, std::move(policy),
                                              StaticPlanner::fixed(std::move(steps)), nullptr},
                                  std::move(options));
  }
};

// The lead agent: one step that delegates a task to the worker, then answers with its output.
struct Lead {
  std::shared_ptr<ToolRegistry> tools = std::make_shared<ToolRegistry>();
  std::unique_ptr<Runtime> runtime;

  Lead(Worker& worker, PolicyEngine policy, RuntimeOptions options = {}) {
    REQUIRE(register_agent_tool(*tools, worker.runtime));
    runtime = std::make_unique<Runtime>(
        AgentConfig{"lead", tools, std::move(policy),
                    StaticPlanner::fixed({call("ask", "agent.researcher", {{"task", "find it"}})}),
                    nullptr},
        std::move(options));
  }
  RunRequest request(std::string id) const {
    return {"research the market", {"alice", {"analyst", "admin"}}, nullptr, std::move(id)};
  }
};

RuntimeOptions no_retries() {
  RuntimeOptions o;
  o.max_retries_per_step = 0;
  o.max_replans = 0;
  return o;
}

}  // namespace

TEST_CASE("delegation: a child's call needs its own policy and its parent's", "[delegation]") {
  const std::vector<PlanStep> search = {call("s", "web.search", {{"q", "market"}})};

  SECTION("both allow: the call runs, and the child's answer and usage come back") {
    Worker worker(policy_of({rule("search-ok", Decision::allow, "web.search")}), search);
    Lead lead(worker, policy_of({rule("delegate", Decision::allow, "agent.*"),
                                 rule("search-ok", Decision::allow, "web.search")}));
    auto run = lead.runtime->run(lead.request("both"));
    REQUIRE(run);
    CHECK(run->status == RunStatus::completed);
    CHECK(worker.log.count("web.search") == 1);
    const json& out = run->outputs["ask"];
    CHECK(out["run_id"] == "both:ask");
    CHECK(out["status"] == "completed");
    CHECK(out["answer"]["s"]["from"] == "web.search");
    // The parent's usage includes the child's: its own call plus the child's, and its steps.
    auto child = worker.runtime->state("both:ask");
    REQUIRE(child);
    CHECK(child->principal.id == "alice/researcher");
    CHECK(child->principal.roles == std::vector<std::string>{"analyst", "admin"});
    REQUIRE(child->delegation);
    CHECK(child->delegation->chain() == std::vector<std::string>{"both"});
    CHECK(run->usage.tool_calls == 1 + child->usage.tool_calls);
    CHECK(child->usage.tool_calls == 1);
    CHECK(run->usage.steps >= child->usage.steps + 1);
  }

  SECTION("the child's policy allows a tool that the parent's principal may not use: denied") {
    Worker worker(policy_of({rule("search-ok", Decision::allow, "web.search")}), search);
    Lead lead(worker, policy_of({rule("delegate", Decision::allow, "agent.*"),
                                 rule("no-search", Decision::deny, "web.search")}));
    auto run = lead.runtime->run(lead.request("narrowed"));
    REQUIRE(run);
    CHECK(worker.log.count("web.search") == 0);
    auto child = worker.runtime->state("narrowed:ask");
    REQUIRE(child);
    const StepState* s = child->find_step("s");
    REQUIRE(s);
    CHECK(s->status == StepStatus::denied);
    REQUIRE(s->decision);
    CHECK(s->decision->rule == "lead/no-search");
    CHECK(s->decision->reason.find("ancestor run 'narrowed'") != std::string::npos);
    // The child answers with what it has; the parent sees its review.
    CHECK(run->outputs["ask"]["status"] == "needs_review");
  }

  SECTION("a parent that names no rule for the tool denies it too (deny by default)") {
    Worker worker(policy_of({rule("search-ok", Decision::allow, "web.search")}), search);
    Lead lead(worker, policy_of({rule("delegate", Decision::allow, "agent.*")}));
    REQUIRE(lead.runtime->run(lead.request("unnamed")));
    CHECK(worker.log.count("web.search") == 0);
    auto child = worker.runtime->state("unnamed:ask");
    REQUIRE(child);
    CHECK(child->find_step("s")->status == StepStatus::denied);
  }

  SECTION("the reverse: the parent allows it, the child's own policy does not") {
    Worker worker(policy_of({rule("no-search", Decision::deny, "web.search")}), search);
    Lead lead(worker, policy_of({rule("delegate", Decision::allow, "agent.*"),
                                 rule("search-ok", Decision::allow, "web.search")}));
    REQUIRE(lead.runtime->run(lead.request("own")));
    CHECK(worker.log.count("web.search") == 0);
    auto child = worker.runtime->state("own:ask");
    REQUIRE(child);
    CHECK(child->find_step("s")->decision->rule == "no-search");
  }

  SECTION("the parent's rules apply to the parent's principal, whose roles the child keeps") {
    PolicyRule admins_only = rule("admins-search", Decision::allow, "web.search");
    admins_only.roles = {"admin"};
    Worker worker(policy_of({rule("search-ok", Decision::allow, "web.search")}), search);
    Lead lead(worker, policy_of({rule("delegate", Decision::allow, "agent.*"), admins_only}));
    REQUIRE(lead.runtime->run(RunRequest{"research", {"bob", {"analyst"}}, nullptr, "bob"}));
    CHECK(worker.log.count("web.search") == 0);
    REQUIRE(lead.runtime->run(RunRequest{"research", {"carol", {"admin"}}, nullptr, "carol"}));
    CHECK(worker.log.count("web.search") == 1);
    auto child = worker.runtime->state("carol:ask");
    REQUIRE(child);
    CHECK(child->principal.roles == std::vector<std::string>{"admin"});
  }
}

TEST_CASE("delegation: the strictest answer in the chain wins", "[delegation]") {
  Worker worker(policy_of({rule("search-ok", Decision::allow, "web.search")}),
                {call("s", "web.search")});
  Lead lead(worker, policy_of({rule("delegate", Decision::allow, "agent.*"),
                               rule("search-needs-ok", Decision::require_approval, "web.search")}));
  std::promise<Result<AgentState>> parent_done;
  auto parent = lead.runtime->run_async(lead.request("strict"));
  // The child suspends for a person; the host sees the approval with the chain above it.
  REQUIRE(eventually([&] {
    auto pending = worker.runtime->pending_approvals();
    return pending && pending->size() == 1;
  }));
  auto pending = worker.runtime->pending_approvals();
  REQUIRE(pending);
  const PendingApproval& p = pending->front();
  CHECK(p.run_id == "strict:ask");
  CHECK(p.tool == "web.search");
  CHECK(p.approval.rule == "lead/search-needs-ok");
  CHECK(p.chain == std::vector<std::string>{"strict"});
  CHECK(worker.log.count("web.search") == 0);
  CHECK(parent.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  // Approving the child resumes it, and the parent goes on once it ends.
  REQUIRE(worker.runtime->approve("strict:ask", "s", "looked fine"));
  REQUIRE(parent.wait_for(kHangGuard) == std::future_status::ready);
  auto run = parent.get();
  REQUIRE(run);
  CHECK(run->status == RunStatus::completed);
  CHECK(worker.log.count("web.search") == 1);
}

TEST_CASE("delegation: a denied child's approval fails the parent's step, named", "[delegation]") {
  Worker worker(policy_of({rule("mail-needs-ok", Decision::require_approval, "mail.send")}),
                {call("m", "mail.send", {{"to", "x"}})});
  Lead lead(worker,
            policy_of({rule("delegate", Decision::allow, "agent.*"),
                       rule("mail-ok", Decision::allow, "mail.send")}),
            no_retries());
  auto parent = lead.runtime->run_async(lead.request("denied"));
  REQUIRE(eventually([&] {
    auto pending = worker.runtime->pending_approvals();
    return pending && pending->size() == 1;
  }));
  REQUIRE(worker.runtime->deny("denied:ask", "m", "not to x"));
  REQUIRE(parent.wait_for(kHangGuard) == std::future_status::ready);
  auto run = parent.get();
  REQUIRE(run);
  CHECK(worker.log.count("mail.send") == 0);
  CHECK(run->outputs["ask"]["status"] == "needs_review");
}

TEST_CASE("delegation: a child cannot spend past its carve, and its spend counts upward",
          "[delegation]") {
  // Five searches planned; the parent has three tool calls in all, one of which is the
  // delegation itself: the child may make two.
  std::vector<PlanStep> five;
  for (int i = 0; i < 5; ++i)
    five.push_back(call("s" + std::to_string(i), "web.search", {{"i", i}},
                        i == 0 ? std::vector<std::string>{}
                               : std::vector<std::string>{"s" + std::to_string(i - 1)}));
  Worker worker(policy_of({rule("search-ok", Decision::allow, "web.search")}), five);
  Budgets parent_budget;
  parent_budget.max_tool_calls = 3;
  Lead lead(worker,
            policy_of({rule("delegate", Decision::allow, "agent.*"),
                       rule("search-ok", Decision::allow, "web.search")},
                      parent_budget),
            no_retries());
  auto run = lead.runtime->run(lead.request("carved"));
  REQUIRE(run);
  CHECK(worker.log.count("web.search") == 2);
  auto child = worker.runtime->state("carved:ask");
  REQUIRE(child);
  REQUIRE(child->delegation);
  CHECK(child->delegation->carve.max_tool_calls == 2);
  CHECK(child->status == RunStatus::budget_exhausted);
  CHECK(child->usage.tool_calls == 2);
  // The parent's step failed with the child's spend, which counts against the parent.
  const StepState* ask = run->find_step("ask");
  REQUIRE(ask);
  REQUIRE(ask->result);
  CHECK_FALSE(ask->result->ok());
  CHECK(ask->result->spent.tool_calls == 2);
  CHECK(run->usage.tool_calls == 3);
}

TEST_CASE("delegation: the child's carve splits what is left among the parent's calls",
          "[delegation]") {
  Worker worker(policy_of({rule("search-ok", Decision::allow, "web.search")}),
                {call("s", "web.search")});
  Budgets b;
  b.max_tool_calls = 10;
  b.max_tokens = 1000;
  b.max_cost = 2.0;
  b.max_steps = 50;
  b.max_wall_time = std::chrono::minutes(5);
  auto tools = std::make_shared<ToolRegistry>();
  REQUIRE(register_agent_tool(*tools, worker.runtime));
  Runtime lead(AgentConfig{"lead", tools,
                           policy_of({rule("delegate", Decision::allow, "agent.*"),
                                      rule("search-ok", Decision::allow, "web.search")},
                                     b),
                           StaticPlanner::fixed({call("a", "agent.researcher", {{"task", "one"}}),
                                                 call("b", "agent.researcher", {{"task", "two"}})}),
                           nullptr});
  auto run = lead.run(RunRequest{"two at once", {"alice", {}}, nullptr, "split"});
  REQUIRE(run);
  CHECK(run->status == RunStatus::completed);
  for (const char* id : {"split:a", "split:b"}) {
    auto child = worker.runtime->state(id);
    REQUIRE(child);
    const Budgets& carve = child->delegation->carve;
    // Two calls made of ten: eight left, four each; the first turn is still under way, so
    // all fifty steps are left: 25 each.
    CHECK(carve.max_tool_calls == 4);
    CHECK(carve.max_tokens == 500);
    CHECK(carve.max_cost == Approx(1.0));
    CHECK(carve.max_steps == 25);
    REQUIRE(carve.max_wall_time);
    CHECK(*carve.max_wall_time <= std::chrono::minutes(5));
    CHECK(child->goal == (std::string(id) == "split:a" ? "one" : "two"));
  }
}

TEST_CASE("delegation: cancelling the parent cancels the child", "[delegation]") {
  // The child's tool waits until its call is cancelled.
  auto tools = std::make_shared<ToolRegistry>();
  std::mutex mutex;
  std::vector<AsyncToolCall> held;
  REQUIRE(tools->register_async_tool(spec("web.search"), [&](AsyncToolCall call) {
    std::lock_guard lock(mutex);
    held.push_back(call);
  }));
  auto executor = std::make_shared<Executor>(ExecutorOptions{.threads = 1});
  auto child = std::make_shared<Runtime>(
      AgentConfig{"researcher", tools, policy_of({rule("ok", Decision::allow, "*")}),
                  StaticPlanner::fixed({call("s", "web.search")}), nullptr},
      RuntimeOptions{.executor = executor});
  auto lead_tools = std::make_shared<ToolRegistry>();
  REQUIRE(register_agent_tool(*lead_tools, child));
  Runtime lead(AgentConfig{"lead", lead_tools, policy_of({rule("ok", Decision::allow, "*")}),
                           StaticPlanner::fixed({call("ask", "agent.researcher", {{"task", "t"}})}),
                           nullptr},
               RuntimeOptions{.executor = executor});
  auto parent = lead.run_async(RunRequest{"g", {"alice", {}}, nullptr, "cancelled"});
  REQUIRE(eventually([&] {
    std::lock_guard lock(mutex);
    return held.size() == 1;
  }));
  REQUIRE(lead.cancel("cancelled"));
  REQUIRE(parent.wait_for(kHangGuard) == std::future_status::ready);
  auto run = parent.get();
  REQUIRE(run);
  CHECK(run->status == RunStatus::cancelled);
  REQUIRE(eventually([&] {
    auto s = child->state("cancelled:ask");
    return s && s->status == RunStatus::cancelled;
  }));
  std::lock_guard lock(mutex);
  CHECK(held.front().context().cancelled());
}

TEST_CASE("delegation: bad uses of agent tools are refused, named", "[delegation]") {
  Worker worker(policy_of({rule("ok", Decision::allow, "*")}), {call("s", "web.search")});
  ToolRegistry tools;
  CHECK(register_agent_tool(tools, nullptr).error().code() == ErrorCode::invalid_argument);
  AgentToolOptions no_goal;
  no_goal.input_schema = {{"type", "object"}, {"properties", {{"what", {{"type", "string"}}}}}};
  auto refused = register_agent_tool(tools, worker.runtime, no_goal);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find("'task'") != std::string::npos);
  REQUIRE(register_agent_tool(tools, worker.runtime));
  CHECK(register_agent_tool(tools, worker.runtime).error().code() == ErrorCode::already_exists);

  // Called outside a run: there is no run to delegate from.
  InvokeOptions keyed;
  keyed.idempotency_key = "k1";
  auto direct = tools.invoke("agent.researcher", {{"task", "t"}}, keyed);
  CHECK_FALSE(direct.ok());
  REQUIRE_FALSE(direct.errors.empty());
  CHECK(direct.errors.front().find("must be called by a run") != std::string::npos);
  CHECK(worker.log.count("web.search") == 0);

  // Arguments against the schema never start a child.
  Runtime lead(
      AgentConfig{"lead", std::shared_ptr<ToolRegistry>(&tools, [](ToolRegistry*) {}),
                  policy_of({rule("ok", Decision::allow, "*")}),
                  StaticPlanner::fixed({call("ask", "agent.researcher", {{"task", 42}})}), nullptr},
      no_retries());
  auto run = lead.run(RunRequest{"g", {"alice", {}}, nullptr, "bad-args"});
  REQUIRE(run);
  CHECK(run->find_step("ask")->result->status == ToolStatus::invalid_input);
  CHECK_FALSE(worker.runtime->state("bad-args:ask").ok());
}

TEST_CASE("delegation: a delegated run's state round-trips with its ancestors", "[delegation]") {
  AgentState s;
  s.run_id = "child";
  auto d = std::make_shared<Delegation>();
  d->ancestors.push_back({"root",
                          "step-1",
                          "lead",
                          {"alice", {"analyst"}},
                          policy_of({rule("ok", Decision::allow, "web.*")})});
  d->carve.max_tool_calls = 3;
  d->carve.max_cost = 0.5;
  d->input_label = Label::untrusted("tool:web.fetch");
  s.delegation = d;
  auto back = AgentState::from_json(s.to_json());
  REQUIRE(back);
  REQUIRE(back->delegation);
  CHECK(back->delegation->chain() == std::vector<std::string>{"root"});
  const Ancestor& a = back->delegation->ancestors.front();
  CHECK(a.step_id == "step-1");
  CHECK(a.principal.roles == std::vector<std::string>{"analyst"});
  CHECK(a.policy.decide("web.search", json::object(), a.principal, Usage{}).decision ==
        Decision::allow);
  CHECK(a.policy.decide("mail.send", json::object(), a.principal, Usage{}).decision ==
        Decision::deny);
  CHECK(back->delegation->carve == d->carve);
  CHECK(back->delegation->input_label == d->input_label);

  // A corrupt ancestor policy is refused, named.
  json j = s.to_json();
  j["delegation"]["ancestors"][0]["policy"]["rules"] = 7;
  auto bad = AgentState::from_json(j);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("ancestor 'root'") != std::string::npos);
}

TEST_CASE("delegation: parent and children are one audit tree and one trace", "[delegation]") {
  auto store = SqliteStore::open(temp_db_path("delegation_tree"));
  REQUIRE(store);
  auto tracer = std::make_shared<Tracer>();
  RuntimeOptions options;
  options.store = *store;
  options.tracer = tracer;
  Worker worker(policy_of({rule("ok", Decision::allow, "*")}), {call("s", "web.search")}, options);
  Lead lead(worker, policy_of({rule("ok", Decision::allow, "*")}), options);
  auto run = lead.runtime->run(lead.request("tree"));
  REQUIRE(run);
  REQUIRE(run->status == RunStatus::completed);

  auto all = (*store)->read_audit("");
  REQUIRE(all);
  auto anchors = (*store)->audit_anchors();
  REQUIRE(anchors);
  CHECK(anchors->size() == 2);
  CHECK(verify_audit(*all, &*anchors).ok);
  // The child's first entry names the parent's entry it started after.
  AuditEntry child_start;
  std::vector<AuditEntry> parent_chain;
  for (const auto& e : *all) {
    if (e.run_id == "tree:ask" && e.seq == 0) child_start = e;
    if (e.run_id == "tree") parent_chain.push_back(e);
  }
  const json named = child_start.payload_json()["parent"];
  CHECK(named["run_id"] == "tree");
  CHECK(named["step_id"] == "ask");
  CHECK(std::any_of(parent_chain.begin(), parent_chain.end(),
                    [&](const AuditEntry& e) { return e.hash == named["entry"]; }));

  // A child chain naming an entry the parent's chain does not hold does not verify, however
  // well its own hashes are made; alone (without its parent's chain) it cannot be checked.
  json forged_payload = child_start.payload_json();
  forged_payload["parent"]["entry"] = std::string(64, 'a');
  const AuditEntry forged = make_audit_entry("tree:ask", 0, "", 0, "run", forged_payload, 1);
  std::vector<AuditEntry> with_forged = parent_chain;
  with_forged.push_back(forged);
  const auto refused = verify_audit(with_forged);
  CHECK_FALSE(refused.ok);
  CHECK(refused.reason.find("not in run 'tree''s chain") != std::string::npos);
  CHECK(verify_audit(std::vector<AuditEntry>{forged}).ok);

  // One trace: the child's spans carry the root's trace id and hang under the parent's call.
  const auto spans = tracer->spans();
  const std::string trace = Tracer::trace_id_for("tree");
  std::string call_span;
  for (const auto& s : spans)
    if (s.name == "rein.tool_call" && s.attributes.value("rein.tool", "") == "agent.researcher")
      call_span = s.span_id;
  REQUIRE_FALSE(call_span.empty());
  int child_turns = 0;
  for (const auto& s : spans) {
    CHECK(s.trace_id == trace);
    if (s.name == "rein.step" && s.attributes.value("rein.run_id", "") == "tree:ask") {
      ++child_turns;
      CHECK(s.parent_span_id == call_span);
    }
  }
  CHECK(child_turns >= 1);
}
