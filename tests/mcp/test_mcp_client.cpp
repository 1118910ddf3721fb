// McpClient against the misbehaving test server: the protocol's ordinary paths (handshake,
// pagination, structured content, progress, server-to-client requests, the stateless
// revision) and every way a server can go wrong (a crash mid-call, a hang past the deadline,
// invalid JSON, an oversized message, wrong or repeated ids).
#include <catch2/catch.hpp>

#include <fstream>
#include <future>
#include <mutex>

#include "../support/waiting.hpp"
#include "mcp_fixture.hpp"

using namespace rein;
using namespace rein::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

int count_lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  int n = 0;
  for (std::string line; std::getline(in, line);)
    ++n;
  return n;
}

}  // namespace

TEST_CASE("the client shakes hands, pages through tools and logs the server's stderr", "[mcp]") {
  LogCapture log;
  auto client = connect_or_fail(misbehaving());
  const auto info = client->server_info();
  CHECK(info.name == "misbehaving");
  CHECK(info.version == "1.0.0");
  CHECK(info.protocol_version == "2025-11-25");
  CHECK(info.capabilities["tools"]["listChanged"] == true);

  auto tools = client->list_tools();
  REQUIRE(tools.ok());
  CHECK(tools->size() == 15);  // eight pages of two
  CHECK(tools->front().name == "echo");
  CHECK(tools->front().annotations["readOnlyHint"] == true);
  CHECK(tools->front().output_schema["required"] == json::array({"text"}));
  CHECK(client->tools().size() == 15);
  CHECK_FALSE(client->tools_stale());
  CHECK(client->ping().ok());
  CHECK(eventually([&] { return log.contains("misbehaving server started"); }));
  CHECK(log.contains("mcp server 'fake' stderr"));
}

TEST_CASE("the client offers 2025-06-18 when asked and refuses a revision it does not speak",
          "[mcp]") {
  auto options = misbehaving();
  options.protocol_versions = {"2025-06-18"};
  auto client = connect_or_fail(options);
  CHECK(client->server_info().protocol_version == "2025-06-18");

  auto old = McpClient::connect(misbehaving({{"MCP_PROTOCOL_VERSION", "2024-11-05"}}));
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().code() == ErrorCode::invalid_argument);
  CHECK_THAT(old.error().message(), Catch::Contains("'2024-11-05', which rein does not speak"));
}

TEST_CASE("the stateless revision is used where a server offers it, initialize otherwise",
          "[mcp]") {
  auto options = misbehaving({{"MCP_STATELESS", "1"}});
  options.protocol_versions = {"2026-07-28", "2025-11-25"};
  auto client = connect_or_fail(options);
  CHECK(client->server_info().protocol_version == "2026-07-28");
  auto echoed = client->call_tool("echo", {{"text", "no handshake"}});
  REQUIRE(echoed.ok());  // the server refuses requests without the revision in _meta
  CHECK(echoed->structured_content["text"] == "no handshake");

  auto legacy = misbehaving();
  legacy.protocol_versions = {"2026-07-28", "2025-11-25"};
  auto fallback = connect_or_fail(legacy);
  CHECK(fallback->server_info().protocol_version == "2025-11-25");
  CHECK(fallback->call_tool("echo", {{"text", "x"}}).ok());
}

TEST_CASE("tool results: structured content checked against outputSchema, isError, progress",
          "[mcp]") {
  auto client = connect_or_fail(misbehaving());
  REQUIRE(client->list_tools().ok());

  auto echoed = client->call_tool("echo", {{"text", "hello"}});
  REQUIRE(echoed.ok());
  CHECK(echoed->text() == "hello");
  CHECK(echoed->structured_content == json{{"text", "hello"}});
  CHECK_FALSE(echoed->is_error);

  auto bad = client->call_tool("bad_structured", json::object());
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message(), Catch::Contains("violates its outputSchema"));
  CHECK_THAT(bad.error().message(), Catch::Contains("/text"));

  auto failed = client->call_tool("fail", json::object());
  REQUIRE(failed.ok());
  CHECK(failed->is_error);
  CHECK(failed->text() == "the tool failed on purpose");

  auto unknown = client->call_tool("no_such_tool", json::object());
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code() == ErrorCode::invalid_argument);
  CHECK_THAT(unknown.error().message(), Catch::Contains("-32602"));

  ProgressLog progress;
  auto slow = client->call_tool("slow", {{"ms", 30}}, progress.options());
  REQUIRE(slow.ok());
  CHECK(slow->text() == "done");
  const auto updates = progress.updates();
  REQUIRE(updates.size() == 3);
  CHECK(updates[2].progress == 3);
  CHECK(updates[2].total == 3);
  CHECK(updates[0].message == "step 1");
}

