// `rein mcp proxy` end to end: an MCP client over stdio (rein's own McpClient, as a desktop
// assistant would connect) -> the proxy -> server-filesystem, with a policy in between.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "mcp_fixture.hpp"

using namespace rein;
using namespace rein::testing;
using nlohmann::json;

namespace {

struct Guarded {
  std::filesystem::path root;
  std::string files;  // canonical path of root/files, the folder the server serves
  std::filesystem::path policy;
  std::filesystem::path audit;

  Guarded() : root(fresh_directory("rein-mcp-proxy")) {
    std::filesystem::create_directories(root / "files" / "allowed");
    std::filesystem::create_directories(root / "files" / "private");
    files = std::filesystem::canonical(root / "files").string();
    policy = root / "policy.json";
    audit = root / "audit.jsonl";
    std::ofstream(policy) << R"({
      "version": 1,
      "rules": [
        {"id": "read-files", "decision": "allow", "tool": "fs.read_text_file",
         "args": [{"pointer": "/path", "path_under": ")"
                          << files << R"("}]},
        {"id": "list-allowed", "decision": "allow", "tool": "fs.list_allowed_directories"},
        {"id": "write-allowed", "decision": "allow", "tool": "fs.write_file",
         "args": [{"pointer": "/path", "path_under": ")"
                          << files << R"(/allowed"}]},
        {"id": "folders-need-a-person", "decision": "require_approval", "tool": "fs.create_directory"}
      ]})";
  }
  ~Guarded() { std::filesystem::remove_all(root); }

  McpClientOptions client(McpElicitationHandler on_elicitation = {}) const {
    McpClientOptions o;
    o.name = "guarded";
    McpStdioServer s;
    s.command = REIN_CLI_PATH;
    s.args = {"mcp",
              "proxy",
              "--policy",
              policy.string(),
              "--audit",
              audit.string(),
              "--name",
              "fs",
              "--role",
              "analyst",
              "--",
              REIN_NODE_PATH,
              reference_server("server-filesystem"),
              files};
    o.server = std::move(s);
    o.on_elicitation = std::move(on_elicitation);
    o.restart = false;
    return o;
  }
};

std::string run_command(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    out.append(buffer, n);
  status = ::pclose(pipe);
  return out;
}

}  // namespace

TEST_CASE("rein mcp proxy passes allowed calls, refuses the rest by rule, and audits both",
          "[mcp][reference][proxy]") {
  Guarded g;
  {
    auto connected = McpClient::connect(g.client());
    REQUIRE(connected.ok());
    auto& client = **connected;
    CHECK(client.server_info().name == "rein-mcp-proxy");
    auto tools = client.list_tools();
    REQUIRE(tools.ok());
    CHECK(tools->size() > 5);  // the server's own tools, unchanged

    const auto allowed = g.files + "/allowed/a.txt";
    auto wrote = client.call_tool("write_file", {{"path", allowed}, {"content", "through"}});
    REQUIRE(wrote.ok());
    CHECK_FALSE(wrote->is_error);
    auto read = client.call_tool("read_text_file", {{"path", allowed}});
    REQUIRE(read.ok());
    CHECK_THAT(read->text(), Catch::Contains("through"));

    const auto elsewhere = g.files + "/private/b.txt";
    auto denied = client.call_tool("write_file", {{"path", elsewhere}, {"content", "no"}});
    REQUIRE_FALSE(denied.ok());
    CHECK_THAT(denied.error().message(), Catch::Contains("-32001"));
    CHECK_THAT(denied.error().message(), Catch::Contains("rein policy denied fs.write_file"));
    CHECK_THAT(denied.error().message(), Catch::Contains("rule 'default_deny'"));
    CHECK_FALSE(std::filesystem::exists(elsewhere));

    auto moved = client.call_tool("move_file", {{"source", allowed}, {"destination", elsewhere}});
    REQUIRE_FALSE(moved.ok());
    CHECK(std::filesystem::exists(allowed));

    // Approval: this client cannot be asked, so the call is refused with the reason.
    auto folder = client.call_tool("create_directory", {{"path", g.files + "/allowed/sub"}});
    REQUIRE_FALSE(folder.ok());
    CHECK_THAT(folder.error().message(), Catch::Contains("folders-need-a-person"));
    CHECK_THAT(folder.error().message(), Catch::Contains("elicitation"));
    CHECK_FALSE(std::filesystem::exists(g.files + "/allowed/sub"));

    // Bad arguments are refused before the policy or the server see them.
    auto bad = client.call_tool("write_file", {{"path", allowed}});
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error().message(), Catch::Contains("-32602"));
  }

  int status = 0;
  const auto verified =
      run_command(std::string(REIN_CLI_PATH) + " audit verify " + g.audit.string(), status);
  CHECK(status == 0);
  CHECK_THAT(verified, Catch::Contains("\"ok\":true"));
  std::ifstream audit(g.audit);
  std::string text((std::istreambuf_iterator<char>(audit)), {});
  CHECK_THAT(text, Catch::Contains("\"kind\":\"decision\""));
  CHECK_THAT(text, Catch::Contains("\"rule\":\"default_deny\""));
  CHECK_THAT(text, Catch::Contains("\"kind\":\"tool_call\""));
  CHECK_THAT(text, Catch::Contains("secure-filesystem-server"));
}

