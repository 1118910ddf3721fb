// `rein audit verify` on audits written by real runs, intact and tampered with.
#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <sqlite3.h>

#include "rein/rein.hpp"

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Run {
  int exit_code;
  json out;
};

Run verify(const fs::path& file) {
  const std::string command =
      std::string(REIN_CLI_PATH) + " audit verify " + file.string() + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string text;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr)
    text += buffer.data();
  const int status = pclose(pipe);
  Run r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, json()};
  if (!text.empty()) r.out = json::parse(text);
  return r;
}

fs::path temp(const std::string& name) {
  auto p = fs::temp_directory_path() / ("rein_cli_" + std::to_string(::getpid()) + "_" + name);
  for (const char* suffix : {"", "-wal", "-shm"})
    fs::remove(p.string() + suffix);
  return p;
}

// Two runs whose audits go to a SQLite store and a JSONL file.
void write_audits(const fs::path& db, const fs::path& jsonl) {
  auto store = *rein::SqliteStore::open(db);
  auto sink = *rein::JsonlAuditSink::open(jsonl);
  auto tools = std::make_shared<rein::ToolRegistry>();
  rein::ToolSpec s;
  s.name = "x.echo";
  s.description = "echo";
  s.timeout = std::chrono::milliseconds(0);
  REQUIRE(tools
              ->register_tool(
                  s, [](const json& a, rein::ToolContext&) { return rein::ToolResult::success(a); })
              .ok());
  auto policy = *rein::PolicyEngine::from_json(
      json::parse(R"({"rules": [{"id": "all", "decision": "allow", "tool_glob": "*"}]})"));
  auto planner = rein::StaticPlanner::fixed(
      {{"a", "x.echo", {{"n", 1}}, {}, ""}, {"b", "x.echo", {{"n", 2}}, {"a"}, ""}});
  rein::Runtime rt(rein::AgentConfig{"t", tools, policy, planner, nullptr},
                   rein::RuntimeOptions{.store = store, .audit_sinks = {sink}});
  REQUIRE(rt.run(rein::RunRequest{"g", {}, nullptr, "run-a"})->status ==
          rein::RunStatus::completed);
  REQUIRE(rt.run(rein::RunRequest{"g", {}, nullptr, "run-b"})->status ==
          rein::RunStatus::completed);
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> lines;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

void write_lines(const fs::path& p, const std::vector<std::string>& lines) {
  std::ofstream out(p, std::ios::trunc);
  for (const auto& l : lines)
    out << l << '\n';
}

void sql(const fs::path& db, const std::string& statement) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  REQUIRE(sqlite3_exec(handle, statement.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(handle);
}

}  // namespace

TEST_CASE("rein audit verify accepts intact audits in both formats", "[cli][audit]") {
  const auto db = temp("ok.db"), jsonl = temp("ok.jsonl");
  write_audits(db, jsonl);
  auto j = verify(jsonl);
  CHECK(j.exit_code == 0);
  CHECK(j.out["ok"] == true);
  CHECK(j.out["first_bad"].is_null());
  const auto entries = j.out["entries"].get<int>();
  CHECK(entries == static_cast<int>(lines_of(jsonl).size()));
  auto s = verify(db);
  CHECK(s.exit_code == 0);
  CHECK(s.out == json{{"ok", true}, {"entries", entries}, {"first_bad", nullptr}, {"reason", ""}});
}

TEST_CASE("rein audit verify detects tampering with a JSONL audit", "[cli][audit]") {
  const auto db = temp("t.db"), jsonl = temp("t.jsonl");
  write_audits(db, jsonl);
  const auto original = lines_of(jsonl);
  SECTION("a flipped byte") {
    for (std::size_t line : {std::size_t{0}, std::size_t{4}, original.size() - 1}) {
      auto lines = original;
      const auto at = lines[line].find("\"kind\":\"") + 8;
      lines[line][at] ^= 0x01;
      write_lines(jsonl, lines);
      auto r = verify(jsonl);
      CHECK(r.exit_code == 1);
      CHECK(r.out["ok"] == false);
      CHECK(r.out["first_bad"] == line);
    }
  }
  SECTION("a deleted entry") {
    auto lines = original;
    lines.erase(lines.begin() + 3);
    write_lines(jsonl, lines);
    auto r = verify(jsonl);
    CHECK(r.exit_code == 1);
    CHECK(r.out["first_bad"] == 3);
  }
  SECTION("reordered entries") {
    auto lines = original;
    std::swap(lines[1], lines[4]);  // two entries of the same run
    write_lines(jsonl, lines);
    auto r = verify(jsonl);
    CHECK(r.exit_code == 1);
    CHECK(r.out["first_bad"] == 1);
  }
  SECTION("a line that is no longer JSON") {
    auto lines = original;
    lines[4] = "{\"run_id\": ";
    write_lines(jsonl, lines);
    auto r = verify(jsonl);
    CHECK(r.exit_code == 1);
    CHECK(r.out["first_bad"] == 4);
    CHECK(r.out["reason"] == "entry 4: not a valid audit entry");
  }
}

TEST_CASE("rein audit verify detects tampering with a SQLite store", "[cli][audit]") {
  const auto db = temp("s.db"), jsonl = temp("s.jsonl");
  write_audits(db, jsonl);
  SECTION("a changed byte in a payload") {
    sql(db,
        "UPDATE audit SET payload = replace(payload, '\"n\":2', '\"n\":3') WHERE run_id='run-b' "
        "AND kind='tool_call'");
    auto r = verify(db);
    CHECK(r.exit_code == 1);
    CHECK(r.out["reason"].get<std::string>().find("run 'run-b'") != std::string::npos);
  }
  SECTION("a deleted entry in the middle") {
    sql(db, "DELETE FROM audit WHERE run_id='run-a' AND seq=2");
    auto r = verify(db);
    CHECK(r.exit_code == 1);
    CHECK(r.out["first_bad"] == 2);
  }
  SECTION("the last entries deleted") {
    sql(db,
        "DELETE FROM audit WHERE run_id='run-a' AND seq >= (SELECT max(seq) - 1 FROM audit WHERE "
        "run_id='run-a')");
    auto r = verify(db);
    CHECK(r.exit_code == 1);
    CHECK(r.out["reason"].get<std::string>().find("entries removed from the end") !=
          std::string::npos);
  }
  SECTION("two entries swapped") {
    sql(db,
        "UPDATE audit SET seq = -1 WHERE run_id='run-a' AND seq = 1;"
        "UPDATE audit SET seq = 1 WHERE run_id='run-a' AND seq = 3;"
        "UPDATE audit SET seq = 3 WHERE run_id='run-a' AND seq = -1;");
    auto r = verify(db);
    CHECK(r.exit_code == 1);
    CHECK(r.out["first_bad"] == 1);
  }
}

TEST_CASE("rein audit verify reports unreadable files", "[cli][audit]") {
  auto missing = verify("/nonexistent/audit.jsonl");
  CHECK(missing.exit_code == 2);
  CHECK(missing.out.is_null());
}
