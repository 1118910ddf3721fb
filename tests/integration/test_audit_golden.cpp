// The exact bytes hashed into the audit: a deterministic run whose every entry's payload and
// hash are pinned. A change to how any audited value is serialized shows up here as a changed
// payload (and a changed hash), so existing chains keep verifying.
#include <catch2/catch.hpp>

#include "runtime_fixture.hpp"

using namespace rein;
using namespace rein::testing;

namespace {

PolicyEngine crm_only() {
  PolicySpec p;
  PolicyRule allow;
  allow.id = "crm";
  allow.decision = Decision::allow;
  allow.tool = ToolMatch::glob("crm.*");
  p.rules.push_back(allow);
  PolicyRule deny;
  deny.id = "no-mail";
  deny.description = "mail needs a person";
  deny.decision = Decision::deny;
  deny.tool = ToolMatch::exact("mail.send");
  p.rules.push_back(deny);
  return *PolicyEngine::create(p);
}

}  // namespace

TEST_CASE("the audit of a fixed run is byte for byte what it always was", "[audit][golden]") {
  ManualEnv env;
  auto tools = std::make_shared<ToolRegistry>(ToolRegistryOptions{.env = &env});
  REQUIRE(tools
              ->register_tool(
                  spec("crm.lookup"),
                  [](const json&, ToolContext&) {
                    return ToolResult::success(
                        {{"account", "A100"}, {"mrr", 1.5}, {"note", "caf\xc3\xa9 \"q\""}},
                        {{"source", "crm://A100", "MRR \"1.5\""}, {"document", "doc://x", ""}});
                  })
              .ok());
  REQUIRE(tools
              ->register_tool(spec("crm.broken"),
                              [](const json&, ToolContext&) {
                                return ToolResult::failure("backend said\tno", false);
                              })
              .ok());
  REQUIRE(tools
              ->register_tool(spec("mail.send"),
                              [](const json&, ToolContext&) { return ToolResult::success({}); })
              .ok());
  auto critic = std::make_shared<RuleCritic>();
  critic->require_fields("crm.lookup", {"/mrr"});
  auto planner = StaticPlanner::fixed({call("look", "crm.lookup", {{"account_id", "A100"}}),
                                       call("broken", "crm.broken", {{"why", "b"}}, {"look"}),
                                       call("mail", "mail.send", {{"to", "x@example.com"}})});
  Runtime rt(AgentConfig{"golden", tools, crm_only(), planner, critic},
             RuntimeOptions{.env = &env});
  REQUIRE(
      rt.start(RunRequest{"pin the bytes", {"riley", {"analyst"}}, {{"k", 1}}, "run-golden"}).ok());
  REQUIRE(
      rt.observe("run-golden", Observation{"webhook", {{"said", "hi\n"}}, 0.25, false, 0, 0}).ok());
  auto run = rt.run("run-golden");
  REQUIRE(run.ok());
  auto entries = rt.store().read_audit("run-golden");
  REQUIRE(entries.ok());
  CHECK(verify_run_audit(rt.store(), *run).ok);

  std::vector<std::string> got;
  for (const auto& e : *entries)
    got.push_back(e.kind + " " + std::to_string(e.step) + " " + e.payload);
  const std::vector<std::string> expected = {
      R"(run 0 {"agent":"golden","goal":"pin the bytes","principal":"riley","roles":["analyst"]})",
      R"(observation 0 {"confidence":0.25,"content":{"said":"hi\n"},"source":"webhook","trusted":false})",
      R"(plan 0 {"replan":false,"round":1,"steps":[{"args":{"account_id":"A100"},"depends_on":[],"id":"look","tool":"crm.lookup","why":""},{"args":{"why":"b"},"depends_on":["look"],"id":"broken","tool":"crm.broken","why":""},{"args":{"to":"x@example.com"},"depends_on":[],"id":"mail","tool":"mail.send","why":""}]})",
      R"(decision 0 {"decision":"deny","reason":"rule 'no-mail' denies the call: mail needs a person","rule":"no-mail","step":"mail","tool":"mail.send"})",
      R"(tool_call 0 {"attempts":1,"data":{"account":"A100","mrr":1.5,"note":"café \"q\""},"decision":{"decision":"allow","reason":"rule 'crm' allows the call","rule":"crm"},"duration_us":0,"errors":[],"evidence":[{"excerpt":"MRR \"1.5\"","type":"source","uri":"crm://A100"},{"type":"document","uri":"doc://x"}],"executed":true,"idempotency_key":"","replayed":false,"status":"ok","step":"look","tool":"crm.lookup","verdict":{"kind":"accept","reasons":[]}})",
      R"(tool_call 1 {"attempts":1,"data":null,"decision":{"decision":"allow","reason":"rule 'crm' allows the call","rule":"crm"},"duration_us":0,"errors":["backend said\tno"],"evidence":[],"executed":true,"idempotency_key":"","replayed":false,"status":"error","step":"broken","tool":"crm.broken","verdict":{"kind":"needs_review","reasons":["tool error: backend said\tno"]}})",
      R"(answer 2 {"answer":{"look":{"account":"A100","mrr":1.5,"note":"café \"q\""}},"verdict":{"kind":"accept","reasons":[]}})",
      R"(status 2 {"partial":false,"reason":"final answer verified; 2 item(s) need review","status":"needs_review"})",
  };
  CHECK(got == expected);
  CHECK(entries->back().hash == "00ec2103ebc00473622743b3d5110ee08666f77bac9c04ef72eb54b32bac5246");
}

