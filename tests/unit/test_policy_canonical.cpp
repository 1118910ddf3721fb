// path_under and url_in: constraints that compare canonical forms, each spelling bypass tried
// against them (and, for contrast, against a regex on the raw string).
#include <catch2/catch.hpp>

#include "rein/policy.hpp"

using nlohmann::json;
using rein::Decision;
using rein::PolicyEngine;

namespace {

const rein::Principal kAgent{"agent", {}};
const rein::Usage kNoUsage{};

PolicyEngine engine(const json& rules) {
  auto e = PolicyEngine::from_json({{"rules", rules}});
  INFO((e.ok() ? std::string() : e.error().message()));
  REQUIRE(e.ok());
  return *e;
}

std::string error_of(const json& constraint) {
  auto e = PolicyEngine::from_json(
      {{"rules", {{{"id", "r"}, {"decision", "allow"}, {"tool", "t"}, {"args", {constraint}}}}}});
  return e.ok() ? "(accepted)" : e.error().message();
}

Decision decide(const PolicyEngine& e, const std::string& tool, const json& args) {
  return e.decide(tool, args, kAgent, kNoUsage).decision;
}

}  // namespace

TEST_CASE("path_under: the path as the file system reads it, not as it is spelled", "[policy]") {
  const auto allow = engine(json::parse(R"([
    {"id": "files", "decision": "allow", "tool": "files.read",
     "args": [{"pointer": "/path", "path_under": "/data/allowed"}]},
    {"id": "raw", "decision": "allow", "tool": "files.read_raw",
     "args": [{"pointer": "/path", "regex": "/data/allowed/.*"}]}])"));
  auto read = [&](const std::string& path) {
    return decide(allow, "files.read", {{"path", path}});
  };
  CHECK(read("/data/allowed/report.csv") == Decision::allow);
  CHECK(read("/data/allowed") == Decision::allow);
  CHECK(read("/data/allowed/./report.csv") == Decision::allow);
  CHECK(read("//data//allowed//report.csv") == Decision::allow);
  CHECK(read("/data/allowed/sub/../report.csv") == Decision::allow);
  CHECK(read("/data/allowed/../secret") == Decision::deny);  // the regex lets this through
  CHECK(read("/data/allowed/../../etc/passwd") == Decision::deny);
  CHECK(read("/data/allowed2/report.csv") == Decision::deny);    // a prefix of the name only
  CHECK(read("data/allowed/report.csv") == Decision::deny);      // relative: unreadable
  CHECK(read("/../data/allowed/report.csv") == Decision::deny);  // climbs above the root
  CHECK(read(std::string("/data/allowed/a\0b", 17)) == Decision::deny);
  CHECK(decide(allow, "files.read", {{"path", 7}}) == Decision::deny);
  // The raw regex is spelled around.
  CHECK(decide(allow, "files.read_raw", {{"path", "/data/allowed/../secret"}}) == Decision::allow);

  // Under a deny rule, what cannot be read unambiguously counts as inside: fail closed.
  const auto guard = engine(json::parse(R"([
    {"id": "no-secrets", "decision": "deny", "tool": "files.read", "priority": 10,
     "args": [{"pointer": "/path", "path_under": "/secret"}]},
    {"id": "files", "decision": "allow", "tool": "files.read"}])"));
  auto guarded = [&](const std::string& path) {
    return guard.decide("files.read", {{"path", path}}, kAgent, kNoUsage).rule;
  };
  CHECK(guarded("/data/../secret/key") == "no-secrets");
  CHECK(guarded("/secret") == "no-secrets");
  CHECK(guarded("//secret/./key") == "no-secrets");
  CHECK(guarded("/../secret/key") == "no-secrets");
  CHECK(guarded("secret/key") == "no-secrets");
  CHECK(guarded("/secret/../data/x") == "files");
  CHECK(guarded("/secrets/x") == "files");
}

