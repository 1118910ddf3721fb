// mcp_call_overhead: the time rein adds to one MCP tools/call over stdio. Most of a call is
// node and two pipe hops, which no client avoids; what matters is rein's share on top. The
// project's test server (tests/mcp/misbehaving_server.mjs, its echo tool) is started twice
// and the same call made three ways:
//   direct    a minimal pipe client here: write one request line, read lines (parsing each)
//             until the answer with that id arrives;
//   client    McpClient::call_tool("echo"): the client's writer, reader thread and checks;
//   registry  ToolRegistry::invoke("fake.echo") after register_mcp_tools, the path a run
//             takes: input schema, the registry's guards and deadline, the client, the
//             output schema.
// The three alternate in rounds (after a warm-up) so that machine noise hits all alike.
// Fields: {direct,client,registry}_{median,p99}_us per call, {client,registry}_overhead_us
// (median minus the direct median), rounds, calls_per_round, failed, node.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "benchmarks.hpp"
#include "rein/mcp_client.hpp"
#include "rein/mcp_tools.hpp"
#include "rein/tool_registry.hpp"

extern char** environ;

namespace rein::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kRounds = 5;
constexpr int kCallsPerRound = 200;
constexpr int kWarmup = 100;
constexpr const char* kText = "hello from rein_bench";

// The first executable `name` in $PATH; "" when there is none.
std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "";
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// The server spoken to without rein: newline-delimited JSON-RPC over its stdin and stdout.
class DirectServer {
 public:
  explicit DirectServer(const std::string& node) {
    int in[2], out[2];  // in: our requests to its stdin; out: its stdout to us
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    std::string script = REIN_MCP_TEST_SERVER, program = node;
    char* argv[] = {program.data(), script.data(), nullptr};
    if (::posix_spawn(&pid_, node.c_str(), &actions, nullptr, argv, environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~DirectServer() {
    ::close(to_);  // end of file: the server exits
    ::close(from_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  DirectServer(const DirectServer&) = delete;
  DirectServer& operator=(const DirectServer&) = delete;

  // The handshake: initialize, its answer, notifications/initialized.
  bool initialize() {
    if (pid_ <= 0) return false;
    const json init = {{"jsonrpc", "2.0"},
                       {"id", 0},
                       {"method", "initialize"},
                       {"params",
                        {{"protocolVersion", "2025-11-25"},
                         {"capabilities", json::object()},
                         {"clientInfo", {{"name", "rein_bench"}, {"version", "1"}}}}}};
    if (!send(init.dump()) || !answer(0)) return false;
    return send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  }

  // One tools/call of echo; true when the answer echoes the text.
  bool echo() {
    const std::int64_t id = ++last_id_;
    const std::string line =
        R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
        R"(,"method":"tools/call","params":{"name":"echo","arguments":{"text":")" + kText + "\"}}}";
    if (!send(line)) return false;
    const auto result = answer(id);
    if (!result || !result->contains("structuredContent")) return false;
    const json& structured = (*result)["structuredContent"];
    return structured.is_object() && structured.value("text", "") == kText;
  }

 private:
  bool send(const std::string& line) {
    const std::string text = line + "\n";
    for (std::size_t at = 0; at < text.size();) {
      const ssize_t n = ::write(to_, text.data() + at, text.size() - at);
      if (n <= 0) return false;
      at += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads lines until the response to `id`; its "result", or nullopt on error or end of file.
  std::optional<json> answer(std::int64_t id) {
    for (;;) {
      for (auto nl = buffer_.find('\n'); nl != std::string::npos; nl = buffer_.find('\n')) {
        auto message = json::parse(std::string_view(buffer_).substr(0, nl), nullptr, false);
        buffer_.erase(0, nl + 1);
        if (message.is_object() && message.value("id", json()) == id) {
          if (!message.contains("result")) return std::nullopt;
          return std::move(message["result"]);
        }
      }
      pollfd p{from_, POLLIN, 0};
      if (::poll(&p, 1, 10'000) <= 0) return std::nullopt;  // a server that hangs
      char chunk[65536];
      const ssize_t n = ::read(from_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::int64_t last_id_ = 0;
  std::string buffer_;
};

double at(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

double tenths(double x) {
  return std::round(x * 10) / 10;
}

json failure(const std::string& message) {
  std::fprintf(stderr, "mcp_call_overhead: %s\n", message.c_str());
  return {{"error", message}};
}

json mcp_call_overhead() {
  ::signal(SIGPIPE, SIG_IGN);  // a server that dies makes writes fail, not the bench
  const std::string node = find_on_path("node");
  if (node.empty()) {
    return failure("node (Node.js) is not on PATH; it runs the test server " +
                   std::string(REIN_MCP_TEST_SERVER));
  }

  DirectServer direct(node);
  if (!direct.initialize()) return failure("the directly driven server did not initialize");

  McpClientOptions options;
  options.name = "fake";
  McpStdioServer server;
  server.command = node;
  server.args = {REIN_MCP_TEST_SERVER};
  options.server = server;
  auto client = McpClient::connect(std::move(options));
  if (!client) return failure("McpClient::connect: " + client.error().message());
  ToolRegistry registry;
  if (auto r = register_mcp_tools(registry, *client); !r) {
    return failure("register_mcp_tools: " + r.error().message());
  }

  const json arguments = {{"text", kText}};
  struct Path {
    const char* name;
    std::function<bool()> call;
    std::vector<double> us{};
  };
  std::vector<Path> paths;
  paths.push_back({"direct", [&] { return direct.echo(); }});
  paths.push_back({"client", [&] {
                     auto r = (*client)->call_tool("echo", arguments);
                     return r && !r->is_error && r->structured_content.is_object() &&
                            r->structured_content.value("text", "") == kText;
                   }});
  paths.push_back({"registry", [&] {
                     auto r = registry.invoke("fake.echo", arguments);
                     return r.ok() && r.data.is_object() && r.data.value("text", "") == kText;
                   }});

  int failed = 0;
  for (auto& p : paths) {
    for (int i = 0; i < kWarmup; ++i)
      failed += p.call() ? 0 : 1;
  }
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t k = 0; k < paths.size(); ++k) {  // each round starts with another path
      auto& p = paths[(k + static_cast<std::size_t>(round)) % paths.size()];
      for (int i = 0; i < kCallsPerRound; ++i) {
        const auto start = Clock::now();
        const bool ok = p.call();
        p.us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        failed += ok ? 0 : 1;
      }
    }
  }

  json out = json::object();
  for (const auto& p : paths) {
    out[std::string(p.name) + "_median_us"] = tenths(at(p.us, 0.5));
    out[std::string(p.name) + "_p99_us"] = tenths(at(p.us, 0.99));
  }
  const double direct_median = at(paths[0].us, 0.5);
  out["client_overhead_us"] = tenths(at(paths[1].us, 0.5) - direct_median);
  out["registry_overhead_us"] = tenths(at(paths[2].us, 0.5) - direct_median);
  out["rounds"] = kRounds;
  out["calls_per_round"] = kCallsPerRound;
  out["failed"] = failed;
  out["node"] = node;
  return out;
}

}  // namespace

void add_mcp_scenarios(std::vector<Scenario>& out) {
  out.push_back({"mcp_call_overhead", [] { return mcp_call_overhead(); }});
}

}  // namespace rein::bench
