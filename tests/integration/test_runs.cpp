// Whole runs through the loop: success, retries, review, replans, budgets, denial, LLM use.
#include <catch2/catch.hpp>

#include "runtime_fixture.hpp"

using namespace rein;
using namespace rein::testing;
using namespace std::chrono_literals;

namespace {

struct Harness {
  std::shared_ptr<ToolRegistry> tools = std::make_shared<ToolRegistry>();
  std::shared_ptr<RuleCritic> critic = std::make_shared<RuleCritic>();
  std::shared_ptr<Tracer> tracer = std::make_shared<Tracer>();
  CallLog log;

  void add(ToolSpec s, std::function<ToolResult(const json&, int)> fn) {
    const std::string name = s.name;
    REQUIRE(tools
                ->register_tool(s,
                                [this, name, fn](const json& args, ToolContext&) {
                                  log.add(name);
                                  return fn(args, log.count(name));
                                })
                .ok());
  }

  Runtime runtime(std::shared_ptr<Planner> planner, PolicyEngine policy = allow_all(),
                  RuntimeOptions options = {}, LlmCallback llm = {}) {
    if (!options.tracer) options.tracer = tracer;
    return Runtime(AgentConfig{"test-agent", tools, std::move(policy), std::move(planner), critic,
                               std::move(llm)},
                   std::move(options));
  }
};

ToolResult ok(json data) {
  return ToolResult::success(std::move(data), {{"source", "test://x", ""}});
}

}  // namespace

TEST_CASE("a successful run plans, acts, verifies and answers", "[runtime]") {
  Harness h;
  h.add(spec("crm.search"), [](const json&, int) { return ok({{"accounts", {"A100", "A200"}}}); });
  h.add(spec("billing.mrr"), [](const json& a, int) {
    return ok({{"account", a["account_id"]}, {"mrr", 100}});
  });
  auto planner =
      StaticPlanner::fixed({call("accounts", "crm.search"),
                            call("mrr", "billing.mrr", {{"account_id", "A100"}}, {"accounts"})});
  auto rt = h.runtime(planner);
  auto run = rt.run(RunRequest{"QBR", {"riley", {"analyst"}}, nullptr, "run-ok"});
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::completed);
  CHECK(run->status_reason == "final answer verified");
  CHECK_FALSE(run->partial);
  CHECK(run->needs_review.empty());
  REQUIRE(run->final_answer.has_value());
  CHECK((*run->final_answer)["mrr"]["mrr"] == 100);
  CHECK(run->steps.at(1).status == StepStatus::succeeded);
  CHECK(run->usage.tool_calls == 2);
  CHECK(run->step_index == 3);  // accounts; mrr; the answer
  CHECK(verify_run_audit(rt.store(), *run).ok);

  std::vector<std::string> kinds;
  for (const auto& e : *rt.store().read_audit("run-ok")) {
    kinds.push_back(e.kind);
    // Payloads written on the hot path without building JSON are still exactly canonical.
    CHECK(rein::canonical_payload(json::parse(e.payload)) == e.payload);
  }
  CHECK(kinds ==
        std::vector<std::string>{"run", "plan", "tool_call", "tool_call", "answer", "status"});
  auto first_call = rt.store().read_audit("run-ok")->at(2).payload_json();
  CHECK(first_call["decision"] == json{{"decision", "allow"},
                                       {"rule", "allow-all"},
                                       {"reason", "rule 'allow-all' allows the call"}});
  CHECK(first_call["verdict"]["kind"] == "accept");
  std::map<std::string, int> span_names;
  std::string run_span;
  for (const auto& s : h.tracer->spans()) {
    ++span_names[s.name];
    if (s.name == "rein.run") {
      run_span = s.span_id;
      CHECK(s.attributes["rein.status"] == "completed");
      CHECK(s.attributes["rein.tool_calls"] == 2);
      CHECK(s.end_unix_nanos >= s.start_unix_nanos);
    }
  }
  for (const auto& s : h.tracer->spans()) {
    if (s.name == "rein.step") CHECK(s.parent_span_id == run_span);  // steps nest in the run
    CHECK(s.trace_id == Tracer::trace_id_for("run-ok"));
  }
  CHECK(span_names["rein.run"] == 1);
  CHECK(span_names["rein.step"] == 3);
  CHECK(span_names["rein.plan"] == 2);
  CHECK(span_names["rein.authorize"] == 2);
  CHECK(span_names["rein.tool_call"] == 2);
  CHECK(span_names["rein.verify"] == 3);

  auto again = rt.run("run-ok");  // a finished run does not move
  CHECK(again->audit_count == run->audit_count);
  CHECK(rt.start(RunRequest{"again", {}, nullptr, "run-ok"}).error().code() ==
        ErrorCode::already_exists);
  CHECK(rt.run("no-such-run").error().code() == ErrorCode::not_found);
}