TEST_CASE("the client answers the server's ping and elicitation requests", "[mcp]") {
  auto options = misbehaving();
  std::mutex mutex;  // the handler runs on the client's thread
  std::string asked;
  options.on_elicitation = [&](const std::string& message, const json& schema) {
    std::lock_guard lock(mutex);
    asked = message + " " + schema["properties"]["approve"]["type"].get<std::string>();
    return McpElicitationResult{"accept", {{"approve", true}}};
  };
  auto client = connect_or_fail(options);
  auto pong = client->call_tool("server_ping", json::object());
  REQUIRE(pong.ok());
  CHECK(pong->text() == "pong:{}");
  auto elicited = client->call_tool("elicit", json::object());
  REQUIRE(elicited.ok());
  CHECK(json::parse(elicited->text()) ==
        json{{"action", "accept"}, {"content", {{"approve", true}}}});
  {
    std::lock_guard lock(mutex);
    CHECK(asked == "Approve? boolean");
  }

  // Without a handler the capability is not declared, and the request is refused.
  auto plain = connect_or_fail(misbehaving());
  auto refused = plain->call_tool("elicit", json::object());
  REQUIRE(refused.ok());
  CHECK(json::parse(refused->text())["code"] == -32601);
}

TEST_CASE("a server that crashes mid-call fails the call and is restarted", "[mcp][faults]") {
  const auto dir = fresh_directory("rein-mcp-crash");
  const auto starts = dir / "starts.log";
  LogCapture log;
  auto client = connect_or_fail(misbehaving({{"MCP_START_LOG", starts.string()}}));
  auto crashed = client->call_tool("crash", json::object());
  REQUIRE_FALSE(crashed.ok());
  CHECK(crashed.error().code() == ErrorCode::unavailable);
  CHECK_THAT(crashed.error().message(), Catch::Contains("MCP server 'fake' exited with status 3"));

  REQUIRE(eventually([&] { return client->stats().connected; }));
  CHECK(client->stats().restarts == 1);
  CHECK(count_lines(starts) == 2);
  auto echoed = client->call_tool("echo", {{"text", "back"}});
  REQUIRE(echoed.ok());
  CHECK(echoed->text() == "back");
  std::filesystem::remove_all(dir);
}

TEST_CASE("without restart a crashed server stays down and calls fail at once", "[mcp][faults]") {
  auto options = misbehaving();
  options.restart = false;
  auto client = connect_or_fail(options);
  REQUIRE_FALSE(client->call_tool("crash", json::object()).ok());
  auto after = client->call_tool("echo", {{"text", "x"}});
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().code() == ErrorCode::unavailable);
  CHECK_THAT(after.error().message(), Catch::Contains("is not connected"));
  CHECK_THAT(after.error().message(), Catch::Contains("exited with status 3"));
}

TEST_CASE("a call past its deadline times out and the server is told to cancel it",
          "[mcp][faults]") {
  auto client = connect_or_fail(misbehaving());
  McpCallOptions short_wait;
  short_wait.timeout = 200ms;
  auto hung = client->call_tool("hang", json::object(), short_wait);
  REQUIRE_FALSE(hung.ok());
  CHECK(hung.error().code() == ErrorCode::timeout);
  CHECK_THAT(hung.error().message(), Catch::Contains("did not answer tools/call in time"));

  CancellationSource cancel;
  McpCallOptions cancellable;
  cancellable.cancellation = cancel.token();
  std::promise<Result<McpToolResult>> promise;
  client->call_tool_async("hang", json::object(), cancellable,
                          [&](Result<McpToolResult> r) { promise.set_value(std::move(r)); });
  cancel.cancel();
  auto cancelled = promise.get_future().get();
  REQUIRE_FALSE(cancelled.ok());
  CHECK(cancelled.error().code() == ErrorCode::cancelled);

  auto ids = client->call_tool("cancelled_ids", json::object());
  REQUIRE(ids.ok());
  CHECK(json::parse(ids->text()).size() == 2);  // both calls were cancelled on the server too
  CHECK(client->stats().connected);             // a slow tool is not a broken server
}

