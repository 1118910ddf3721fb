// Internal: McpClient's state. One session per client: the transport of the moment, the
// requests in flight, a watchdog thread that times requests out and restarts a server that
// went away.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mcp/mcp_transport.hpp"
#include "rein/circuit_breaker.hpp"
#include "rein/json_schema.hpp"
#include "rein/mcp_client.hpp"

namespace rein {

struct McpClient::Impl : std::enable_shared_from_this<McpClient::Impl> {
  using Clock = std::chrono::steady_clock;

  struct Pending {
    std::string method;
    Clock::time_point deadline;
    Completion done;
    std::function<void(const McpProgress&)> on_progress;
    std::string progress_token;  // "" when none
    std::uint64_t generation = 0;
    bool sent = false;  // written to the server (a cancel is told only then)
    CancellationRegistration cancel_registration;
  };

  explicit Impl(McpClientOptions options);
  ~Impl();

  // Starts the transport and runs initialize; used by connect() and by restarts.
  Status open_and_initialize();
  void start_watchdog();
  void close();

  void send_request(std::string method, nlohmann::json params, McpCallOptions options,
                    Completion done, bool during_handshake);
  // Ends request `id` (if still in flight) with `outcome`; `abandon` remembers the id so that a
  // late answer is ignored, and tells the server with notifications/cancelled.
  void finish(std::int64_t id, Result<nlohmann::json> outcome, bool abandon = false);

  // Transport events.
  void on_message(std::uint64_t generation, std::string_view text);
  void on_closed(std::uint64_t generation, Error reason);
  void on_request_failed(std::uint64_t generation, std::int64_t id, Error reason);
  void cut_off(std::uint64_t generation, const std::string& what);
  void handle_server_request(std::uint64_t generation, const nlohmann::json& message);
  void handle_notification(const nlohmann::json& message);
  void reply(std::uint64_t generation, const nlohmann::json& id, nlohmann::json result_or_error,
             bool is_error);
  void notify(const std::string& method, nlohmann::json params);

  void watchdog_loop();

  nlohmann::json client_capabilities() const;
  nlohmann::json client_info() const;

  const McpClientOptions options;
  std::string label;  // "MCP server 'name'"

  mutable std::mutex mutex;
  std::condition_variable wake;
  std::shared_ptr<detail::McpTransport> transport;  // null while down
  std::uint64_t generation = 0;                     // bumped by every (re)start
  std::uint64_t closed_generation = 0;              // the last generation whose connection ended
  bool connected = false;
  bool ever_connected = false;  // restarts follow a first successful handshake only
  bool closing = false;
  std::string down_reason;
  std::optional<Clock::time_point> restart_at;
  std::chrono::milliseconds next_backoff{0};
  int failed_restarts = 0;
  std::map<std::int64_t, Pending> pending;
  std::deque<std::int64_t> abandoned_order;
  std::set<std::int64_t> abandoned;
  std::int64_t next_id = 1;
  McpServerInfo info;
  std::vector<McpTool> catalog;
  std::map<std::string, std::shared_ptr<const JsonSchema>> output_schemas;  // compiled on first use
  bool stale = false;
  McpClientStats counters;
  CircuitBreaker breaker;
  Clock::time_point watchdog_wakes_at = Clock::time_point::min();  // what it sleeps until
  std::vector<std::shared_ptr<detail::McpTransport>> retired;  // stopped, destroyed by the watchdog
};

}  // namespace rein