TEST_CASE("a tool error is retried by the critic's verdict, then accepted", "[runtime]") {
  Harness h;
  h.add(spec("flaky.api"), [](const json&, int call) {
    return call == 1 ? ToolResult::failure("503 service unavailable", true) : ok({{"v", 1}});
  });
  auto rt = h.runtime(StaticPlanner::fixed({call("s", "flaky.api")}));
  auto run = rt.run(RunRequest{"g", {}, nullptr, ""});
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::completed);
  CHECK(run->steps[0].retries == 1);
  CHECK(run->steps[0].attempts == 2);
  CHECK(run->metrics.retries == 1);
  CHECK(run->metrics.errors_by_tool.at("flaky.api") == 1);
  CHECK(h.log.count("flaky.api") == 2);
}

TEST_CASE("the critic asks for a retry on stale data, then accepts", "[runtime]") {
  Harness h;
  h.add(spec("billing.mrr"), [](const json&, int call) {
    return ok({{"mrr", 100}, {"stale", call == 1}});
  });
  h.critic->reject_stale(
      "billing.*",
      [](const StepState&, const ToolResult& r, const AgentState&) -> std::optional<std::string> {
        if (r.data.value("stale", false)) return "stale data: MRR tail is flat";
        return std::nullopt;
      });
  auto rt = h.runtime(StaticPlanner::fixed({call("m", "billing.mrr")}));
  auto run = rt.run(RunRequest{"g", {}, nullptr, ""});
  CHECK(run->status == RunStatus::completed);
  CHECK(run->outputs["m"]["stale"] == false);
  CHECK(h.log.count("billing.mrr") == 2);
}

TEST_CASE("what cannot be verified is flagged, and its dependents skipped", "[runtime]") {
  Harness h;
  h.add(spec("billing.mrr"), [](const json&, int) { return ok({{"mrr", -5}}); });
  h.add(spec("slides.make", true), [](const json&, int) { return ok({{"slide_id", "S1"}}); });
  h.add(spec("tickets.risks"), [](const json&, int) { return ok({{"risks", json::array()}}); });
  h.critic->require_range("billing.*", "/mrr", 0.0, std::nullopt);
  auto rt = h.runtime(StaticPlanner::fixed({call("m", "billing.mrr"),
                                            call("slide", "slides.make", json::object(), {"m"}),
                                            call("t", "tickets.risks")}));
  auto run = rt.run(RunRequest{"g", {}, nullptr, ""});
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::needs_review);
  CHECK(run->find_step("m")->status == StepStatus::needs_review);
  CHECK(run->find_step("slide")->status == StepStatus::skipped);
  CHECK(run->find_step("t")->status == StepStatus::succeeded);
  REQUIRE(run->needs_review.size() == 1);
  CHECK(run->needs_review[0].step_id == "m");
  CHECK(run->needs_review[0].issues ==
        std::vector<std::string>{"/mrr is -5, below the minimum 0.0"});
  CHECK(h.log.count("slides.make") == 0);
  CHECK_FALSE(run->outputs.contains("m"));  // unverified data is never an output
}