TEST_CASE("a server that breaks the protocol is cut off with a clear error", "[mcp][faults]") {
  struct Case {
    std::string tool;
    json args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"garbage", json::object(), "sent a line that is not JSON: {this is not json"},
      {"non_jsonrpc", json::object(), "not JSON-RPC 2.0"},
      {"wrong_id", json::object(), "which is not a request in flight"},
      {"huge", {{"bytes", 100000}}, "over the limit of 65536"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.tool) {
      auto options = misbehaving();
      options.max_message_bytes = 65536;
      auto client = connect_or_fail(options);
      auto broken = client->call_tool(c.tool, c.args);
      REQUIRE_FALSE(broken.ok());
      CHECK(broken.error().code() == ErrorCode::unavailable);
      CHECK_THAT(broken.error().message(), Catch::Contains(c.says));
      CHECK_THAT(broken.error().message(), Catch::Contains("cut off"));
      CHECK(client->stats().cut_offs == 1);
      // The replacement server works.
      REQUIRE(eventually([&] { return client->stats().connected; }));
      CHECK(client->call_tool("echo", {{"text", "after"}}).ok());
    }
  }
}

TEST_CASE("an answer repeated for one id cuts the server off", "[mcp][faults]") {
  auto client = connect_or_fail(misbehaving());
  auto first = client->call_tool("duplicate_id", json::object());
  CHECK(first.ok());  // the first answer is taken
  REQUIRE(eventually([&] { return client->stats().cut_offs == 1; }));
}

TEST_CASE("a server that cannot start is a clear error", "[mcp][faults]") {
  McpClientOptions options;
  options.name = "missing";
  options.server = McpStdioServer{.command = "/nonexistent/mcp-server"};
  auto client = McpClient::connect(options);
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().code() == ErrorCode::unavailable);
  CHECK_THAT(client.error().message(), Catch::Contains("cannot start MCP server 'missing'"));

  options.name = "bad name";
  auto named = McpClient::connect(options);
  REQUIRE_FALSE(named.ok());
  CHECK_THAT(named.error().message(), Catch::Contains("McpClientOptions::name"));

  options.name = "exits";
  options.server = McpStdioServer{.command = "/bin/sh", .args = {"-c", "exit 7"}};
  options.restart = false;
  auto exits = McpClient::connect(options);
  REQUIRE_FALSE(exits.ok());
  CHECK_THAT(exits.error().message(), Catch::Contains("exited with status 7"));
}

TEST_CASE("a server that keeps failing opens its circuit, calls then fail fast", "[mcp][faults]") {
  auto options = misbehaving();
  options.circuit_breaker.failure_threshold = 2;
  options.circuit_breaker.open_duration = 10min;
  auto client = connect_or_fail(options);
  McpCallOptions short_wait;
  short_wait.timeout = 50ms;
  CHECK(client->call_tool("hang", json::object(), short_wait).error().code() == ErrorCode::timeout);
  CHECK(client->call_tool("hang", json::object(), short_wait).error().code() == ErrorCode::timeout);
  auto fast = client->call_tool("echo", {{"text", "x"}});
  REQUIRE_FALSE(fast.ok());
  CHECK(fast.error().code() == ErrorCode::unavailable);
  CHECK_THAT(fast.error().message(), Catch::Contains("circuit open"));
}

TEST_CASE("notifications with fields of the wrong types are ignored, not fatal", "[mcp][faults]") {
  LogCapture log;
  auto client = connect_or_fail(misbehaving());
  auto answered = client->call_tool("bad_types", json::object());
  REQUIRE(answered.ok());
  CHECK(answered->text() == "typed badly");
  CHECK(client->stats().cut_offs == 0);
  CHECK(log.contains("MCP server 'fake' log: {\"n\":1}"));
}

TEST_CASE("a completion may drop the last reference to its client", "[mcp][faults]") {
  // On the reader thread (the server crashed) and on the watchdog (the call timed out): the
  // client closes from inside its own callback, and nothing waits for itself.
  for (const std::string tool : {"crash", "hang"}) {
    DYNAMIC_SECTION(tool) {
      auto holder = std::make_shared<std::shared_ptr<McpClient>>(connect_or_fail(misbehaving()));
      auto done = std::make_shared<std::promise<ErrorCode>>();
      McpCallOptions options;
      options.timeout = 100ms;
      McpClient& client = **holder;
      client.call_tool_async(tool, json::object(), options,
                             [holder, done](Result<McpToolResult> r) {
                               holder->reset();  // ~McpClient, here
                               done->set_value(r ? ErrorCode::internal : r.error().code());
                             });
      holder.reset();
      auto future = done->get_future();
      REQUIRE(future.wait_for(kHangGuard) == std::future_status::ready);
      CHECK(future.get() == (tool == "crash" ? ErrorCode::unavailable : ErrorCode::timeout));
    }
  }
}
