// What a host meets first: Runtime::create's checks, react_agent, step(), moving a Runtime.
#include <catch2/catch.hpp>

#include "rein/rein.hpp"

using namespace rein;
using nlohmann::json;

namespace {

PolicyEngine allow_all() {
  auto policy = PolicyEngine::from_json(
      json::parse(R"({"rules": [{"id": "all", "decision": "allow", "tool_glob": "*"}]})"));
  REQUIRE(policy);
  return *policy;
}

std::shared_ptr<ToolRegistry> echo_tools() {
  auto tools = std::make_shared<ToolRegistry>();
  ToolSpec spec{.name = "text.echo",
                .description = "Echoes its text",
                .input_schema = {{"type", "object"}, {"required", {"text"}}}};
  REQUIRE(tools->register_tool(spec, [](const json& args, ToolContext&) {
    return ToolResult::success({{"echo", args["text"]}}, {Evidence::source("echo://")});
  }));
  return tools;
}

// A model that calls text.echo once, then answers with what it got back.
ScriptedLlm echo_model() {
  return ScriptedLlm({
      LlmResponse{
          .tool_calls = {{.id = "c1", .name = "text__echo", .arguments = {{"text", "hi"}}}}},
      LlmResponse{.content = R"({"said": "hi"})"},
  });
}

RunRequest request(std::string id = {}) {
  return {.goal = "echo hi", .principal = {.id = "ann", .roles = {}}, .run_id = std::move(id)};
}

}  // namespace

TEST_CASE("Runtime::create refuses an incomplete agent at once, naming the field",
          "[runtime][surface]") {
  auto model = echo_model();
  auto planner = std::make_shared<ReactPlanner>();

  SECTION("no tool registry") {
    auto rt =
        Runtime::create(AgentConfig{.name = "a", .planner = planner, .llm = model.callback()});
    REQUIRE_FALSE(rt);
    CHECK(rt.error().code() == ErrorCode::invalid_argument);
    CHECK(rt.error().message() == "agent 'a': AgentConfig::tools is null (no tool registry)");
  }
  SECTION("no planner") {
    auto rt = Runtime::create(AgentConfig{.name = "b", .tools = echo_tools()});
    REQUIRE_FALSE(rt);
    CHECK(rt.error().message() == "agent 'b': AgentConfig::planner is null");
  }
  SECTION("a planner that asks a model, and no model") {
    auto rt =
        Runtime::create(react_agent({.name = "c", .tools = echo_tools(), .policy = allow_all()}));
    REQUIRE_FALSE(rt);
    CHECK(rt.error().message() ==
          "agent 'c': its planner asks a model, and AgentConfig::llm and llm_async are both empty");
  }
  SECTION("a fixed planner needs no model") {
    auto rt =
        Runtime::create(AgentConfig{.tools = echo_tools(), .planner = StaticPlanner::fixed({})});
    CHECK(rt);
  }
  SECTION("a critic rule with a malformed JSON pointer") {
    auto critic = std::make_shared<RuleCritic>();
    critic->require_fields("text.*", {"/echo", "echo"}).require_output_range("/x~2", 0, 1);
    auto agent = react_agent({.name = "d", .tools = echo_tools(), .model = model.callback()});
    agent.critic = critic;
    auto rt = Runtime::create(std::move(agent));
    REQUIRE_FALSE(rt);
    CHECK(rt.error().message() ==
          "agent 'd': AgentConfig::critic: RuleCritic: require_fields(\"text.*\"): 'echo' is not a "
          "JSON "
          "pointer (RFC 6901); require_output_range: '/x~2' is not a JSON pointer (RFC 6901)");
  }
  SECTION("options out of range") {
    auto rt = Runtime::create(react_agent({.tools = echo_tools(), .model = model.callback()}),
                              {.max_parallel_calls = 0});
    REQUIRE_FALSE(rt);
    CHECK(rt.error().message() == "RuntimeOptions::max_parallel_calls must be at least 1");
    auto replans = Runtime::create(react_agent({.tools = echo_tools(), .model = model.callback()}),
                                   {.max_replans = -1});
    REQUIRE_FALSE(replans);
    CHECK(replans.error().message() == "RuntimeOptions::max_replans must not be negative");
  }
  SECTION("the unchecked constructor refuses every run with the same error") {
    Runtime rt(AgentConfig{.name = "e", .planner = planner, .llm = model.callback()});
    auto started = rt.start(request());
    REQUIRE_FALSE(started);
    CHECK(started.error().message() == "agent 'e': AgentConfig::tools is null (no tool registry)");
    CHECK(rt.runs_in_memory() == 0);
  }
}

TEST_CASE("a RuleCritic with valid pointers validates", "[critic][surface]") {
  RuleCritic critic;
  critic.require_fields("*", {"", "/a/0", "/a~1b"})
      .require_fresh("*", "/t", std::chrono::seconds(1));
  CHECK(critic.validate());
}

TEST_CASE("react_agent runs a model that calls tools, through Runtime::create",
          "[runtime][surface]") {
  auto model = echo_model();
  auto rt = Runtime::create(react_agent(
      {.name = "echoer", .tools = echo_tools(), .policy = allow_all(), .model = model.callback()}));
  REQUIRE(rt);
  CHECK(rt->agent().name == "echoer");
  auto run = rt->run(request());
  REQUIRE(run);
  CHECK(run->status == RunStatus::completed);
  CHECK(run->final_answer == json{{"said", "hi"}});
  CHECK(run->outputs["c1"] == json{{"echo", "hi"}});
  CHECK(model.remaining() == 0);
  // The model saw the tool under its wire name.
  REQUIRE_FALSE(model.requests().empty());
  CHECK(model.requests()[0].tools.dump().find("text__echo") != std::string::npos);
}

TEST_CASE("step() takes one loop step and returns the status it leaves", "[runtime][surface]") {
  auto model = echo_model();
  auto rt = Runtime::create(
      react_agent({.tools = echo_tools(), .policy = allow_all(), .model = model.callback()}));
  REQUIRE(rt);
  auto started = rt->start(request("stepped"));
  REQUIRE(started);
  CHECK(started->step_index == 0);

  std::vector<RunStatus> statuses;
  for (int i = 0; i < 10; ++i) {
    auto status = rt->step("stepped");
    REQUIRE(status);
    statuses.push_back(*status);
    if (is_terminal(*status)) break;
  }
  // The model's call, then its answer (verified at once).
  CHECK(statuses == std::vector<RunStatus>{RunStatus::running, RunStatus::completed});
  auto state = rt->state("stepped");
  REQUIRE(state);
  CHECK(state->step_index == 2);
  CHECK(state->final_answer == json{{"said", "hi"}});

  // An ended run is left as it is.
  auto again = rt->step("stepped");
  REQUIRE(again);
  CHECK(*again == RunStatus::completed);
  CHECK(rt->state("stepped")->step_index == 2);

  auto missing = rt->step("no-such-run");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == ErrorCode::not_found);
}

TEST_CASE("a moved Runtime keeps its runs", "[runtime][surface]") {
  auto model = echo_model();
  auto created = Runtime::create(
      react_agent({.tools = echo_tools(), .policy = allow_all(), .model = model.callback()}));
  REQUIRE(created);
  Runtime rt = std::move(*created);
  REQUIRE(rt.start(request("kept")));
  Runtime moved = std::move(rt);
  auto run = moved.run("kept");
  REQUIRE(run);
  CHECK(run->status == RunStatus::completed);
}