TEST_CASE("a replan verdict asks the planner for another way", "[runtime]") {
  Harness h;
  h.add(spec("search.primary"), [](const json&, int) { return ok({{"hits", 0}}); });
  h.add(spec("search.fallback"), [](const json&, int) { return ok({{"hits", 3}}); });
  h.critic->check(
      "search.*",
      [](const StepState&, const ToolResult& r, const AgentState&) -> std::optional<std::string> {
        if (r.data.value("hits", 0) == 0) return "no hits: try another source";
        return std::nullopt;
      },
      VerdictKind::replan);
  std::vector<std::optional<ReplanRequest>> seen;
  auto planner =
      std::make_shared<StaticPlanner>([&](const PlanRequest& req) -> Result<PlanDecision> {
        seen.push_back(req.replan);
        if (req.replan) return PlanDecision::run({call("fallback", "search.fallback")});
        if (req.state.planning_rounds == 0)
          return PlanDecision::run({call("primary", "search.primary")});
        return PlanDecision::finish(req.state.outputs);
      });
  auto rt = h.runtime(planner);
  auto run = rt.run(RunRequest{"g", {}, nullptr, ""});
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::completed);
  CHECK(run->find_step("primary")->status == StepStatus::failed);
  CHECK(run->outputs == json{{"fallback", {{"hits", 3}}}});
  CHECK(run->metrics.replans == 1);
  REQUIRE(seen.size() == 3);
  REQUIRE(seen[1].has_value());
  CHECK(seen[1]->step_id == "primary");
  CHECK(seen[1]->reasons == std::vector<std::string>{"no hits: try another source"});
}

TEST_CASE("replans are bounded, a planner that cannot replan flags the step", "[runtime]") {
  Harness h;
  h.add(spec("search.primary"), [](const json&, int) { return ok({{"hits", 0}}); });
  h.critic->check(
      "*",
      [](const auto&, const auto&, const auto&) -> std::optional<std::string> { return "no hits"; },
      VerdictKind::replan);
  auto rt = h.runtime(StaticPlanner::fixed({call("primary", "search.primary")}));
  auto run = rt.run(RunRequest{"g", {}, nullptr, ""});
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::needs_review);
  REQUIRE(run->needs_review.size() == 1);
  CHECK(run->needs_review[0].source == "planner");
  CHECK(run->needs_review[0].issues[0] ==
        "replanning failed: a fixed plan cannot replan (step 'primary')");
}

TEST_CASE("budgets end a run with flagged partial results", "[runtime]") {
  Harness h;
  h.add(spec("step.tool"), [](const json&, int n) { return ok({{"n", n}}); });
  std::vector<PlanStep> chain;
  for (int i = 0; i < 5; ++i) {
    chain.push_back(call("s" + std::to_string(i), "step.tool", json::object(),
                         i == 0 ? std::vector<std::string>{}
                                : std::vector<std::string>{"s" + std::to_string(i - 1)}));
  }
  SECTION("tool calls") {
    Budgets b;
    b.max_tool_calls = 2;
    auto rt = h.runtime(StaticPlanner::fixed(chain), allow_all(b));
    auto run = rt.run(RunRequest{"g", {}, nullptr, ""});
    REQUIRE(run.ok());
    CHECK(run->status == RunStatus::budget_exhausted);
    CHECK(run->partial);
    CHECK(run->outputs.size() == 2);
    CHECK(h.log.count("step.tool") == 2);
    REQUIRE_FALSE(run->needs_review.empty());
    CHECK(run->needs_review.back().source == "budget");
    CHECK(run->needs_review.back().issues[0] ==
          "the run stopped (budget_exhausted: tool-call budget exhausted: 2 of 2 calls made) "
          "before these steps "
          "finished: s2, s3, s4");
    CHECK_FALSE(run->final_answer.has_value());
  }
  SECTION("steps") {
    Budgets b;
    b.max_steps = 3;
    auto rt = h.runtime(StaticPlanner::fixed(chain), allow_all(b));
    auto run = rt.run(RunRequest{"g", {}, nullptr, ""});
    CHECK(run->status == RunStatus::budget_exhausted);
    CHECK(run->status_reason == "step budget exhausted: 3 of 3 steps used");
    CHECK(run->outputs.size() == 3);
  }
  SECTION("the runtime's safety net") {
    auto rt = h.runtime(StaticPlanner::fixed(chain), allow_all(), RuntimeOptions{.max_steps = 2});
    CHECK(rt.run(RunRequest{"g", {}, nullptr, ""})->status == RunStatus::budget_exhausted);
  }
}