TEST_CASE("rein mcp proxy asks the client's person through elicitation",
          "[mcp][reference][proxy]") {
  Guarded g;
  // The handler runs on the client's own thread: it records, the test checks afterwards.
  std::mutex mutex;
  std::vector<std::string> asked;
  bool approve = true;
  auto connected = McpClient::connect(g.client([&](const std::string& message, const json&) {
    std::lock_guard lock(mutex);
    asked.push_back(message);
    return approve ? McpElicitationResult{"accept", {{"approve", true}}}
                   : McpElicitationResult{"decline", json::object()};
  }));
  REQUIRE(connected.ok());
  auto& client = **connected;
  auto made = client.call_tool("create_directory", {{"path", g.files + "/allowed/approved"}});
  REQUIRE(made.ok());
  CHECK(std::filesystem::is_directory(g.files + "/allowed/approved"));

  {
    std::lock_guard lock(mutex);
    approve = false;
  }
  auto refused = client.call_tool("create_directory", {{"path", g.files + "/allowed/declined"}});
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message(), Catch::Contains("-32002"));
  CHECK_THAT(refused.error().message(), Catch::Contains("did not approve"));
  CHECK_FALSE(std::filesystem::exists(g.files + "/allowed/declined"));
  std::lock_guard lock(mutex);
  REQUIRE(asked.size() == 2);
  CHECK_THAT(asked[0], Catch::Contains("fs.create_directory"));
}

