// The stdio transport: the server is a child process; messages are lines on its stdin and
// stdout, and what it writes to stderr is logged. One reader thread per connection polls both
// output pipes, so a server that floods stderr cannot stall its answers, and a line longer
// than the message limit is cut off before it is buffered whole.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/log.hpp"
#include "mcp/mcp_transport.hpp"

extern char** environ;

namespace rein::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMaxStderrLine = 4096;
constexpr auto kWriteTimeout = 10s;
constexpr auto kExitGrace = 2s;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Writes all of `data` to a non-blocking pipe, waiting for room up to `timeout`. SIGPIPE is
// held back while writing, so a server that has exited gives EPIPE instead of killing the host.
Status write_all(int fd, std::string_view data, std::chrono::steady_clock::duration timeout) {
  sigset_t pipe_only, previous;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Status status;
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLOUT, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
        status = Error(ErrorCode::timeout, "the server did not read its input for 10 s");
        break;
      }
      continue;
    }
    status = Error(ErrorCode::unavailable,
                   std::string("cannot write to the server: ") + std::strerror(errno));
    break;
  }
  if (!sigismember(&previous, SIGPIPE)) {
    // Consume a SIGPIPE raised by this thread's write before unblocking it.
    timespec zero{0, 0};
    while (sigtimedwait(&pipe_only, nullptr, &zero) > 0) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return status;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

class StdioTransport final : public McpTransport {
 public:
  StdioTransport(McpStdioServer server, std::string name, std::size_t max_message)
      : state_(std::make_shared<State>()) {
    state_->server = std::move(server);
    state_->name = std::move(name);
    state_->max_message = max_message;
  }

  ~StdioTransport() override {
    stop(Error(ErrorCode::cancelled, "the client closed the connection"));
    if (reader_.joinable()) {
      if (reader_.get_id() == std::this_thread::get_id()) {
        reader_.detach();  // the state is shared with the thread, which ends on its own
      } else {
        reader_.join();
      }
    }
  }

  Status start(Handlers handlers) override {
    state_->handlers = std::move(handlers);
    if (auto spawned = spawn(*state_); !spawned) return spawned;
    reader_ = std::thread([state = state_] { read_loop(*state); });
    return {};
  }

  Status send(std::string text, std::optional<std::int64_t>) override {
    text.push_back('\n');
    std::lock_guard write_lock(state_->write_mutex);
    if (state_->stdin_fd < 0 || state_->stopping.load()) {
      return Error(ErrorCode::unavailable, "the connection to the server is closed");
    }
    auto written = write_all(state_->stdin_fd, text, kWriteTimeout);
    // A server that stopped reading is stopped; one that exited (EPIPE) is reported by the
    // reader, with its exit status.
    if (!written && written.error().code() == ErrorCode::timeout) stop(written.error());
    return written;
  }

  void stop(Error reason) override {
    {
      std::lock_guard lock(state_->reason_mutex);
      if (state_->stopping.exchange(true)) return;
      state_->stop_reason = std::move(reason);
    }
    const char byte = 1;
    [[maybe_unused]] auto n = ::write(state_->wake[1], &byte, 1);
  }

  void set_protocol_version(const std::string&) override {}

 private:
  struct State {
    McpStdioServer server;
    std::string name;
    std::size_t max_message = 0;
    Handlers handlers;
    pid_t pid = -1;
    int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
    int wake[2] = {-1, -1};
    std::mutex write_mutex;
    std::mutex reason_mutex;
    std::atomic<bool> stopping{false};
    std::optional<Error> stop_reason;

    ~State() {
      close_fd(stdin_fd);
      close_fd(stdout_fd);
      close_fd(stderr_fd);
      close_fd(wake[0]);
      close_fd(wake[1]);
    }
  };

  static Status spawn(State& s) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return Error(ErrorCode::unavailable, "pipe failed");
    if (::pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]), ::close(in[1]);
      return Error(ErrorCode::unavailable, "pipe failed");
    }
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
      return Error(ErrorCode::unavailable, "pipe failed");
    }
    if (::pipe2(s.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
        ::close(fd);
      return Error(ErrorCode::unavailable, "pipe failed");
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    if (!s.server.working_directory.empty()) {
      posix_spawn_file_actions_addchdir_np(&actions, s.server.working_directory.c_str());
    }
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP})
      sigaddset(&defaults, sig);
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setsigmask(&attributes, &empty);
    // Its own process group: a terminal's ^C reaches the host, which decides.
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(
        &attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

    std::vector<std::string> argv_text{s.server.command};
    argv_text.insert(argv_text.end(), s.server.args.begin(), s.server.args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text)
      argv.push_back(a.data());
    argv.push_back(nullptr);

    std::vector<std::string> env_text;
    auto overridden = [&](std::string_view entry) {
      const auto eq = entry.find('=');
      return s.server.env.count(std::string(entry.substr(0, eq))) > 0;
    };
    for (char** e = environ; e && *e; ++e) {
      const std::string_view entry(*e);
      if (overridden(entry)) continue;
      if (s.server.inherit_env || entry.starts_with("PATH=")) env_text.emplace_back(entry);
    }
    for (const auto& [key, value] : s.server.env)
      env_text.push_back(key + "=" + value);
    std::vector<char*> envp;
    for (auto& e : env_text)
      envp.push_back(e.data());
    envp.push_back(nullptr);

    const int rc = ::posix_spawnp(&s.pid, s.server.command.c_str(), &actions, &attributes,
                                  argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    ::close(in[0]), ::close(out[1]), ::close(err[1]);
    if (rc != 0) {
      ::close(in[1]), ::close(out[0]), ::close(err[0]);
      s.pid = -1;
      return Error(ErrorCode::unavailable, "cannot start MCP server '" + s.name + "' (" +
                                               s.server.command + "): " + std::strerror(rc));
    }
    s.stdin_fd = in[1];
    s.stdout_fd = out[0];
    s.stderr_fd = err[0];
    ::fcntl(s.stdin_fd, F_SETFL, ::fcntl(s.stdin_fd, F_GETFL) | O_NONBLOCK);
    return {};
  }

  static void log_stderr_line(const State& s, std::string_view line) {
    if (line.size() > kMaxStderrLine) line = line.substr(0, kMaxStderrLine);
    logger()->info("mcp server '{}' stderr: {}", s.name, line);
  }

  // Takes the complete lines out of `buffer`, calling `fn` with each.
  template <typename Fn>
  static void take_lines(std::string& buffer, Fn&& fn) {
    std::size_t begin = 0;
    for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n', begin)) {
      std::string_view line(buffer.data() + begin, nl - begin);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      begin = nl + 1;
      if (!fn(line)) break;
    }
    buffer.erase(0, begin);
  }

  static void read_loop(State& s) {
    std::string out_buffer, err_buffer;
    bool out_open = true, err_open = true;
    char chunk[65536];
    std::optional<std::string> violation;
    while (out_open && !s.stopping.load()) {
      pollfd fds[3] = {{s.stdout_fd, POLLIN, 0},
                       {err_open ? s.stderr_fd : -1, POLLIN, 0},
                       {s.wake[0], POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents != 0) {
        const ssize_t n = ::read(s.stderr_fd, chunk, sizeof chunk);
        if (n <= 0) {
          err_open = false;
        } else {
          err_buffer.append(chunk, static_cast<std::size_t>(n));
          take_lines(err_buffer, [&](std::string_view line) {
            log_stderr_line(s, line);
            return true;
          });
          if (err_buffer.size() > kMaxStderrLine) {
            log_stderr_line(s, err_buffer);
            err_buffer.clear();
          }
        }
      }
      if (fds[0].revents != 0) {
        const ssize_t n = ::read(s.stdout_fd, chunk, sizeof chunk);
        if (n <= 0) {
          if (n < 0 && errno == EINTR) continue;
          out_open = false;
        } else {
          out_buffer.append(chunk, static_cast<std::size_t>(n));
          take_lines(out_buffer, [&](std::string_view line) {
            if (line.size() > s.max_message) {
              violation = "sent a message of " + std::to_string(line.size()) +
                          " bytes, over the limit of " + std::to_string(s.max_message);
              return false;
            }
            if (!line.empty() && !s.stopping.load()) s.handlers.on_message(line);
            return !s.stopping.load();
          });
          if (!violation && out_buffer.size() > s.max_message) {
            violation =
                "sent a message over the limit of " + std::to_string(s.max_message) + " bytes";
          }
          if (violation) {
            s.handlers.on_violation(*violation);  // the session stops the connection
            break;
          }
        }
      }
    }
    finish(s, violation.has_value(), std::move(err_buffer));
  }

  // Closes the server's input, gives it a moment to exit, then terminates it; reports why the
  // connection ended.
  static void finish(State& s, bool violation, std::string err_rest) {
    const bool asked = s.stopping.exchange(true);
    {
      std::lock_guard write_lock(s.write_mutex);
      close_fd(s.stdin_fd);
    }
    int status = 0;
    bool reaped = false;
    auto wait_for_exit = [&](std::chrono::steady_clock::duration grace) {
      const auto until = std::chrono::steady_clock::now() + grace;
      while (!reaped) {
        const pid_t r = ::waitpid(s.pid, &status, WNOHANG);
        if (r == s.pid || (r < 0 && errno != EINTR)) {
          reaped = true;
          break;
        }
        if (std::chrono::steady_clock::now() >= until) break;
        std::this_thread::sleep_for(10ms);
      }
    };
    // A server that misbehaved or was asked to stop gets no grace beyond SIGTERM's.
    if (!asked && !violation) wait_for_exit(kExitGrace);
    if (!reaped) {
      ::kill(-s.pid, SIGTERM);  // the group: a server started through a wrapper goes too
      wait_for_exit(kExitGrace);
    }
    if (!reaped) {
      ::kill(-s.pid, SIGKILL);
      while (::waitpid(s.pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    // What the server wrote to stderr before it went (a crash's message, say).
    char chunk[4096];
    ::fcntl(s.stderr_fd, F_SETFL, ::fcntl(s.stderr_fd, F_GETFL) | O_NONBLOCK);
    for (ssize_t n; (n = ::read(s.stderr_fd, chunk, sizeof chunk)) > 0 &&
                    err_rest.size() < 16 * kMaxStderrLine;) {
      err_rest.append(chunk, static_cast<std::size_t>(n));
    }
    take_lines(err_rest, [&](std::string_view line) {
      log_stderr_line(s, line);
      return true;
    });
    if (!err_rest.empty()) log_stderr_line(s, err_rest);

    Error reason(ErrorCode::unavailable, "MCP server '" + s.name + "' " + describe_exit(status));
    {
      std::lock_guard lock(s.reason_mutex);
      if (s.stop_reason) reason = *s.stop_reason;
    }
    s.handlers.on_closed(std::move(reason));
  }

  std::shared_ptr<State> state_;
  std::thread reader_;
};

}  // namespace

std::unique_ptr<McpTransport> make_stdio_transport(const McpStdioServer& server,
                                                   std::string server_name,
                                                   std::size_t max_message_bytes) {
  return std::make_unique<StdioTransport>(server, std::move(server_name), max_message_bytes);
}

}  // namespace rein::detail
