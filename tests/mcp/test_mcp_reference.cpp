// rein against the MCP reference servers from npm (tests/mcp/package.json): server-everything
// over stdio and over Streamable HTTP, server-filesystem under a policy in a whole run, and
// server-memory.
#include <catch2/catch.hpp>

#include <fstream>
#include <mutex>

#include "../integration/runtime_fixture.hpp"
#include "../support/waiting.hpp"
#include "mcp_fixture.hpp"
#include "rein/mcp_tools.hpp"

using namespace rein;
using namespace rein::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

McpClientOptions everything_stdio() {
  McpClientOptions o;
  o.name = "everything";
  o.server = node_server(reference_server("server-everything"), {"stdio"});
  return o;
}

const McpTool* find_tool(const std::vector<McpTool>& tools, const std::string& name) {
  for (const auto& t : tools) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// What every client of server-everything checks, whatever the transport.
void exercise_everything(McpClient& client) {
  auto tools = client.list_tools();
  REQUIRE(tools.ok());
  const auto* echo = find_tool(*tools, "echo");
  REQUIRE(echo != nullptr);
  CHECK(echo->input_schema["required"] == json::array({"message"}));
  CHECK(echo->annotations["readOnlyHint"] == true);
  REQUIRE(find_tool(*tools, "get-structured-content") != nullptr);
  CHECK_FALSE(find_tool(*tools, "get-structured-content")->output_schema.is_null());

  auto echoed = client.call_tool("echo", {{"message", "hi"}});
  REQUIRE(echoed.ok());
  CHECK_THAT(echoed->text(), Catch::Contains("hi"));

  auto sum = client.call_tool("get-sum", {{"a", 2}, {"b", 3}});
  REQUIRE(sum.ok());
  CHECK_THAT(sum->text(), Catch::Contains("5"));

  // Structured content, checked against the tool's outputSchema by the client.
  auto weather = client.call_tool("get-structured-content", {{"location", "Chicago"}});
  REQUIRE(weather.ok());
  CHECK(weather->structured_content.contains("temperature"));

  auto image = client.call_tool("get-tiny-image", json::object());
  REQUIRE(image.ok());
  bool has_image = false;
  for (const auto& item : image->content) {
    if (item["type"] == "image") has_image = item["mimeType"] == "image/png";
  }
  CHECK(has_image);

  // A tool the server does not have is an isError result from this server.
  auto unknown = client.call_tool("no-such-tool", json::object());
  REQUIRE(unknown.ok());
  CHECK(unknown->is_error);

  // Long-running, with progress.
  ProgressLog progress;
  auto long_running = client.call_tool("trigger-long-running-operation",
                                       {{"duration", 0.3}, {"steps", 3}}, progress.options());
  REQUIRE(long_running.ok());
  CHECK_THAT(long_running->text(), Catch::Contains("Long running operation completed"));
  const auto updates = progress.updates();
  REQUIRE(updates.size() == 3);
  CHECK(updates.back().total == 3);

  auto resources = client.list_resources();
  REQUIRE(resources.ok());
  REQUIRE_FALSE(resources->empty());
  auto read = client.read_resource((*resources)[0]["uri"].get<std::string>());
  REQUIRE(read.ok());
  CHECK((*read)["contents"].is_array());

  auto prompts = client.list_prompts();
  REQUIRE(prompts.ok());
  auto prompt = client.get_prompt("simple-prompt", json::object());
  REQUIRE(prompt.ok());
  CHECK((*prompt)["messages"].is_array());
  CHECK(client.ping().ok());
}

}  // namespace

TEST_CASE("server-everything over stdio: tools, structured content, progress, resources, prompts",
          "[mcp][reference]") {
  auto client = connect_or_fail(everything_stdio());
  CHECK(client->server_info().name == "mcp-servers/everything");
  CHECK(client->server_info().protocol_version == "2025-11-25");
  exercise_everything(*client);
  // The server says its tool list changed right after the handshake.
  CHECK(eventually([&] { return client->stats().list_changed >= 1; }));
}

TEST_CASE("server-everything over 2025-06-18", "[mcp][reference]") {
  auto options = everything_stdio();
  options.protocol_versions = {"2025-06-18"};
  auto client = connect_or_fail(options);
  CHECK(client->server_info().protocol_version == "2025-06-18");
  auto echoed = client->call_tool("echo", {{"message", "old"}});
  REQUIRE(echoed.ok());
  CHECK_THAT(echoed->text(), Catch::Contains("old"));
}

