// rein::McpClient: one connection to a Model Context Protocol server.
//
// The client speaks JSON-RPC 2.0 to a server over stdio (it spawns the server and reads its
// stdout line by line; the server's stderr goes to rein's logger) or over Streamable HTTP
// (libcurl; each request is a POST answered by JSON or by an event stream). connect() runs
// the initialize handshake and negotiates the protocol revision: the client offers the first
// of McpClientOptions::protocol_versions and accepts any of them in the answer; a server that
// answers with another revision is refused. The revisions understood are 2025-11-25 and
// 2025-06-18 (the wire differs only in details this client reads either way).
//
// Everything a server sends is untrusted input. A message that is not JSON, is larger than
// max_message_bytes, is not JSON-RPC 2.0, or answers an id the client never sent (or answered
// already) cuts the server off: the connection is closed, every call in flight fails with an
// error that says what the server did, and (with restart) a fresh server is started after a
// backoff. A server that exits or closes its pipes fails the calls in flight the same way. A
// call that outlives its timeout fails with ErrorCode::timeout and the server is told with
// notifications/cancelled; so is a call whose CancellationToken fires.
//
// Server-to-client requests: ping is answered; roots/list answers McpClientOptions::roots
// (the roots capability is declared only when roots are given); elicitation/create goes to
// McpClientOptions::on_elicitation (declared only when set); anything else is refused with
// "method not found". notifications/tools/list_changed marks the catalog stale (and calls
// on_tools_changed); notifications/message goes to the logger; notifications/progress goes to
// the progress callback of the call whose token it names.
//
// Thread safety: every member may be called from any thread. Completion callbacks run on the
// client's reader thread (stdio) or I/O thread (HTTP), or on the calling thread when a call
// fails before it is sent; they must not block.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/cancellation.hpp"
#include "rein/circuit_breaker.hpp"
#include "rein/error.hpp"

