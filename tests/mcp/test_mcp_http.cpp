// The Streamable HTTP transport against a scripted HTTP server: JSON answers as well as event
// streams, the headers a server relies on (authentication, the revision, the session), and
// HTTP failures as clear errors.
#include <catch2/catch.hpp>

#include <atomic>

#include "../support/fake_llm_server.hpp"
#include "../support/waiting.hpp"
#include "rein/mcp_client.hpp"

using namespace rein;
using nlohmann::json;

namespace {

test::FakeReply json_answer(const json& request, json result) {
  test::FakeReply r;
  r.headers = {{"Content-Type", "application/json"}, {"Mcp-Session-Id", "session-7"}};
  r.body = json{{"jsonrpc", "2.0"}, {"id", request["id"]}, {"result", std::move(result)}}.dump();
  return r;
}

// A small MCP server: JSON for most answers, an event stream (with progress) for "streamed".
test::FakeReply serve(const test::RecordedRequest& req) {
  const json& m = req.json;
  if (!m.contains("id")) return test::FakeReply{.status = 202};  // a notification
  const auto method = m.value("method", "");
  if (method == "initialize") {
    return json_answer(m, {{"protocolVersion", "2025-11-25"},
                           {"capabilities", {{"tools", json::object()}}},
                           {"serverInfo", {{"name", "scripted"}, {"version", "0.1"}}}});
  }
  if (method == "tools/list") {
    return json_answer(m, {{"tools", {{{"name", "echo"}, {"inputSchema", {{"type", "object"}}}}}}});
  }
  const auto tool = m["params"].value("name", "");
  if (tool == "echo") {
    return json_answer(m, {{"content", {{{"type", "text"}, {"text", "plain json"}}}}});
  }
  if (tool == "streamed") {
    test::FakeReply r;
    r.headers = {{"Content-Type", "text/event-stream"}};
    const json progress = {{"jsonrpc", "2.0"},
                           {"method", "notifications/progress"},
                           {"params",
                            {{"progressToken", m["params"]["_meta"]["progressToken"]},
                             {"progress", 1},
                             {"total", 2}}}};
    const json answer = {{"jsonrpc", "2.0"},
                         {"id", m["id"]},
                         {"result", {{"content", {{{"type", "text"}, {"text", "streamed"}}}}}}};
    r.chunks = {"id: 1\ndata: \n\n", "data: " + progress.dump() + "\n\n",
                "event: message\ndata: " + answer.dump() + "\n\n"};
    return r;
  }
  if (tool == "unanswered") {
    test::FakeReply r;
    r.headers = {{"Content-Type", "text/event-stream"}};
    r.chunks = {": nothing but a comment\n\n"};
    return r;
  }
  if (tool == "big") {
    return json_answer(m, {{"content", {{{"type", "text"}, {"text", std::string(5000, 'x')}}}}});
  }
  if (tool == "silent") {
    auto r = json_answer(m, {{"content", json::array()}});
    r.delay = std::chrono::milliseconds(3000);
    return r;
  }
  if (tool == "dribble") {
    // Keep-alive comments for a while, then the answer: alive, but slow.
    test::FakeReply r;
    r.headers = {{"Content-Type", "text/event-stream"}};
    for (int i = 0; i < 30; ++i)
      r.chunks.push_back(": keep-alive\n\n");
    r.chunks.push_back(
        "data: " + json{{"jsonrpc", "2.0"}, {"id", m["id"]}, {"result", json::object()}}.dump() +
        "\n\n");
    r.chunk_delay = std::chrono::milliseconds(100);
    return r;
  }
  if (tool == "expire") return test::FakeReply{.status = 404, .body = "session gone"};
  return test::FakeReply{.status = 500, .body = "upstream exploded"};
}

}  // namespace