TEST_CASE("server-everything over Streamable HTTP", "[mcp][reference]") {
  const int port = free_port();
  ChildProcess server({REIN_NODE_PATH, reference_server("server-everything"), "streamableHttp"},
                      {{"PORT", std::to_string(port)}});
  REQUIRE(server.started());
  McpClientOptions options;
  options.name = "everything";
  options.server = McpHttpServer{.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp"};
  options.initialize_timeout = 2s;
  std::shared_ptr<McpClient> client;
  REQUIRE(eventually([&] {
    auto c = McpClient::connect(options);
    if (c) client = *c;
    return c.ok();
  }));
  CHECK(client->server_info().name == "mcp-servers/everything");
  exercise_everything(*client);

  // An endpoint that is not there is a clear error.
  options.server = McpHttpServer{.url = "http://127.0.0.1:" + std::to_string(port) + "/nope"};
  auto wrong = McpClient::connect(options);
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(wrong.error().message(), Catch::Contains("HTTP 404"));
}

TEST_CASE("MCP tools go through the registry with the server's identity as evidence",
          "[mcp][reference]") {
  auto client = connect_or_fail(everything_stdio());
  ToolRegistry registry;
  McpToolOptions options;
  options.confirm = [](const McpTool& t) {
    // The host trusts this server's read-only hints.
    const bool read_only = t.annotations.value("readOnlyHint", false);
    return McpToolTraits{.side_effects = !read_only, .retry_safe = read_only};
  };
  auto registration = register_mcp_tools(registry, client, options);
  REQUIRE(registration.ok());
  CHECK(registry.find("everything.echo") != nullptr);
  CHECK_FALSE(registry.find("everything.echo")->side_effects);
  CHECK(registry.find("everything.toggle-simulated-logging")->side_effects);
  CHECK_THAT(registry.find("everything.echo")->description,
             Catch::StartsWith("(MCP server 'everything') "));
  CHECK(registration->catalog_hash.size() == 64);

  auto result = registry.invoke("everything.get-sum", {{"a", 1}, {"b", 41}});
  REQUIRE(result.ok());
  CHECK_THAT(result.data["content"][0]["text"].get<std::string>(), Catch::Contains("42"));
  REQUIRE(result.evidence.size() == 1);
  CHECK(result.evidence[0].uri == "mcp://everything/get-sum");
  CHECK(result.evidence[0].excerpt == "mcp-servers/everything 2.0.0");

  // The input schema is checked before the server is asked.
  auto bad = registry.invoke("everything.get-sum", {{"a", "one"}});
  CHECK(bad.status == ToolStatus::invalid_input);

  auto structured = registry.invoke("everything.get-structured-content", {{"location", "Chicago"}});
  REQUIRE(structured.ok());
  CHECK(structured.data.contains("temperature"));  // data is the structured content
}

TEST_CASE("a run writes through server-filesystem only where the policy allows",
          "[mcp][reference]") {
  const auto root = fresh_directory("rein-mcp-fs");
  std::filesystem::create_directories(root / "allowed");
  std::filesystem::create_directories(root / "elsewhere");
  const auto canonical_root = std::filesystem::canonical(root).string();

  McpClientOptions client_options;
  client_options.name = "fs";
  client_options.server = node_server(reference_server("server-filesystem"), {canonical_root});
  auto client = connect_or_fail(client_options);
  auto tools = std::make_shared<ToolRegistry>();
  REQUIRE(register_mcp_tools(*tools, client).ok());

  auto policy = PolicyEngine::from_json(json::parse(R"({
    "version": 1,
    "rules": [
      {"id": "read-anywhere-here", "decision": "allow", "tool_glob": "fs.read_*",
       "args": [{"pointer": "/path", "path_under": ")" +
                                                    canonical_root + R"("}]},
      {"id": "write-allowed-folder", "decision": "allow", "tool": "fs.write_file",
       "args": [{"pointer": "/path", "path_under": ")" +
                                                    canonical_root + R"(/allowed"}]}
    ]})"));
  REQUIRE(policy.ok());

  const auto allowed_file = canonical_root + "/allowed/notes.txt";
  const auto other_file = canonical_root + "/elsewhere/notes.txt";
  auto planner = StaticPlanner::fixed(
      {call("write", "fs.write_file", {{"path", allowed_file}, {"content", "kept"}}),
       call("sneak", "fs.write_file", {{"path", other_file}, {"content", "not kept"}}),
       call("read", "fs.read_text_file", {{"path", allowed_file}}, {"write"})});
  Runtime runtime(AgentConfig{"fs-agent", tools, *policy, planner, std::make_shared<RuleCritic>()});
  auto run = runtime.run(RunRequest{"file notes", {"riley", {"analyst"}}, nullptr, "run-fs"});
  REQUIRE(run.ok());

  CHECK(run->steps.at(0).status == StepStatus::succeeded);
  CHECK(run->steps.at(1).status == StepStatus::denied);
  CHECK(run->steps.at(2).status == StepStatus::succeeded);
  std::ifstream kept(allowed_file);
  std::string text((std::istreambuf_iterator<char>(kept)), {});
  CHECK(text == "kept");
  CHECK_FALSE(std::filesystem::exists(other_file));  // the file system untouched

  bool denial_audited = false, identity_audited = false;
  for (const auto& e : *runtime.store().read_audit("run-fs")) {
    const auto payload = e.payload_json();
    if (e.kind == "decision" && payload.dump().find("default_deny") != std::string::npos &&
        payload["step"] == "sneak") {
      denial_audited = true;
    }
    if (e.kind == "tool_call" && payload.dump().find("mcp://fs/write_file") != std::string::npos) {
      identity_audited = true;
    }
  }
  CHECK(denial_audited);
  CHECK(identity_audited);
  CHECK(verify_run_audit(runtime.store(), *run).ok);
  std::filesystem::remove_all(root);
}

TEST_CASE("server-memory keeps a knowledge graph in the file it is given", "[mcp][reference]") {
  const auto dir = fresh_directory("rein-mcp-memory");
  McpClientOptions options;
  options.name = "memory";
  options.server = node_server(reference_server("server-memory"), {},
                               {{"MEMORY_FILE_PATH", (dir / "graph.jsonl").string()}});
  auto client = connect_or_fail(options);
  ToolRegistry registry;
  REQUIRE(register_mcp_tools(registry, client).ok());
  auto created = registry.invoke(
      "memory.create_entities",
      {{"entities",
        {{{"name", "rein"}, {"entityType", "project"}, {"observations", {"embeds agents"}}}}}});
  REQUIRE(created.ok());
  auto graph = registry.invoke("memory.read_graph", json::object());
  REQUIRE(graph.ok());
  CHECK(graph.data["entities"][0]["name"] == "rein");
  std::ifstream file(dir / "graph.jsonl");
  std::string stored((std::istreambuf_iterator<char>(file)), {});
  CHECK_THAT(stored, Catch::Contains("embeds agents"));
  std::filesystem::remove_all(dir);
}
