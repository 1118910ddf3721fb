// Label conditions in policies: the syntax and its errors, decisions on where arguments came
// from, the flow named in reasons, and explain().
#include <catch2/catch.hpp>

#include "rein/policy.hpp"

using namespace rein;
using nlohmann::json;

namespace {

const json kPolicy = json::parse(R"json({
  "version": 1,
  "levels": ["public", "internal", "secret"],
  "rules": [
    {"id": "send-to-trusted", "decision": "allow", "tool": "email.send",
     "description": "mail to addresses from the user",
     "args": [{"pointer": "/to", "integrity": "trusted"},
              {"pointer": "/body", "level_at_most": "internal"}]},
    {"id": "send-untrusted-needs-approval", "decision": "require_approval", "tool": "email.send",
     "args": [{"pointer": "/to", "integrity": "untrusted"},
              {"pointer": "/body", "level_at_most": "internal"}]},
    {"id": "no-secret-mail", "decision": "deny", "tool": "email.send", "priority": 5,
     "args": [{"pointer": "", "level_above": "internal"}]},
    {"id": "pay-trusted", "decision": "allow", "tool": "payments.send",
     "args": [{"pointer": "/iban", "integrity": "trusted"},
              {"pointer": "/amount", "range": {"max": 1000}}]},
    {"id": "archive", "decision": "allow", "tool": "files.archive"}
  ]
})json");

PolicyEngine engine() {
  auto e = PolicyEngine::from_json(kPolicy);
  REQUIRE(e.ok());
  return *e;
}

std::string error_of(json policy) {
  auto r = PolicyEngine::from_json(policy);
  return r.ok() ? "(accepted)" : r.error().message();
}

json with_rule(json rule) {
  json p = {{"version", 1}, {"levels", {"public", "secret"}}, {"rules", json::array({rule})}};
  return p;
}

const Principal kUser{"u", {}};
const Usage kNoUsage{};

}  // namespace

TEST_CASE("label conditions decide on where an argument came from", "[policy][labels]") {
  const PolicyEngine e = engine();
  const json mail = {{"to", "bob@corp.example"}, {"body", "hello"}};

  // Without labels every argument is trusted and public.
  CHECK(e.decide("email.send", mail, kUser, kNoUsage).rule == "send-to-trusted");

  ValueLabels from_page;
  from_page.add("/to", Label::untrusted("tool:web.fetch"));
  auto d = e.decide("email.send", mail, from_page, kUser, kNoUsage);
  CHECK(d.decision == Decision::require_approval);
  CHECK(d.rule == "send-untrusted-needs-approval");
  // The reason names the flow the rule looked at, and the allow rule that failed on it.
  CHECK(d.reason ==
        "rule 'send-untrusted-needs-approval' requires approval; flow: /to is untrusted, public, "
        "from tool:web.fetch; /body is trusted, public");

  // Untrusted content elsewhere does not taint /to.
  ValueLabels body_only;
  body_only.add("/body", Label::untrusted("tool:email.read"));
  CHECK(e.decide("email.send", mail, body_only, kUser, kNoUsage).rule == "send-to-trusted");

  // A level inside any part of the arguments reaches the deny rule on "" (the whole).
  ValueLabels secret;
  secret.add("/body/attachment", Label::at_level("secret", "tool:files.read"));
  d = e.decide("email.send", mail, secret, kUser, kNoUsage);
  CHECK(d.decision == Decision::deny);
  CHECK(d.rule == "no-secret-mail");
  CHECK(d.reason ==
        "rule 'no-secret-mail' denies the call; flow: the arguments are trusted, "
        "secret, from tool:files.read");

  // internal is at most internal; a level the policy does not know ranks above all.
  ValueLabels internal;
  internal.add("/body", Label::at_level("internal", "tool:crm.get"));
  CHECK(e.decide("email.send", mail, internal, kUser, kNoUsage).rule == "send-to-trusted");
  ValueLabels unknown_level;
  unknown_level.add("/body", Label::at_level("top-secret", "tool:vault.get"));
  CHECK(e.decide("email.send", mail, unknown_level, kUser, kNoUsage).rule == "no-secret-mail");
}

TEST_CASE("a default denial names the label condition that kept an allow rule out",
          "[policy][labels]") {
  const PolicyEngine e = engine();
  ValueLabels attacker_iban;
  attacker_iban.add("/iban", Label::untrusted("tool:email.read"));
  const json payment = {{"iban", "XX00 ATTACKER"}, {"amount", 100}};
  auto d = e.decide("payments.send", payment, attacker_iban, kUser, kNoUsage);
  CHECK(d.decision == Decision::deny);
  CHECK(d.rule == "default_deny");
  CHECK(d.reason ==
        "no rule matches tool 'payments.send' for principal 'u' with roles []: denied by default; "
        "rule 'pay-trusted' would allow the call, but argument /iban must derive from trusted "
        "content only; it is untrusted, public, from tool:email.read");
  // A rule that also fails on a value says nothing about labels: it would not have allowed.
  const json big = {{"iban", "XX00 ATTACKER"}, {"amount", 5000}};
  d = e.decide("payments.send", big, attacker_iban, kUser, kNoUsage);
  CHECK(d.reason ==
        "no rule matches tool 'payments.send' for principal 'u' with roles []: "
        "denied by default");
  // Trusted, the payment goes through.
  CHECK(e.decide("payments.send", payment, ValueLabels{}, kUser, kNoUsage).allowed());
}

