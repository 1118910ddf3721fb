// MemoryRunStore and InMemoryIdempotencyStore: what they return, found or not.
#include <cctype>

#include <catch2/catch.hpp>

#include "rein/audit.hpp"
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

TEST_CASE("MemoryRunStore: read_audit gives back every entry exactly as it was committed",
          "[store]") {
  // The store keeps chained entries compactly (no run id, no previous hash, the hash as bytes);
  // what it gives back must not depend on that, for chains and for hand-written entries alike.
  rein::MemoryRunStore store;
  std::vector<rein::AuditEntry> chain;
  std::string prev;
  for (int i = 0; i < 5; ++i) {
    chain.push_back(rein::make_audit_entry("run-a", i, prev, i / 2, "status",
                                           nlohmann::json{{"n", i}}, 1000 + i));
    prev = chain.back().hash;
  }
  REQUIRE(store.commit(state_of("run-a"), std::span(chain).first(2)).ok());
  REQUIRE(store.append_audit({chain[2], chain[3]}).ok());
  REQUIRE(store.commit(state_of("run-a"), std::span(chain).subspan(4)).ok());

  // Not a chain: upper-case and short hashes, a previous hash that does not link, an entry
  // whose run id is not the run it was committed with.
  rein::AuditEntry upper =
      rein::make_audit_entry("run-b", 0, "", 0, "plan", nlohmann::json::object(), 7);
  for (auto& c : upper.hash)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  rein::AuditEntry odd{"run-b", 1, 0, "note", R"({"x":1})", 8, "not-the-previous", "h1"};
  rein::AuditEntry foreign{"run-c", 0, 0, "note", "{}", 9, "", "abc"};
  REQUIRE(store.commit(state_of("run-b"), std::vector{upper, odd}).ok());
  REQUIRE(store.commit(state_of("run-b"), std::vector{foreign}).ok());
  // One append, two runs' chains interleaved.
  const auto d1 = rein::make_audit_entry("run-d", 0, "", 0, "x", nlohmann::json::object(), 10);
  const auto e1 = rein::make_audit_entry("run-e", 0, "", 0, "y", nlohmann::json::object(), 11);
  const auto d2 = rein::make_audit_entry("run-d", 1, d1.hash, 0, "x", nlohmann::json::object(), 12);
  REQUIRE(store.append_audit({d1, e1, d2}).ok());

  auto same = [](const rein::AuditEntry& a, const rein::AuditEntry& b) {
    return a.run_id == b.run_id && a.seq == b.seq && a.step == b.step && a.kind == b.kind &&
           a.payload == b.payload && a.time_millis == b.time_millis && a.prev_hash == b.prev_hash &&
           a.hash == b.hash;
  };
  // What read_audit(run) gives back, entry for entry.
  auto reads_back = [&](std::string_view run, const std::vector<rein::AuditEntry>& expected) {
    auto got = store.read_audit(run);
    REQUIRE(got.ok());
    REQUIRE(got->size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
      CHECK(same((*got)[i], expected[i]));
    return *got;
  };
  CHECK(rein::verify_audit(reads_back("run-a", chain)).ok);
  reads_back("run-b", {upper, odd});
  reads_back("run-c", {foreign});  // kept under the run id it carries
  CHECK(rein::verify_audit(reads_back("run-d", {d1, d2})).ok);

  // All runs: in the order appended.
  std::vector<rein::AuditEntry> all = chain;
  all.insert(all.end(), {upper, odd, foreign, d1, e1, d2});
  reads_back("", all);
}

TEST_CASE("MemoryRunStore: ended runs beyond the retention limit are forgotten, oldest first",
          "[store]") {
  rein::MemoryRunStore store(rein::MemoryRunStoreOptions{.max_ended_runs = 2});
  for (const char* id : {"r1", "r2", "r3"}) {
    auto s = state_of(id);
    REQUIRE(store
                .commit(s, std::vector{rein::make_audit_entry(id, 0, "", 0, "status",
                                                              nlohmann::json::object(), 1)})
                .ok());
    s.status = rein::RunStatus::completed;
    REQUIRE(store.commit(s, {}).ok());
  }
  CHECK(rein::is_not_found(store.load("r1")));
  CHECK(store.read_audit("r1")->empty());
  CHECK(store.load("r2").ok());
  CHECK(store.load("r3").ok());
  CHECK(store.read_audit("r3")->size() == 1);
}