namespace rein {

// A server started as a child process, spoken to over its stdin and stdout.
struct McpStdioServer {
  std::string command{};                      // looked up on PATH when it has no '/'
  std::vector<std::string> args{};            // argv[1...]
  std::map<std::string, std::string> env{};   // added to (or replacing) the inherited variables
  bool inherit_env = true;                    // false: the child sees only `env` (and PATH)
  std::filesystem::path working_directory{};  // "" : the host's
};

// A server reached over Streamable HTTP at one endpoint URL.
struct McpHttpServer {
  std::string url{};                             // e.g. "http://127.0.0.1:3001/mcp"
  std::map<std::string, std::string> headers{};  // sent with every request
  std::string bearer_token{};                    // "Authorization: Bearer ..." when not ""
  bool verify_tls = true;
  std::chrono::milliseconds connect_timeout{10'000};
  // A response that sends nothing for this long is ended and its request fails, so that a
  // server that hangs holds no transfer for ever (progress and events count as something);
  // zero: no limit.
  std::chrono::milliseconds idle_timeout{300'000};
};

// A server's answer to elicitation/create: "accept" (with `content`), "decline" or "cancel".
struct McpElicitationResult {
  std::string action = "decline";
  nlohmann::json content = nlohmann::json::object();
};
// Asked on the client's reader thread; may block (the server waits for the person).
using McpElicitationHandler = std::function<McpElicitationResult(
    const std::string& message, const nlohmann::json& requested_schema)>;

struct McpRoot {
  std::string uri{};  // file:// URI
  std::string name{};
};

struct McpClientOptions {
  // How rein names this server: the namespace of its tools ("fs" gives "fs.read_file"), its
  // identity in logs and audit. [A-Za-z][A-Za-z0-9_-]*.
  std::string name{};
  std::variant<McpStdioServer, McpHttpServer> server{};
  // Offered in this order of preference; the first is sent in initialize.
  std::vector<std::string> protocol_versions{"2025-11-25", "2025-06-18"};
  std::chrono::milliseconds initialize_timeout{30'000};
  std::chrono::milliseconds request_timeout{60'000};  // a call's default timeout
  std::size_t max_message_bytes = 8u << 20;           // one JSON-RPC message from the server
  // A server that exits or is cut off after a successful connect() is started (over HTTP:
  // reconnected) again after a backoff that doubles from restart_backoff up to
  // max_restart_backoff; calls made while it is down fail at once with ErrorCode::unavailable
  // (transient).
  bool restart = true;
  std::chrono::milliseconds restart_backoff{200};
  std::chrono::milliseconds max_restart_backoff{10'000};
  int max_restarts = 20;  // in a row without a successful handshake; then the client stays closed
  // Transport failures (not tool errors) open the server's circuit: calls fail fast until it
  // half-opens.
  CircuitBreakerOptions circuit_breaker{};
  std::vector<McpRoot> roots{};
  McpElicitationHandler on_elicitation{};
  std::function<void()> on_tools_changed{};  // called on the reader thread; must not block
  std::string client_name = "rein";
};

// What initialize told us.
struct McpServerInfo {
  std::string name{};
  std::string version{};
  std::string title{};
  std::string protocol_version{};
  nlohmann::json capabilities = nlohmann::json::object();
  std::string instructions{};  // untrusted text from the server
};

// One entry of tools/list.
struct McpTool {
  std::string name{};
  std::string title{};
  std::string description{};
  nlohmann::json input_schema = nlohmann::json::object();
  nlohmann::json output_schema{};                         // null when the tool declares none
  nlohmann::json annotations = nlohmann::json::object();  // hints; untrusted
  nlohmann::json to_json() const;                         // the wire form
};

// The result of tools/call, as the server sent it (content items, structuredContent, isError).
struct McpToolResult {
  nlohmann::json content = nlohmann::json::array();
  nlohmann::json structured_content{};  // null when absent
  bool is_error = false;
  // The text of the text items, joined by newlines.
  std::string text() const;
};

struct McpProgress {
  double progress = 0;
  std::optional<double> total{};
  std::string message{};
};

struct McpCallOptions {
  std::optional<std::chrono::milliseconds> timeout{};  // nullopt: request_timeout
  CancellationToken cancellation{};
  // Given, the request carries a progress token and each notifications/progress for it
  // arrives here (on the reader thread).
  std::function<void(const McpProgress&)> on_progress{};
};

struct McpClientStats {
  std::uint64_t restarts = 0;      // servers started after the first
  std::uint64_t cut_offs = 0;      // connections closed for a protocol violation
  std::uint64_t list_changed = 0;  // notifications/tools/list_changed received
  bool connected = false;
};

class McpClient {
 public:
  using Completion = std::function<void(Result<nlohmann::json>)>;

  // Starts (or reaches) the server and runs the handshake. invalid_argument names the option
  // at fault; unavailable when the server cannot be started or does not answer initialize in
  // time; invalid_argument when it answers with a revision not offered.
  static Result<std::shared_ptr<McpClient>> connect(McpClientOptions options);
  // Closes the connection (the child is sent EOF, then SIGTERM, then SIGKILL).
  ~McpClient();
  McpClient(const McpClient&) = delete;
  McpClient& operator=(const McpClient&) = delete;

  const std::string& name() const noexcept;
  McpServerInfo server_info() const;

  // Any request. `done` gets the "result" member, or an Error: the server's JSON-RPC error
  // (invalid_argument for -32602 / -32600, not_found for -32601, internal otherwise, the
  // message and code quoted), timeout, cancelled, or unavailable for a transport failure.
  void request_async(std::string method, nlohmann::json params, McpCallOptions options,
                     Completion done);
  Result<nlohmann::json> request(std::string method, nlohmann::json params,
                                 McpCallOptions options = {});

  // Every tool, following nextCursor to the last page; remembered as the catalog.
  Result<std::vector<McpTool>> list_tools(McpCallOptions options = {});
  // The catalog from the last list_tools (empty before the first).
  std::vector<McpTool> tools() const;
  // True once the server said its tool list changed since the last list_tools.
  bool tools_stale() const;

  void call_tool_async(std::string tool, nlohmann::json arguments, McpCallOptions options,
                       std::function<void(Result<McpToolResult>)> done);
  Result<McpToolResult> call_tool(std::string tool, nlohmann::json arguments,
                                  McpCallOptions options = {});

  // Plain accessors; every page is followed.
  Result<nlohmann::json> list_resources(McpCallOptions options = {});  // the "resources" array
  Result<nlohmann::json> read_resource(const std::string& uri, McpCallOptions options = {});
  Result<nlohmann::json> list_prompts(McpCallOptions options = {});  // the "prompts" array
  Result<nlohmann::json> get_prompt(const std::string& name, const nlohmann::json& arguments,
                                    McpCallOptions options = {});
  Status ping(McpCallOptions options = {});

  McpClientStats stats() const;
  void close();

  struct Impl;  // src/mcp/mcp_session.hpp

 private:
  explicit McpClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// The tool result of a tools/call answer: content must be an array, isError a boolean; a
// structuredContent that is present must be an object. invalid_argument names the field.
Result<McpToolResult> parse_mcp_tool_result(const nlohmann::json& result);
// The tools of one tools/list page; invalid_argument names the entry and field at fault.
Result<std::vector<McpTool>> parse_mcp_tools(const nlohmann::json& tools);

}  // namespace rein
