#include <catch2/catch.hpp>
#include <fstream>

#include "rein/audit.hpp"

using nlohmann::json;

namespace {
std::vector<rein::AuditEntry> chain(const std::string& run, int n, std::int64_t seq0 = 0,
                                    std::string head = "") {
  std::vector<rein::AuditEntry> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(rein::make_audit_entry(run, seq0 + i, head, i, "tool_call",
                                         {{"i", i}, {"run", run}}, 1000 + i));
    head = out.back().hash;
  }
  return out;
}
}  // namespace

TEST_CASE("an intact chain verifies, interleaved runs included", "[audit]") {
  auto a = chain("a", 5);
  auto b = chain("b", 3);
  std::vector<rein::AuditEntry> mixed;
  for (std::size_t i = 0; i < 5; ++i) {
    mixed.push_back(a[i]);
    if (i < 3) mixed.push_back(b[i]);
  }
  auto v = rein::verify_audit(mixed);
  CHECK(v.ok);
  CHECK(v.entries == 8);
  CHECK(v.to_json() == json{{"ok", true}, {"entries", 8}, {"first_bad", nullptr}, {"reason", ""}});
  CHECK(a[1].prev_hash == a[0].hash);
  CHECK(a[0].prev_hash.empty());
  CHECK(a[0].hash.size() == 64);
}

TEST_CASE("tampering is detected at the first bad entry", "[audit]") {
  auto entries = chain("r", 6);
  SECTION("changed payload") {
    entries[3].payload = rein::canonical_payload({{"i", 99}, {"run", "r"}});
    auto v = rein::verify_audit(entries);
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad == 3);
    CHECK(v.reason == "entry 3 (run 'r', seq 3): content does not match its hash");
  }
  SECTION("changed kind, time or step") {
    entries[2].kind = "approval";
    CHECK(rein::verify_audit(entries).first_bad == 2);
  }
  SECTION("deleted entry") {
    entries.erase(entries.begin() + 2);
    auto v = rein::verify_audit(entries);
    CHECK(v.first_bad == 2);
    CHECK(v.reason ==
          "entry 2 (run 'r', seq 3): expected seq 2 (an entry is missing or out of order)");
  }
  SECTION("reordered entries") {
    std::swap(entries[1], entries[4]);
    CHECK(rein::verify_audit(entries).first_bad == 1);
  }
  SECTION("rehashed forgery still breaks the link") {
    entries[3].payload = rein::canonical_payload({{"i", 99}, {"run", "r"}});
    entries[3].hash = rein::audit_hash(entries[3]);
    auto v = rein::verify_audit(entries);
    CHECK(v.first_bad == 4);
    CHECK(v.reason == "entry 4 (run 'r', seq 4): prev_hash does not match the previous entry");
  }
  SECTION("entries removed from the end are caught against the anchor") {
    const std::map<std::string, rein::AuditAnchor> anchors = {{"r", {6, entries.back().hash}}};
    CHECK(rein::verify_audit(entries, &anchors).ok);
    entries.pop_back();
    CHECK(rein::verify_audit(entries).ok);  // without an anchor, a shorter chain looks whole
    auto v = rein::verify_audit(entries, &anchors);
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad == 5);
    CHECK(v.reason ==
          "run 'r': the chain has 5 entries but its checkpoint records 6 (entries removed from the "
          "end)");
  }
}

TEST_CASE("JSONL sink writes entries that read back and verify, bad lines are reported",
          "[audit]") {
  const std::string path = "rein_test_audit.jsonl";
  std::remove(path.c_str());
  {
    auto sink = rein::JsonlAuditSink::open(path);
    REQUIRE(sink.ok());
    auto entries = chain("r", 4);
    REQUIRE((*sink)->write(std::span(entries).first(2)).ok());
    REQUIRE((*sink)->write(std::span(entries).subspan(2)).ok());
  }
  auto read = rein::read_audit_jsonl(path);
  REQUIRE(read.ok());
  REQUIRE(read->size() == 4);
  CHECK(rein::verify_audit(*read).ok);
  CHECK(read->at(2).payload_json() == json{{"i", 2}, {"run", "r"}});
  CHECK(read->at(2).payload == R"({"i":2,"run":"r"})");

  // Corrupt line 2 (0-based 1) so it no longer parses.
  std::vector<std::string> lines;
  {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
      lines.push_back(line);
  }
  lines[1] = lines[1].substr(0, lines[1].size() / 2);
  {
    std::ofstream out(path, std::ios::trunc);
    for (const auto& l : lines)
      out << l << "\n";
  }
  auto damaged = rein::read_audit_jsonl(path);
  REQUIRE(damaged.ok());
  auto v = rein::verify_audit(*damaged);
  CHECK(v.first_bad == 1);
  CHECK(v.reason == "entry 1: not a valid audit entry");
  std::remove(path.c_str());
  CHECK(rein::read_audit_jsonl("/nonexistent/audit.jsonl").error().code() ==
        rein::ErrorCode::not_found);
}

TEST_CASE("memory sink keeps entries in order", "[audit]") {
  rein::MemoryAuditSink sink;
  auto entries = chain("m", 3);
  REQUIRE(sink.write(entries).ok());
  CHECK(sink.entries().size() == 3);
  CHECK(rein::verify_audit(sink.entries()).ok);
}

TEST_CASE("entry JSON round-trips and rejects missing fields", "[audit]") {
  auto e = chain("r", 1)[0];
  auto back = rein::AuditEntry::from_json(e.to_json());
  REQUIRE(back.ok());
  CHECK(back->hash == e.hash);
  CHECK(rein::audit_hash(*back) == e.hash);
  json broken = e.to_json();
  broken.erase("hash");
  CHECK(rein::AuditEntry::from_json(broken).error().message() ==
        "audit entry: field 'hash' is required");
}

TEST_CASE("a payload is its canonical JSON text", "[audit]") {
  const json payload = json::parse(R"({"b": [1, 2.5, "x\u00e9\n"], "a": {"z": null, "y": true}})");
  auto e = rein::make_audit_entry("r", 0, "", 0, "k", payload, 1);
  CHECK(e.payload == R"({"a":{"y":true,"z":null},"b":[1,2.5,"xé\n"]})");
  CHECK(e.payload_json() == payload);
  rein::AuditEntry broken = e;
  broken.payload = "{not json";
  CHECK(broken.payload_json().is_null());
}