TEST_CASE("a denied call is reported and its dependents skipped", "[runtime]") {
  Harness h;
  h.add(spec("crm.search"), [](const json&, int) { return ok({{"accounts", 1}}); });
  h.add(spec("crm.delete", true), [](const json&, int) { return ok({}); });
  PolicySpec p;
  PolicyRule read;
  read.id = "read";
  read.decision = Decision::allow;
  read.tool = ToolMatch::exact("crm.search");
  p.rules.push_back(read);
  auto rt = h.runtime(StaticPlanner::fixed({call("read", "crm.search"),
                                            call("del", "crm.delete", json::object(), {"read"}),
                                            call("after", "crm.search", json::object(), {"del"})}),
                      *PolicyEngine::create(p));
  auto run = rt.run(RunRequest{"g", {"guest", {"guest"}}, nullptr, ""});
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::needs_review);
  CHECK(run->find_step("del")->status == StepStatus::denied);
  CHECK(run->find_step("del")->decision->rule == "default_deny");
  CHECK(run->find_step("after")->status == StepStatus::skipped);
  CHECK(h.log.count("crm.delete") == 0);
  REQUIRE(run->needs_review.size() == 1);
  CHECK(run->needs_review[0].source == "policy");
  CHECK(run->metrics.denials == 1);
}

TEST_CASE("invalid plan steps never reach a tool", "[runtime]") {
  Harness h;
  auto s = spec("typed.tool");
  s.input_schema = {{"type", "object"}, {"required", {"id"}}};
  h.add(s, [](const json&, int) { return ok({}); });
  auto rt = h.runtime(
      StaticPlanner::fixed({call("unknown", "no.such"), call("bad", "typed.tool", {{"x", 1}})}));
  auto run = rt.run(RunRequest{"g", {}, nullptr, ""});
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::needs_review);
  CHECK(run->find_step("unknown")->result->errors ==
        std::vector<std::string>{"unknown tool 'no.such'"});
  CHECK(run->find_step("bad")->result->status == ToolStatus::invalid_input);
  CHECK(h.log.count("typed.tool") == 0);
}

TEST_CASE("an invalid plan or a planner error fails the run with the reason", "[runtime]") {
  Harness h;
  auto cyclic = std::make_shared<StaticPlanner>([](const PlanRequest&) -> Result<PlanDecision> {
    return PlanDecision::run(
        {call("a", "t.x", json::object(), {"b"}), call("b", "t.x", json::object(), {"a"})});
  });
  auto run = h.runtime(cyclic).run(RunRequest{"g", {}, nullptr, ""});
  CHECK(run->status == RunStatus::failed);
  CHECK(run->status_reason ==
        "planner: invalid_argument: invalid plan: the dependencies of step 'a' form a cycle");

  auto throwing = std::make_shared<StaticPlanner>([](const PlanRequest&) -> Result<PlanDecision> {
    throw std::runtime_error("model went away");
  });
  auto run2 = h.runtime(throwing).run(RunRequest{"g", {}, nullptr, ""});
  CHECK(run2->status == RunStatus::failed);
  CHECK(run2->status_reason == "planner: internal: the planner threw: model went away");
}

TEST_CASE("a critic that fails a step stops the run, a throwing critic flags instead",
          "[runtime]") {
  Harness h;
  h.add(spec("pay.check"), [](const json&, int) { return ok({{"fraud", true}}); });
  h.critic->check(
      "pay.*",
      [](const auto&, const auto&, const auto&) -> std::optional<std::string> {
        return "fraud detected";
      },
      VerdictKind::fail);
  auto run = h.runtime(StaticPlanner::fixed({call("c", "pay.check")}))
                 .run(RunRequest{"g", {}, nullptr, ""});
  CHECK(run->status == RunStatus::failed);
  CHECK(run->status_reason == "the critic failed step 'c': fraud detected");
  CHECK(run->partial);

  struct ThrowingCritic : Critic {
    Verdict review_step(const StepState&, const ToolResult&, const AgentState&) override {
      throw std::logic_error("bug");
    }
    Verdict review_output(const json&, const AgentState&) override { return Verdict::accept(); }
  };
  Harness h2;
  h2.add(spec("x.y"), [](const json&, int) { return ok({}); });
  Runtime rt(AgentConfig{"a", h2.tools, allow_all(), StaticPlanner::fixed({call("s", "x.y")}),
                         std::make_shared<ThrowingCritic>()});
  auto run2 = rt.run(RunRequest{"g", {}, nullptr, ""});
  CHECK(run2->status == RunStatus::needs_review);
  CHECK(run2->needs_review[0].issues == std::vector<std::string>{"the critic threw: bug"});
}

