// What the MCP tests share: where node and the servers are, a client of the misbehaving test
// server, and a log capture (servers' stderr and the client's warnings go to rein's logger).
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

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

// A connected client; the test fails, saying why, when it cannot connect.
inline std::shared_ptr<McpClient> connect_or_fail(McpClientOptions options) {
  auto client = McpClient::connect(std::move(options));
  if (!client) FAIL(client.error().message());
  return *client;
}

// Progress updates as a call's on_progress receives them (on the client's thread).
class ProgressLog {
 public:
  McpCallOptions options() {
    McpCallOptions o;
    o.on_progress = [this](const McpProgress& p) {
      std::lock_guard lock(mutex_);
      updates_.push_back(p);
    };
    return o;
  }
  std::vector<McpProgress> updates() const {
    std::lock_guard lock(mutex_);
    return updates_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<McpProgress> updates_;
};

// A fresh, empty directory under the system's temporary folder.
inline std::filesystem::path fresh_directory(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             (name + "-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The path of a reference server's entry point under REIN_MCP_SERVERS.
inline std::string reference_server(const std::string& package) {
  return std::string(REIN_MCP_SERVERS) + "/@modelcontextprotocol/" + package + "/dist/index.js";
}

// A loopback TCP port nobody listens on right now.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A background process for the test's life (an HTTP server); killed on destruction.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::map<std::string, std::string> env) {
    std::vector<std::string> env_text;
    for (char** e = environ; *e; ++e)
      env_text.emplace_back(*e);
    for (const auto& [k, v] : env)
      env_text.push_back(k + "=" + v);
    std::vector<char*> args, envp;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    for (auto& e : env_text)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;  // its chatter is not the test's output
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    if (::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

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