TEST_CASE("url_in: scheme, host, port and path compared in canonical form", "[policy]") {
  const auto e = engine(json::parse(R"([
    {"id": "api", "decision": "allow", "tool": "http.get",
     "args": [{"pointer": "/url", "url_in": {"schemes": ["https"], "hosts": ["api.example.com", "*.cdn.example.com"],
                                             "path_prefix": "/v1/"}}]}])"));
  auto get = [&](const std::string& url) { return decide(e, "http.get", {{"url", url}}); };
  CHECK(get("https://api.example.com/v1/items") == Decision::allow);
  CHECK(get("HTTPS://API.Example.COM/v1/items?q=1#top") == Decision::allow);
  CHECK(get("https://api.example.com./v1/items") == Decision::allow);
  CHECK(get("https://api.example.com:443/v1/items") == Decision::allow);
  CHECK(get("https://api.example.com/v1/%69tems") == Decision::allow);
  CHECK(get("https://img.cdn.example.com/v1/a.png") == Decision::allow);
  CHECK(get("https://cdn.example.com/v1/a.png") == Decision::deny);  // "*." needs a subdomain
  CHECK(get("https://api.example.com:8443/v1/items") == Decision::deny);
  CHECK(get("http://api.example.com/v1/items") == Decision::deny);
  CHECK(get("https://api.example.com/v10/items") == Decision::deny);
  CHECK(get("https://api.example.com/v1/../admin") == Decision::deny);
  CHECK(get("https://api.example.com/v1/%2e%2e/admin") == Decision::deny);
  CHECK(get("https://api.example.com/v1/%2E%2E/admin") == Decision::deny);
  CHECK(get("https://api.example.com/v1%2F..%2Fadmin") == Decision::deny);
  CHECK(get("https://api.example.com/v1/..;/admin") == Decision::deny);
  CHECK(get("https://api.example.com/v1//admin") == Decision::deny);
  CHECK(get("https://api.example.com@evil.com/v1/items") == Decision::deny);
  CHECK(get("https://api.example.com\\@evil.com/v1/items") == Decision::deny);
  CHECK(get("https://api.example.com.evil.com/v1/items") == Decision::deny);
  CHECK(get("https://evil.com/v1/x?next=https://api.example.com/v1/") == Decision::deny);
  CHECK(get("https://api.exam%70le.com/v1/items") == Decision::deny);
  CHECK(get("https://api.example.com/v1/it ems") == Decision::deny);
  CHECK(get("//api.example.com/v1/items") == Decision::deny);
  CHECK(get("https:/api.example.com/v1/items") == Decision::deny);
  CHECK(get("https://api.example.com:99999/v1/items") == Decision::deny);

  const auto ports = engine(json::parse(R"([
    {"id": "api", "decision": "allow", "tool": "http.get",
     "args": [{"pointer": "/url", "url_in": {"schemes": ["http", "https"], "hosts": ["localhost"], "ports": [8080]}}]}])"));
  CHECK(decide(ports, "http.get", {{"url", "http://LOCALHOST:8080/anything"}}) == Decision::allow);
  CHECK(decide(ports, "http.get", {{"url", "http://localhost/anything"}}) == Decision::deny);

  // A deny rule reads unclear URLs as matching.
  const auto guard = engine(json::parse(R"([
    {"id": "no-evil", "decision": "deny", "tool": "http.get", "priority": 10,
     "args": [{"pointer": "/url", "url_in": {"schemes": ["http", "https"], "hosts": ["evil.com", "*.evil.com"]}}]},
    {"id": "web", "decision": "allow", "tool": "http.get"}])"));
  auto rule = [&](const std::string& url) {
    return guard.decide("http.get", {{"url", url}}, kAgent, kNoUsage).rule;
  };
  CHECK(rule("https://EVIL.com/x") == "no-evil");
  CHECK(rule("https://a.evil.com./x") == "no-evil");
  CHECK(rule("https://good.com@evil.com/x") == "no-evil");  // unreadable: fail closed
  CHECK(rule("https://good.com/x") == "web");
}

TEST_CASE("path_under and url_in: malformed policy fields are named", "[policy]") {
  CHECK(error_of({{"pointer", "/p"}, {"path_under", "data"}}) ==
        "policy: rules[0] (id 'r'): args[0]: field 'path_under' must be an absolute path that "
        "stays under the root: 'data'");
  CHECK(error_of({{"pointer", "/p"}, {"path_under", "/../x"}}).find("stays under the root") !=
        std::string::npos);
  CHECK(error_of({{"pointer", "/p"}, {"path_under", 3}})
            .find("field 'path_under' must be a string") != std::string::npos);
  CHECK(error_of({{"pointer", "/u"}, {"url_in", "https://x"}}).find("must be an object") !=
        std::string::npos);
  CHECK(error_of({{"pointer", "/u"}, {"url_in", {{"schemes", {"https"}}}}})
            .find("'url_in.hosts' must be an array") != std::string::npos);
  CHECK(
      error_of(
          {{"pointer", "/u"}, {"url_in", {{"schemes", json::array()}, {"hosts", {"a.com"}}}}}) ==
      "policy: rules[0] (id 'r'): args[0]: field 'url_in' needs at least one scheme in 'schemes'");
  CHECK(error_of({{"pointer", "/u"}, {"url_in", {{"schemes", {"HTTPS"}}, {"hosts", {"a.com"}}}}})
            .find("not a lower-case URL scheme: 'HTTPS'") != std::string::npos);
  CHECK(error_of({{"pointer", "/u"}, {"url_in", {{"schemes", {"https"}}, {"hosts", {"A.com"}}}}})
            .find("'A.com'") != std::string::npos);
  CHECK(error_of({{"pointer", "/u"}, {"url_in", {{"schemes", {"https"}}, {"hosts", {"a.*.com"}}}}})
            .find("'a.*.com'") != std::string::npos);
  CHECK(error_of({{"pointer", "/u"},
                  {"url_in", {{"schemes", {"https"}}, {"hosts", {"a.com"}}, {"ports", {0}}}}})
            .find("outside 1-65535") != std::string::npos);
  CHECK(
      error_of({{"pointer", "/u"},
                {"url_in", {{"schemes", {"https"}}, {"hosts", {"a.com"}}, {"path_prefix", "v1/"}}}})
          .find("'path_prefix' that is not a canonical absolute path: 'v1/'") != std::string::npos);
  CHECK(error_of({{"pointer", "/u"},
                  {"url_in",
                   {{"schemes", {"https"}}, {"hosts", {"a.com"}}, {"path_prefix", "/v1/../x"}}}})
            .find("not a canonical absolute path") != std::string::npos);
  CHECK(error_of({{"pointer", "/u"},
                  {"url_in", {{"schemes", {"https"}}, {"hosts", {"a.com"}}, {"extra", 1}}}})
            .find("unknown field 'extra'") != std::string::npos);
  // They round-trip through to_json.
  const json policy =
      json::parse(R"({"rules": [{"id": "r", "decision": "allow", "tool": "t", "args": [
      {"pointer": "/p", "path_under": "/data"},
      {"pointer": "/u", "url_in": {"schemes": ["https"], "hosts": ["a.com"], "ports": [8443], "path_prefix": "/v1/"}}]}]})");
  auto e = PolicyEngine::from_json(policy);
  REQUIRE(e.ok());
  auto again = PolicyEngine::from_json(e->to_json());
  REQUIRE(again.ok());
  CHECK(again->to_json() == e->to_json());
  CHECK(again->spec().rules[0].args[1].urls.ports == std::vector<int>{8443});
}