TEST_CASE("host callbacks that throw anything, even a non-standard exception, never escape",
          "[runtime]") {
  struct Thrown {};  // derives from nothing
  struct OutputThrower : Critic {
    Verdict review_step(const StepState&, const ToolResult&, const AgentState&) override {
      return Verdict::accept();
    }
    Verdict review_output(const json&, const AgentState&) override { throw Thrown{}; }
  };
  struct StepThrower : Critic {
    Verdict review_step(const StepState&, const ToolResult&, const AgentState&) override {
      throw 42;
    }
    Verdict review_output(const json&, const AgentState&) override { return Verdict::accept(); }
  };
  struct ThrowingSink : AuditSink {
    Status write(std::span<const AuditEntry>) override { throw Thrown{}; }
  };
  Harness h;
  h.add(spec("x.y"), [](const json&, int) { return ok({{"v", 1}}); });
  const auto plan = StaticPlanner::fixed({call("s", "x.y")});

  Runtime output_critic(
      AgentConfig{"a", h.tools, allow_all(), plan, std::make_shared<OutputThrower>()});
  Result<AgentState> run = Error(ErrorCode::internal, "not run");
  REQUIRE_NOTHROW(run = output_critic.run(RunRequest{"g", {}, nullptr, ""}));
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::needs_review);
  CHECK(run->needs_review.back().issues ==
        std::vector<std::string>{"the critic threw a non-standard exception"});

  Runtime step_critic(
      AgentConfig{"a", h.tools, allow_all(), plan, std::make_shared<StepThrower>()});
  REQUIRE_NOTHROW(run = step_critic.run(RunRequest{"g", {}, nullptr, ""}));
  CHECK(run->needs_review.at(0).issues ==
        std::vector<std::string>{"the critic threw a non-standard exception"});

  auto planner = std::make_shared<StaticPlanner>(
      [](const PlanRequest&) -> Result<PlanDecision> { throw Thrown{}; });
  REQUIRE_NOTHROW(run = h.runtime(planner).run(RunRequest{"g", {}, nullptr, ""}));
  CHECK(run->status == RunStatus::failed);
  CHECK(run->status_reason == "planner: internal: the planner threw a non-standard exception");

  // An audit sink that throws is logged and skipped; the run and its own audit go on.
  Runtime sunk(AgentConfig{"a", h.tools, allow_all(), plan, nullptr},
               RuntimeOptions{.audit_sinks = {std::make_shared<ThrowingSink>()}});
  REQUIRE_NOTHROW(run = sunk.run(RunRequest{"g", {}, nullptr, "sunk"}));
  CHECK(run->status == RunStatus::completed);
  CHECK(verify_run_audit(sunk.store(), *run).ok);
}

TEST_CASE("the final answer is verified before the run completes", "[runtime]") {
  Harness h;
  h.add(spec("x.y"), [](const json&, int) { return ok({{"v", 1}}); });
  h.critic->require_output_fields({"/summary"});
  auto run =
      h.runtime(StaticPlanner::fixed({call("s", "x.y")})).run(RunRequest{"g", {}, nullptr, ""});
  CHECK(run->status == RunStatus::needs_review);
  CHECK(run->status_reason == "the final answer could not be verified");
  CHECK(run->needs_review.back().issues ==
        std::vector<std::string>{"answer is missing field: /summary"});
}

namespace {

// A model's reply of 50 tokens (30 prompt, 20 completion).
LlmResponse fifty_token_reply(double cost = 0.0) {
  LlmResponse r;
  r.content = "done";
  r.prompt_tokens = 30;
  r.completion_tokens = 20;
  r.cost = cost;
  return r;
}

}  // namespace

