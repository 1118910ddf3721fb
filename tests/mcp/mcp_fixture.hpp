// What the MCP tests share: where node and the servers are, a client of the misbehaving test
// server, and a log capture (servers' stderr and the client's warnings go to rein's logger).
#pragma once

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "rein/logging.hpp"
#include "rein/mcp_client.hpp"

namespace rein::testing {

inline McpStdioServer node_server(std::string script, std::vector<std::string> args = {},
                                  std::map<std::string, std::string> env = {}) {
  McpStdioServer s;
  s.command = REIN_NODE_PATH;
  s.args.push_back(std::move(script));
  s.args.insert(s.args.end(), args.begin(), args.end());
  s.env = std::move(env);
  return s;
}

inline McpClientOptions misbehaving(std::map<std::string, std::string> env = {}) {
  McpClientOptions o;
  o.name = "fake";
  o.server = node_server(REIN_MCP_MISBEHAVING, {}, std::move(env));
  o.restart_backoff = std::chrono::milliseconds(20);
  return o;
}

// A fresh, empty directory under the system's temporary folder.
inline std::filesystem::path fresh_directory(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             (name + "-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Captures rein's log lines while alive.
class LogCapture {
 public:
  LogCapture() {
    rein::set_log_handler([this](LogLevel, std::string_view message) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(message);
    });
  }
  ~LogCapture() { rein::set_log_handler(nullptr); }
  bool contains(std::string_view text) const {
    std::lock_guard lock(mutex_);
    for (const auto& l : lines_) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

}  // namespace rein::testing