TEST_CASE("the public JSON of audited values is what it always was", "[audit][golden]") {
  ToolResult r;
  r.status = ToolStatus::error;
  r.data = {{"b", {1, 2.5, nullptr}}, {"a", "x"}};
  r.errors = {"first", "second \"quoted\""};
  r.evidence = {{"source", "crm://A100", "an excerpt"}, {"document", "doc://y", ""}};
  r.idempotency_key = "key-1";
  r.tool_version = "v2";
  r.duration = std::chrono::microseconds(1234);
  r.attempts = 3;
  r.transient = true;
  r.replayed = true;
  CHECK(
      r.to_json().dump() ==
      R"({"attempts":3,"data":{"a":"x","b":[1,2.5,null]},"duration_us":1234,"errors":["first","second \"quoted\""],"evidence":[{"excerpt":"an excerpt","type":"source","uri":"crm://A100"},{"type":"document","uri":"doc://y"}],"idempotency_key":"key-1","replayed":true,"status":"error","tool_version":"v2","transient":true})");
  const Verdict v{VerdictKind::needs_review, {"one", "two"}};
  CHECK(v.to_json().dump() == R"({"kind":"needs_review","reasons":["one","two"]})");
  const PolicyDecision d{Decision::require_approval, "rule-1", "needs a person", true};
  CHECK(d.to_json().dump() ==
        R"({"decision":"require_approval","reason":"needs a person","rule":"rule-1"})");

  AgentState s;
  s.run_id = "r";
  StepState st;
  st.step = call("s1", "crm.lookup", {{"id", 1}});
  st.decision = d;
  st.result = r;
  st.verdict = v;
  s.steps.push_back(st);
  CHECK(
      json::parse(s.to_json_text())["steps"].dump() ==
      R"([{"approval":null,"attempts":0,"decision":{"budget_exhausted":true,"decision":"require_approval","reason":"needs a person","rule":"rule-1"},"idempotency_key":"","result":{"attempts":3,"data":{"a":"x","b":[1,2.5,null]},"duration_us":1234,"errors":["first","second \"quoted\""],"evidence":[{"excerpt":"an excerpt","type":"source","uri":"crm://A100"},{"type":"document","uri":"doc://y"}],"idempotency_key":"key-1","replayed":true,"status":"error","tool_version":"v2","transient":true},"retries":0,"round":0,"status":"pending","step":{"args":{"id":1},"depends_on":[],"id":"s1","tool":"crm.lookup","why":""},"verdict":{"kind":"needs_review","reasons":["one","two"]}}])");
}