TEST_CASE("planners reach the host's model with tokens and cost accounted and budgeted",
          "[runtime]") {
  Harness h;
  const LlmResponse r = fifty_token_reply(0.01);
  ScriptedLlm llm({r, r, r});
  auto planner =
      std::make_shared<StaticPlanner>([](const PlanRequest& req) -> Result<PlanDecision> {
        auto reply = req.llm(LlmRequest{});
        if (!reply) return std::move(reply).error();
        return PlanDecision::finish({{"said", reply->content}});
      });
  auto run =
      h.runtime(planner, allow_all(), {}, llm.callback()).run(RunRequest{"g", {}, nullptr, ""});
  CHECK(run->status == RunStatus::completed);
  CHECK(run->usage.tokens == 50);
  CHECK(run->usage.cost == Approx(0.01));
  bool llm_span = false;
  for (const auto& s : h.tracer->spans())
    llm_span = llm_span || (s.name == "rein.llm_call" && s.attributes["rein.tokens"] == 50);
  CHECK(llm_span);

  Budgets tight;
  tight.max_tokens = 40;
  auto greedy = std::make_shared<StaticPlanner>([](const PlanRequest& req) -> Result<PlanDecision> {
    for (int i = 0; i < 3; ++i) {
      auto reply = req.llm(LlmRequest{});
      if (!reply) return std::move(reply).error();
    }
    return PlanDecision::finish(nullptr);
  });
  auto capped =
      h.runtime(greedy, allow_all(tight), {}, llm.callback()).run(RunRequest{"g", {}, nullptr, ""});
  CHECK(capped->status == RunStatus::budget_exhausted);
  CHECK(capped->usage.tokens ==
        50);  // the first call went through; the second was refused before sending
  CHECK(llm.remaining() == 1);

  auto no_llm = h.runtime(planner).run(RunRequest{"g", {}, nullptr, ""});
  CHECK(no_llm->status == RunStatus::failed);
  CHECK(no_llm->status_reason ==
        "planner: unavailable: agent 'test-agent' has no model (AgentConfig::llm)");
}

namespace {

// Makes two asks before awaiting either, as a planner fanning out might.
class TwoAsksPlanner final : public Planner {
 public:
  bool is_async() const noexcept override { return true; }
  bool needs_model() const noexcept override { return true; }
  Result<PlanDecision> plan(const PlanRequest& request) override {
    return sync_wait(plan_async(request));
  }
  Task<Result<PlanDecision>> plan_async(const PlanRequest& request) override {
    auto first = request.ask_model(LlmRequest{});
    auto second = request.ask_model(LlmRequest{});
    auto a = co_await std::move(first);
    if (!a) co_return std::move(a).error();
    auto b = co_await std::move(second);
    if (!b) co_return std::move(b).error();
    co_return PlanDecision::finish(nullptr);
  }
};

}  // namespace

TEST_CASE("a model call is admitted when it is awaited, after the calls answered before it",
          "[runtime]") {
  Harness h;
  ScriptedLlm llm({fifty_token_reply(), fifty_token_reply()});
  Budgets tight;
  tight.max_tokens = 40;
  auto run = h.runtime(std::make_shared<TwoAsksPlanner>(), allow_all(tight), {}, llm.callback())
                 .run(RunRequest{"g", {}, nullptr, ""});
  CHECK(run->status == RunStatus::budget_exhausted);
  CHECK(run->usage.tokens == 50);  // the second ask, made before the first was answered, was
  CHECK(llm.remaining() == 1);     // refused once it was awaited: never sent
}

TEST_CASE("a planner may ask a person, and the run resumes with the answer", "[runtime]") {
  Harness h;
  auto planner =
      std::make_shared<StaticPlanner>([](const PlanRequest& req) -> Result<PlanDecision> {
        if (req.state.answers.empty()) return PlanDecision::ask("Which region?");
        return PlanDecision::finish({{"region", req.state.answers.back()}});
      });
  auto rt = h.runtime(planner);
  auto run = rt.run(RunRequest{"g", {}, nullptr, "ask-run"});
  CHECK(run->status == RunStatus::awaiting_input);
  CHECK(run->question == "Which region?");
  CHECK(rt.run("ask-run")->status == RunStatus::awaiting_input);  // still waiting
  REQUIRE(rt.answer("ask-run", "west").ok());
  CHECK(rt.answer("ask-run", "east").error().code() == ErrorCode::invalid_argument);
  auto done = rt.run("ask-run");
  CHECK(done->status == RunStatus::completed);
  CHECK(*done->final_answer == json{{"region", "west"}});
}

TEST_CASE("observations reach the state, recorded with their source and confidence", "[runtime]") {
  Harness h;
  auto planner =
      std::make_shared<StaticPlanner>([](const PlanRequest& req) -> Result<PlanDecision> {
        return PlanDecision::finish({{"seen", req.state.observations.size()}});
      });
  auto rt = h.runtime(planner);
  REQUIRE(rt.start(RunRequest{"g", {}, nullptr, "obs"}).ok());
  REQUIRE(rt.observe("obs", Observation{"sensor", {{"temp", 21}}, 0.7, false, 0, 0}).ok());
  auto run = rt.run("obs");
  CHECK(*run->final_answer == json{{"seen", 1}});
  CHECK(run->observations[0].confidence == 0.7);
  CHECK(run->observations[0].source == "sensor");
}

