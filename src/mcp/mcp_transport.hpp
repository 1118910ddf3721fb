// Internal: how an MCP session moves JSON-RPC messages. A transport carries whole messages
// (one JSON text each) both ways and knows nothing of their meaning; the session
// (mcp_session.cpp) matches answers to requests, keeps time and decides what is a violation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rein/error.hpp"
#include "rein/mcp_client.hpp"

namespace rein::detail {

class McpTransport {
 public:
  struct Handlers {
    // One message from the server (a JSON text, not yet parsed). `text` is at most the
    // transport's message limit; a larger one is reported through on_closed or
    // on_request_failed instead.
    std::function<void(std::string_view text)> on_message;
    // The connection ended (the server exited, closed its output, or stop() was called). Called
    // once, last.
    std::function<void(Error reason)> on_closed;
    // The server broke the protocol at the transport level (a message over the limit); the
    // session cuts it off, saying `what` the server did.
    std::function<void(std::string what)> on_violation;
    // A request could not be delivered or answered at the transport level (HTTP only: a
    // status, a broken stream, an oversized body). The session fails that request.
    std::function<void(std::int64_t id, Error reason)> on_request_failed;
  };

  virtual ~McpTransport() = default;
  // Starts the connection (a child process, or nothing yet for HTTP).
  virtual Status start(Handlers handlers) = 0;
  // Sends one message. `request_id` is the id of a request that expects an answer (nullopt for
  // notifications and for answers to the server's requests). An error means the message was
  // not sent; the connection may then be closing.
  virtual Status send(std::string text, std::optional<std::int64_t> request_id) = 0;
  // Ends the connection: `reason` reaches on_closed. Never blocks on the server; safe from a
  // handler.
  virtual void stop(Error reason) = 0;
  // Headers that follow initialize (HTTP: MCP-Protocol-Version).
  virtual void set_protocol_version(const std::string& version) = 0;
  // Request `id` timed out or was cancelled: whatever still carries its answer may be dropped
  // (HTTP: its response is cut at the next byte). Safe from any thread.
  virtual void abandon(std::int64_t) {}
};

// A child process spoken to over stdin/stdout; its stderr lines go to the logger, tagged with
// `server_name`.
std::unique_ptr<McpTransport> make_stdio_transport(const McpStdioServer& server,
                                                   std::string server_name,
                                                   std::size_t max_message_bytes);

// Streamable HTTP (needs REIN_WITH_CURL; otherwise start() fails with unavailable).
std::unique_ptr<McpTransport> make_http_transport(const McpHttpServer& server,
                                                  std::string server_name,
                                                  std::size_t max_message_bytes);

}  // namespace rein::detail
