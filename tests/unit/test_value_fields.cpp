// Every value type hashed into the audit has one field list (core/value_fields.hpp). Its text
// form must be exactly nlohmann's canonical dump — keys sorted — or a chain read back from a
// JSONL file (which re-canonicalizes payloads) would stop verifying. These fail when a key is
// written out of order, in any form.
#include <catch2/catch.hpp>

#include "core/value_fields.hpp"

using namespace rein;
using nlohmann::json;

namespace {

ToolResult full_result() {
  ToolResult r;
  r.status = ToolStatus::timeout;
  r.data = {{"z", {1, 2.5, nullptr}}, {"a", "caf\xc3\xa9"}, {"m", {{"q", "\"quoted\""}}}};
  r.errors = {"first", "tab\there"};
  r.evidence = {{"source", "crm://A100", "an excerpt"}, {"document", "doc://y", ""}};
  r.idempotency_key = "key-1";
  r.tool_version = "v2";
  r.duration = std::chrono::microseconds(1234);
  r.attempts = 3;
  r.transient = true;
  r.replayed = true;
  return r;
}

// The canonical text of `value` is its canonical dump, and the tree form is the same document.
template <typename T>
std::string check_forms(const T& value) {
  const std::string text = detail::canonical_text(value);
  INFO(text);
  CHECK(text == json::parse(text).dump());
  CHECK(detail::canonical_json(value).dump() == text);
  return text;
}

}  // namespace

TEST_CASE("audited values are written in canonical form, every optional field set", "[audit]") {
  const ToolResult r = full_result();
  const std::string result = check_forms(r);
  CHECK(r.to_json() == json::parse(result));
  auto back = ToolResult::from_json(r.to_json());
  REQUIRE(back.ok());
  CHECK(*back == r);  // every field is in the list

  for (const Evidence& e : r.evidence)
    check_forms(e);
  CHECK(check_forms(r.evidence[0]) ==
        R"({"excerpt":"an excerpt","type":"source","uri":"crm://A100"})");

  const Verdict v{VerdictKind::replan, {"one", "two"}};
  CHECK(v.to_json() == json::parse(check_forms(v)));

  const PolicyDecision d{Decision::require_approval, "rule-1", "needs a person", true};
  CHECK(
      check_forms(d) ==
      R"({"budget_exhausted":true,"decision":"require_approval","reason":"needs a person","rule":"rule-1"})");
  CHECK(d.to_json() == json::parse(detail::canonical_text(d, detail::kAuditDecisionOmits)));

  const Observation o{"webhook", {{"b", 1}, {"a", {true, "x"}}}, 0.25, true, 7, 1'700'000'000'123};
  check_forms(o);
}

TEST_CASE("the audit's partial and merged forms are canonical too", "[audit]") {
  const ToolResult r = full_result();
  const PolicyDecision d{Decision::allow, "crm", "rule 'crm' allows the call", false};
  const std::string decision = detail::canonical_text(d, detail::kAuditDecisionOmits);
  CHECK(decision == R"({"decision":"allow","reason":"rule 'crm' allows the call","rule":"crm"})");

  // A tool_call entry: the result's fields with the call's merged in among them.
  const std::string step = detail::json_string("s\"1");
  const std::string tool = detail::json_string("crm.lookup");
  const std::string verdict = detail::canonical_text(Verdict::retry("again"));
  const detail::RawField call[] = {{"decision", decision},
                                   {"executed", "true"},
                                   {"step", step},
                                   {"tool", tool},
                                   {"verdict", verdict}};
  const std::string tool_call = detail::canonical_text(r, detail::kToolCallResultOmits, call);
  INFO(tool_call);
  CHECK(tool_call == json::parse(tool_call).dump());
  const json parsed = json::parse(tool_call);
  CHECK(parsed["decision"] == json::parse(decision));
  CHECK(parsed["step"] == "s\"1");
  CHECK_FALSE(parsed.contains("tool_version"));
  CHECK_FALSE(parsed.contains("transient"));
  CHECK(parsed["attempts"] == 3);

  const Observation o{"webhook", {{"said", "hi"}}, 0.5, false, 2, 99};
  const std::string observation = detail::canonical_text(o, detail::kAuditObservationOmits);
  CHECK(observation ==
        R"({"confidence":0.5,"content":{"said":"hi"},"source":"webhook","trusted":false})");
}

TEST_CASE("a field list out of order is caught", "[audit]") {
  struct Swapped {
    int a = 1;
    int b = 2;
  };
  // A list that writes "b" before "a", as a careless edit of value_fields.hpp might.
  auto swapped = [](auto& f, const Swapped& s) {
    f.integer("b", s.b);
    f.integer("a", s.a);
  };
  detail::JsonObjectWriter text;
  CHECK_THROWS_WITH(swapped(text, Swapped{}), Catch::Contains("'a' written after 'b'"));
  detail::JsonTreeWriter tree;
  CHECK_THROWS_WITH(swapped(tree, Swapped{}), Catch::Contains("'a' written after 'b'"));
}