TEST_CASE("observe and cancel need a run that exists, nothing carries over to a later run",
          "[runtime]") {
  Harness h;
  h.add(spec("x.y"), [](const json&, int) { return ok({{"v", 1}}); });
  auto rt = h.runtime(StaticPlanner::fixed({call("s", "x.y")}));
  const Observation seen{"user", "hello"};
  auto unknown = rt.observe("ghost", seen);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code() == ErrorCode::not_found);
  CHECK(unknown.error().message() == "no run 'ghost'");
  auto early_cancel = rt.cancel("ghost");
  REQUIRE_FALSE(early_cancel.ok());
  CHECK(early_cancel.error().code() == ErrorCode::not_found);
  // A run started later under that id is neither cancelled nor handed the observation.
  auto run = rt.run(RunRequest{"g", {}, nullptr, "ghost"});
  CHECK(run->status == RunStatus::completed);
  CHECK(run->observations.empty());
  auto ended = rt.observe("ghost", seen);
  REQUIRE_FALSE(ended.ok());
  CHECK(ended.error().code() == ErrorCode::invalid_argument);
  CHECK(ended.error().message() == "run 'ghost' has ended (completed): it takes no observations");
  CHECK(rt.cancel("ghost").ok());  // already ended: nothing to do
  CHECK(rt.state("ghost")->status == RunStatus::completed);
  // A run that exists and has not ended takes observations, and a cancel ends it.
  REQUIRE(rt.start(RunRequest{"g", {}, nullptr, "live"}).ok());
  CHECK(rt.observe("live", seen).ok());
  CHECK(rt.cancel("live").ok());
  CHECK(rt.state("live")->status == RunStatus::cancelled);
  CHECK(rt.runs_in_memory() == 0);
}

TEST_CASE("a long-lived runtime lets ended runs go, the store keeps what its retention says",
          "[runtime]") {
  auto tools = std::make_shared<ToolRegistry>();
  REQUIRE(tools->register_tool(spec("x.y"),
                               [](const json&, ToolContext&) {
                                 return ok({{"v", 1}});
                               })
              .ok());
  auto store = std::make_shared<MemoryRunStore>(MemoryRunStoreOptions{.max_ended_runs = 50});
  Runtime rt(
      AgentConfig{"a", tools, allow_all(), StaticPlanner::fixed({call("s", "x.y")}), nullptr},
      RuntimeOptions{.store = store});
  constexpr int kRuns = 2'000;
  for (int i = 0; i < kRuns; ++i) {
    auto run = rt.run(RunRequest{"g", {}, nullptr, "r-" + std::to_string(i)});
    REQUIRE(run->status == RunStatus::completed);
  }
  CHECK(rt.runs_in_memory() == 0);
  CHECK(store->list_runs()->size() == 50);
  CHECK(rt.state("r-0").error().code() == ErrorCode::not_found);
  CHECK(store->read_audit("r-0")->empty());
  const std::string last = "r-" + std::to_string(kRuns - 1);
  CHECK(rt.state(last)->status == RunStatus::completed);
  CHECK(verify_run_audit(*store, *rt.state(last)).ok);
  CHECK(store->read_audit("")->size() == 50 * store->read_audit(last)->size());
  // Runs that have not ended are kept whatever the retention.
  REQUIRE(rt.start(RunRequest{"g", {}, nullptr, "waiting"}).ok());
  for (int i = 0; i < 100; ++i)
    REQUIRE(rt.run(RunRequest{"g", {}, nullptr, "more-" + std::to_string(i)}).ok());
  CHECK(rt.state("waiting")->status == RunStatus::running);
  CHECK(store->list_runs()->size() == 51);

  // The default store keeps the last 1,000 ended runs.
  Runtime defaults(
      AgentConfig{"a", tools, allow_all(), StaticPlanner::fixed({call("s", "x.y")}), nullptr});
  for (int i = 0; i < 1'100; ++i)
    REQUIRE(defaults.run(RunRequest{"g", {}, nullptr, "d-" + std::to_string(i)}).ok());
  CHECK(defaults.store().list_runs()->size() == 1'000);
  CHECK(defaults.runs_in_memory() == 0);
}