TEST_CASE("explain lists every rule for the tool with why it did or did not match",
          "[policy][labels]") {
  const PolicyEngine e = engine();
  ValueLabels from_page;
  from_page.add("/to", Label::untrusted("tool:web.fetch"));
  const json lines =
      e.explain("email.send", {{"to", "x@evil.example"}, {"body", "hi"}}, from_page, kUser);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == json{{"rule", "no-secret-mail"},
                         {"decision", "deny"},
                         {"matched", false},
                         {"failed",
                          "the arguments would have to hold data above level "
                          "'internal'; they are untrusted, public, from tool:web.fetch"}});
  // At equal priority an approval rule comes before an allow rule.
  CHECK(lines[1] == json{{"rule", "send-untrusted-needs-approval"},
                         {"decision", "require_approval"},
                         {"matched", true},
                         {"decides", true}});
  CHECK(lines[2]["rule"] == "send-to-trusted");
  CHECK(lines[2]["failed"] ==
        "argument /to must derive from trusted content only; it is "
        "untrusted, public, from tool:web.fetch");
  const json pay = e.explain("payments.send", {{"iban", "X"}, {"amount", 5000}}, {}, kUser);
  REQUIRE(pay.size() == 1);
  CHECK(pay[0]["failed"] ==
        "argument /amount fails {\"pointer\":\"/amount\",\"range\":{\"max\":1000.0}}");
  CHECK(e.explain("nothing.here", json::object(), {}, kUser).empty());
}

TEST_CASE("label conditions in policy files are checked and round-trip", "[policy][labels]") {
  auto e = PolicyEngine::from_json(kPolicy);
  REQUIRE(e.ok());
  const json out = e->to_json();
  CHECK(out["levels"] == json{"public", "internal", "secret"});
  CHECK(out["rules"][0]["args"][0] == json{{"pointer", "/to"}, {"integrity", "trusted"}});
  CHECK(out["rules"][0]["args"][1] == json{{"pointer", "/body"}, {"level_at_most", "internal"}});
  auto again = PolicyEngine::from_json(out);
  REQUIRE(again.ok());
  CHECK(again->to_json() == out);

  const json rule = {{"id", "r"}, {"decision", "allow"}, {"tool", "t"}};
  auto with_arg = [&](json arg) {
    json r = rule;
    r["args"] = json::array({std::move(arg)});
    return with_rule(r);
  };
  CHECK(error_of(with_arg({{"pointer", "/to"}, {"integrity", "maybe"}})) ==
        "policy: rules[0] (id 'r').args[0]: field 'integrity' must be \"trusted\" or "
        "\"untrusted\"");
  CHECK(error_of(with_arg({{"pointer", "/to"}, {"integrity", "trusted"}, {"equals", 1}}))
            .find("needs exactly one of") != std::string::npos);
  CHECK(error_of(with_arg({{"pointer", "/to"}, {"level_at_most", ""}})) ==
        "policy: rules[0] (id 'r').args[0]: field 'level_at_most' must name a level");
  CHECK(error_of(with_arg({{"pointer", "/to"}, {"level_above", 3}})) ==
        "policy: rules[0] (id 'r').args[0]: field 'level_above' must be a string");
  CHECK(error_of(with_arg({{"pointer", "/to"}, {"level_at_most", "internal"}})) ==
        "policy: rules[0] (id 'r'): args[0]: field 'level_at_most' names level 'internal', which "
        "the policy's 'levels' does not list [public, secret]");
  json no_levels = with_arg({{"pointer", "/to"}, {"level_above", "secret"}});
  no_levels.erase("levels");
  CHECK(error_of(no_levels) ==
        "policy: rules[0] (id 'r'): args[0]: field 'level_above' names level 'secret', which the "
        "policy's 'levels' does not declare (it has none)");
  CHECK(error_of(with_arg({{"pointer", "to"}, {"integrity", "trusted"}})) ==
        "policy: rules[0] (id 'r'): args[0]: field 'pointer' is not a JSON pointer: 'to'");
  json repeated = with_rule(rule);
  repeated["levels"] = {"public", "secret", "public"};
  CHECK(error_of(repeated) == "policy: levels[2] repeats 'public'");
  repeated["levels"] = "public";
  CHECK(error_of(repeated) == "policy: levels: must be an array of level names, lowest first");
}
