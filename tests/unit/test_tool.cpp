#include <catch2/catch.hpp>

#include "rein/tool.hpp"

using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE("ToolResult round-trips through JSON exactly", "[tool]") {
  rein::ToolResult r = rein::ToolResult::success(
      {{"current_mrr", 12345}, {"series", {1, 2, 3}}},
      {{"source", "billing://mrr/A100", ""}, {"document", "doc://x", "an excerpt"}});
  r.idempotency_key = "A100-qbr";
  r.tool_version = "v2";
  r.duration = 1234us;
  r.attempts = 2;
  r.replayed = true;
  auto back = rein::ToolResult::from_json(r.to_json());
  REQUIRE(back.ok());
  CHECK(*back == r);
  CHECK_FALSE(r.to_json().contains("spent"));  // left out when nothing was spent

  r.spent = {3, 4, 1200, 0.25};  // a child run's usage
  auto spent_back = rein::ToolResult::from_json(r.to_json());
  REQUIRE(spent_back.ok());
  CHECK(spent_back->spent == r.spent);
  CHECK(r.to_json()["spent"] ==
        json{{"steps", 3}, {"tool_calls", 4}, {"tokens", 1200}, {"cost", 0.25}});

  auto failed = rein::ToolResult::failure("simulated timeout", true);
  failed.status = rein::ToolStatus::timeout;
  auto failed_back = rein::ToolResult::from_json(failed.to_json());
  REQUIRE(failed_back.ok());
  CHECK(*failed_back == failed);
  CHECK(failed.to_json()["status"] == "timeout");
}

TEST_CASE("ToolResult::from_json names the bad field", "[tool]") {
  CHECK(rein::ToolResult::from_json(json::array()).error().message() ==
        "tool result: not an object");
  CHECK(rein::ToolResult::from_json({{"status", "great"}}).error().message() ==
        "tool result: field 'status' is not a known status");
  CHECK(rein::ToolResult::from_json({{"status", "ok"}, {"errors", "x"}}).error().message() ==
        "tool result: field 'errors' must be an array of strings");
  CHECK(rein::ToolResult::from_json({{"status", "ok"}, {"attempts", "2"}}).error().message() ==
        "tool result: field 'attempts' must be an integer");
  CHECK(rein::ToolResult::from_json({{"status", "ok"}, {"spent", {{"tokens", "many"}}}})
            .error()
            .message() == "tool result.spent: field 'tokens' must be an integer");
  CHECK(rein::ToolResult::from_json({{"status", "ok"}, {"evidence", {{{"type", "x"}}}}})
            .error()
            .message() == "tool result: field 'evidence' items need a string 'uri'");
}

TEST_CASE("ToolResult::from_json tolerates optional evidence fields of the wrong type", "[tool]") {
  json j = {{"status", "ok"},
            {"evidence", {{{"uri", "x://1"}, {"type", 5}, {"excerpt", json::array()}}}}};
  rein::Result<rein::ToolResult> r = rein::Error(rein::ErrorCode::internal, "unset");
  REQUIRE_NOTHROW(r = rein::ToolResult::from_json(j));
  REQUIRE(r.ok());
  CHECK(r->evidence.at(0).uri == "x://1");
  CHECK(r->evidence.at(0).type.empty());
}

TEST_CASE("status names round-trip", "[tool]") {
  for (auto s : {rein::ToolStatus::ok, rein::ToolStatus::error, rein::ToolStatus::denied,
                 rein::ToolStatus::timeout, rein::ToolStatus::invalid_input}) {
    CHECK(rein::tool_status_from_string(rein::to_string(s)) == s);
  }
}

TEST_CASE("backoff grows exponentially, is capped, and jitters within bounds", "[tool]") {
  rein::RetryPolicy p;
  p.initial_backoff = 100ms;
  p.multiplier = 2.0;
  p.max_backoff = 1000ms;
  p.jitter = 0.0;
  CHECK(p.backoff_before(1, 0.5) == 0ns);
  CHECK(p.backoff_before(2, 0.5) == 100ms);
  CHECK(p.backoff_before(3, 0.5) == 200ms);
  CHECK(p.backoff_before(4, 0.5) == 400ms);
  CHECK(p.backoff_before(10, 0.5) == 1000ms);
  p.jitter = 0.2;
  CHECK(p.backoff_before(2, 0.0) == 80ms);
  CHECK(p.backoff_before(2, 0.5) == 100ms);
  CHECK(p.backoff_before(2, 0.999999) > 119ms);
  CHECK(p.backoff_before(10, 0.999) <= 1000ms);  // the cap holds after jitter too
}