TEST_CASE("rein mcp proxy refuses to start on a broken policy or a changed pin", "[mcp][proxy]") {
  const auto dir = fresh_directory("rein-mcp-proxy-bad");
  std::ofstream(dir / "broken.json") << R"({"version": 1, "rules": [{"id": "x"}]})";
  int status = 0;
  auto out = run_command(std::string(REIN_CLI_PATH) + " mcp proxy --policy " +
                             (dir / "broken.json").string() + " -- " + REIN_NODE_PATH + " " +
                             REIN_MCP_MISBEHAVING + " </dev/null 2>&1",
                         status);
  CHECK(WEXITSTATUS(status) == 2);
  CHECK_THAT(out, Catch::Contains("rule"));

  std::ofstream(dir / "ok.json") << R"({"version": 1, "rules": []})";
  out = run_command(std::string(REIN_CLI_PATH) + " mcp proxy --pin 00 --policy " +
                        (dir / "ok.json").string() + " -- " + REIN_NODE_PATH + " " +
                        REIN_MCP_MISBEHAVING + " </dev/null 2>&1",
                    status);
  CHECK(WEXITSTATUS(status) == 2);
  CHECK_THAT(out, Catch::Contains("changed"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("rein mcp proxy enforces the policy's rate limits", "[mcp][proxy]") {
  const auto dir = fresh_directory("rein-mcp-proxy-rate");
  std::ofstream(dir / "policy.json") << R"({
    "version": 1,
    "rules": [{"id": "echo", "decision": "allow", "tool": "fake.echo"}],
    "rate_limits": [{"tool": "fake.*", "max_calls": 2, "window_ms": 600000}]})";
  McpClientOptions o;
  o.name = "guarded";
  o.restart = false;
  o.server = McpStdioServer{.command = REIN_CLI_PATH,
                            .args = {"mcp", "proxy", "--policy", (dir / "policy.json").string(),
                                     "--name", "fake", "--", REIN_NODE_PATH, REIN_MCP_MISBEHAVING}};
  auto client = McpClient::connect(o);
  REQUIRE(client.ok());
  CHECK((*client)->call_tool("echo", {{"text", "1"}}).ok());
  CHECK((*client)->call_tool("echo", {{"text", "2"}}).ok());
  auto third = (*client)->call_tool("echo", {{"text", "3"}});
  REQUIRE_FALSE(third.ok());
  CHECK_THAT(third.error().message(), Catch::Contains("rule 'rate_limit."));
  auto other = (*client)->call_tool("fail", json::object());
  REQUIRE_FALSE(other.ok());  // no rule allows it
  CHECK_THAT(other.error().message(), Catch::Contains("default_deny"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("rein mcp list and call", "[mcp][proxy]") {
  const std::string server = std::string(" -- ") + REIN_NODE_PATH + " " + REIN_MCP_MISBEHAVING;
  int status = 0;
  auto listed = run_command(std::string(REIN_CLI_PATH) + " mcp list --name fake" + server, status);
  REQUIRE(WEXITSTATUS(status) == 0);
  const json catalog = json::parse(listed);
  CHECK(catalog["server"]["name"] == "misbehaving");
  CHECK(catalog["tools"].size() == 15);
  CHECK(catalog["catalog_hash"].get<std::string>().size() == 64);

  auto called = run_command(
      std::string(REIN_CLI_PATH) + " mcp call echo --args '{\"text\": \"hi\"}'" + server, status);
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(json::parse(called)["structuredContent"] == json{{"text", "hi"}});

  auto failed = run_command(std::string(REIN_CLI_PATH) + " mcp call fail" + server, status);
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(json::parse(failed)["isError"] == true);

  auto bad = run_command(
      std::string(REIN_CLI_PATH) + " mcp call echo --args '[1'" + server + " 2>&1", status);
  CHECK(WEXITSTATUS(status) == 2);
  CHECK_THAT(bad, Catch::Contains("--args must be a JSON object"));

  auto missing = run_command(std::string(REIN_CLI_PATH) + " mcp list -- /nonexistent 2>&1", status);
  CHECK(WEXITSTATUS(status) == 2);
  CHECK_THAT(missing, Catch::Contains("cannot start MCP server"));
}

TEST_CASE("rein mcp proxy answers malformed client messages with errors and carries on",
          "[mcp][proxy]") {
  const auto dir = fresh_directory("rein-mcp-proxy-malformed");
  std::ofstream(dir / "policy.json") << R"({"version": 1, "rules": [
    {"id": "echo", "decision": "allow", "tool": "fake.echo"}]})";
  std::ofstream(dir / "input.jsonl")
      << R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":5}})" << '\n'
      << "this is not json\n"
      << R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":7}})" << '\n'
      << R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":[]}})"
      << '\n'
      << R"({"jsonrpc":"2.0","id":4,"method":"resources/list"})" << '\n'
      << R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"still here"}}})"
      << '\n';
  int status = 0;
  const auto out =
      run_command(std::string(REIN_CLI_PATH) + " mcp proxy --policy " +
                      (dir / "policy.json").string() + " --name fake -- " + REIN_NODE_PATH + " " +
                      REIN_MCP_MISBEHAVING + " < " + (dir / "input.jsonl").string(),
                  status);
  CHECK(WEXITSTATUS(status) == 0);
  std::map<std::string, json> by_id;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    const json m = json::parse(line);
    by_id[m["id"].dump()] = m;
  }
  CHECK(by_id["1"]["result"]["protocolVersion"] == "2025-11-25");
  CHECK(by_id["null"]["error"]["code"] == -32700);
  CHECK(by_id["2"]["error"]["code"] == -32602);
  CHECK(by_id["3"]["error"]["code"] == -32602);
  CHECK(by_id["4"]["error"]["code"] == -32601);
  CHECK(by_id["5"]["result"]["structuredContent"]["text"] == "still here");
  std::filesystem::remove_all(dir);
}

TEST_CASE("rein mcp proxy refuses every call once the pinned catalog changes", "[mcp][proxy]") {
  const auto dir = fresh_directory("rein-mcp-proxy-pin");
  std::ofstream(dir / "policy.json") << R"({"version": 1, "rules": [
    {"id": "all", "decision": "allow", "tool_glob": "fake.*"}]})";
  int status = 0;
  const auto listed = run_command(
      std::string(REIN_CLI_PATH) + " mcp list -- " + REIN_NODE_PATH + " " + REIN_MCP_MISBEHAVING,
      status);
  REQUIRE(WEXITSTATUS(status) == 0);
  const auto pin = json::parse(listed)["catalog_hash"].get<std::string>();

  McpClientOptions o;
  o.name = "guarded";
  o.restart = false;
  o.server =
      McpStdioServer{.command = REIN_CLI_PATH,
                     .args = {"mcp", "proxy", "--policy", (dir / "policy.json").string(), "--pin",
                              pin, "--name", "fake", "--", REIN_NODE_PATH, REIN_MCP_MISBEHAVING}};
  auto client = McpClient::connect(o);
  REQUIRE(client.ok());
  CHECK((*client)->call_tool("echo", {{"text", "pinned"}}).ok());
  REQUIRE((*client)->call_tool("change_catalog", json::object()).ok());
  for (int i = 0; i < 2; ++i) {
    auto refused = (*client)->call_tool("echo", {{"text", "drifted"}});
    if (refused.ok()) FAIL("forwarded: " << refused->text());
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.error().message(), Catch::Contains("changed: its hash is"));
  }
  std::filesystem::remove_all(dir);
}