TEST_CASE("Streamable HTTP: JSON and event-stream answers, headers, HTTP errors", "[mcp]") {
  test::FakeLlmServer server;
  server.set_handler(serve);
  McpClientOptions options;
  options.name = "scripted";
  options.max_message_bytes = 4096;
  options.server =
      McpHttpServer{.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/mcp",
                    .headers = {{"X-Tenant", "acme"}},
                    .bearer_token = "s3cret",
                    .idle_timeout = std::chrono::milliseconds(300)};
  auto connected = McpClient::connect(options);
  REQUIRE(connected.ok());
  auto& client = **connected;
  CHECK(client.server_info().name == "scripted");

  auto echoed = client.call_tool("echo", json::object());
  REQUIRE(echoed.ok());
  CHECK(echoed->text() == "plain json");

  std::atomic<int> progress_seen{0};
  McpCallOptions with_progress;
  with_progress.on_progress = [&](const McpProgress& p) { progress_seen += p.total == 2; };
  auto streamed = client.call_tool("streamed", json::object(), with_progress);
  REQUIRE(streamed.ok());
  CHECK(streamed->text() == "streamed");
  CHECK(progress_seen == 1);

  auto unanswered = client.call_tool("unanswered", json::object());
  REQUIRE_FALSE(unanswered.ok());
  CHECK_THAT(unanswered.error().message(), Catch::Contains("the response carried no answer"));

  auto big = client.call_tool("big", json::object());
  REQUIRE_FALSE(big.ok());
  CHECK_THAT(big.error().message(), Catch::Contains("over the limit of 4096"));

  // A server that says nothing for idle_timeout holds no transfer beyond it.
  auto silent = client.call_tool("silent", json::object());
  REQUIRE_FALSE(silent.ok());
  CHECK(silent.error().code() == ErrorCode::timeout);
  CHECK_THAT(silent.error().message(), Catch::Contains("nothing received for 300 ms"));

  // A stream kept alive past the call's timeout: the call ends at its deadline, the response
  // is cut, and the connection serves the next call.
  McpCallOptions short_wait;
  short_wait.timeout = std::chrono::milliseconds(250);
  auto dribbled = client.call_tool("dribble", json::object(), short_wait);
  REQUIRE_FALSE(dribbled.ok());
  CHECK(dribbled.error().code() == ErrorCode::timeout);
  CHECK(client.call_tool("echo", json::object()).ok());

  auto failed = client.call_tool("explode", json::object());
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code() == ErrorCode::unavailable);
  CHECK_THAT(failed.error().message(), Catch::Contains("HTTP 500: upstream exploded"));

  const auto requests = server.requests();
  REQUIRE(requests.size() >= 3);
  for (const auto& r : requests) {
    CHECK(r.method == "POST");
    CHECK(r.path == "/mcp");
    CHECK(r.header("authorization") == "Bearer s3cret");
    CHECK(r.header("x-tenant") == "acme");
    CHECK_THAT(r.header("accept"),
               Catch::Contains("application/json") && Catch::Contains("text/event-stream"));
  }
  CHECK(requests[0].header("mcp-protocol-version").empty());  // initialize itself
  CHECK(requests[0].header("mcp-session-id").empty());
  CHECK(requests[1].json["method"] == "notifications/initialized");
  CHECK(requests[1].header("mcp-session-id") == "session-7");
  CHECK(requests[2].header("mcp-protocol-version") == "2025-11-25");
}

TEST_CASE("Streamable HTTP: a session the server ended is started anew", "[mcp][faults]") {
  test::FakeLlmServer server;
  server.set_handler(serve);
  McpClientOptions options;
  options.name = "scripted";
  options.restart_backoff = std::chrono::milliseconds(10);
  options.server =
      McpHttpServer{.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/mcp"};
  auto connected = McpClient::connect(options);
  REQUIRE(connected.ok());
  auto& client = **connected;
  auto expired = client.call_tool("expire", json::object());
  REQUIRE_FALSE(expired.ok());
  CHECK_THAT(expired.error().message(), Catch::Contains("HTTP 404"));
  REQUIRE(rein::testing::eventually([&] { return client.stats().restarts == 1; }));
  CHECK(client.call_tool("echo", json::object()).ok());
  int handshakes = 0;
  for (const auto& r : server.requests())
    handshakes += r.json.value("method", "") == "initialize";
  CHECK(handshakes == 2);
}
