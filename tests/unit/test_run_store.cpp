// MemoryRunStore and InMemoryIdempotencyStore: what they return, found or not.
#include <catch2/catch.hpp>

#include "rein/idempotency.hpp"
#include "rein/run_store.hpp"

using rein::ErrorCode;
using rein::ToolResult;

namespace {
rein::AgentState state_of(std::string run) {
  rein::AgentState s;
  s.run_id = std::move(run);
  return s;
}
}  // namespace

TEST_CASE("MemoryRunStore: load finds a checkpoint, or says not_found", "[store]") {
  rein::MemoryRunStore store;
  REQUIRE(store.commit(state_of("run-1"), {}).ok());
  auto loaded = store.load("run-1");
  REQUIRE(loaded.ok());
  CHECK(loaded->run_id == "run-1");

  auto unknown = store.load("nope");
  REQUIRE(rein::is_not_found(unknown));
  CHECK(unknown.error().message() == "no run 'nope'");

  // A run known only by its audit or its outcomes has no checkpoint to load.
  REQUIRE(store
              .append_audit({rein::make_audit_entry("audit-only", 0, "", 0, "run",
                                                    nlohmann::json::object(), 1)})
              .ok());
  REQUIRE(store.record_outcome("outcome-only", "s", 1, ToolResult::success({})).ok());
  CHECK(rein::is_not_found(store.load("audit-only")));
  CHECK(rein::is_not_found(store.load("outcome-only")));
}

TEST_CASE("MemoryRunStore: find_outcome finds the journaled result, or says not_found", "[store]") {
  rein::MemoryRunStore store;
  const auto r = ToolResult::success({{"slide_id", "S001"}});
  REQUIRE(store.record_outcome("run-1", "slide", 1, r).ok());
  auto found = store.find_outcome("run-1", "slide", 1);
  REQUIRE(found.ok());
  CHECK(*found == r);

  auto other_attempt = store.find_outcome("run-1", "slide", 2);
  REQUIRE(rein::is_not_found(other_attempt));
  CHECK(other_attempt.error().message() ==
        "no outcome journaled for run 'run-1' step 'slide' attempt 2");
  CHECK(rein::is_not_found(store.find_outcome("run-1", "other", 1)));
  CHECK(rein::is_not_found(store.find_outcome("run-9", "slide", 1)));
}

TEST_CASE("InMemoryIdempotencyStore: find returns the first record, or says not_found", "[store]") {
  rein::InMemoryIdempotencyStore store;
  REQUIRE(store.record("slides.make", "k", ToolResult::success({{"slide_id", "S001"}})).ok());
  REQUIRE(store.record("slides.make", "k", ToolResult::success({{"slide_id", "S999"}})).ok());
  auto found = store.find("slides.make", "k");
  REQUIRE(found.ok());
  CHECK(found->data["slide_id"] == "S001");

  auto other_key = store.find("slides.make", "other");
  REQUIRE(rein::is_not_found(other_key));
  CHECK(other_key.error().code() == ErrorCode::not_found);
  CHECK(other_key.error().message() ==
        "no result of tool 'slides.make' recorded under idempotency key 'other'");
  CHECK(rein::is_not_found(store.find("email.send", "k")));  // keys are per tool
}
