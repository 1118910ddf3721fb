#include "fake_llm_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <queue>
#include <string_view>
#include <system_error>
#include <unordered_map>

namespace rein::test {

using nlohmann::json;

namespace {

constexpr int kBacklog = 4096;  // the kernel caps it at net.core.somaxconn
constexpr std::size_t kMaxHead = std::size_t{1} << 20;
constexpr std::uint64_t kMaxBody = std::uint64_t{1} << 30;
constexpr std::uint64_t kListenTag = UINT64_MAX;  // epoll tags; connections use their number
constexpr std::uint64_t kWakeTag = UINT64_MAX - 1;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

void append_chunk(std::string& out, const std::string& chunk) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  out += size;
  out += chunk;
  out += "\r\n";
}

// Parses a request head (without its blank line) into `request`; false when malformed.
bool parse_head(const std::string& head, RecordedRequest& request, std::uint64_t& content_length) {
  std::size_t line_end = head.find("\r\n");
  const std::string request_line = head.substr(0, line_end);
  const auto sp1 = request_line.find(' ');
  if (sp1 == std::string::npos || sp1 == 0) return false;
  const auto sp2 = request_line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || sp2 == sp1 + 1) return false;
  request.method = request_line.substr(0, sp1);
  request.path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  content_length = 0;
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line =
        head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = lower(line.substr(0, colon));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    if (name == "content-length") {
      std::string_view digits = value;
      while (!digits.empty() && (digits.back() == ' ' || digits.back() == '\t'))
        digits.remove_suffix(1);
      const auto [end, error] =
          std::from_chars(digits.data(), digits.data() + digits.size(), content_length);
      if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
          content_length > kMaxBody)
        return false;
    }
    if (name == "transfer-encoding" && lower(value) != "identity") return false;  // unsupported
    request.headers.emplace_back(std::move(name), std::move(value));
  }
  return true;
}

}  // namespace

// The server thread's state: every open connection, keyed by its number, and the timers. Each
// connection reads a request, then replies (waiting on timers for the delays), then reads the
// next; only one of its requests is parsed at a time, so pipelined ones are answered in order.
class FakeLlmServer::Loop {
 public:
  explicit Loop(FakeLlmServer& server) : server_(server), buffer_(1 << 16) {}
  ~Loop() {
    for (auto& entry : open_)
      ::close(entry.second.fd);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Serves until the destructor of the server writes the wake eventfd.
  void run() {
    std::vector<epoll_event> events(256);
    for (;;) {
      const int n = ::epoll_wait(server_.epoll_fd_, events.data(), static_cast<int>(events.size()),
                                 timeout());
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        const std::uint64_t tag = events[i].data.u64;
        if (tag == kWakeTag) return;
        if (tag == kListenTag) {
          accept_all();
          continue;
        }
        const auto it = open_.find(static_cast<int>(tag));
        if (it == open_.end()) continue;
        if (!on_event(it->second, events[i].events)) close(it);
      }
      fire_timers();
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  enum class State { reading, waiting, writing };
  enum class Parse { incomplete, complete, malformed };

  struct Connection {
    int fd = -1;
    int number = 0;
    State state = State::reading;
    std::uint32_t events = 0;  // the interest registered with epoll
    bool eof = false;          // the peer has sent all it will send
    std::string in;            // received, not parsed yet
    std::string out;           // to send
    std::size_t sent = 0;      // of `out`
    FakeReply reply;           // the one being sent
    bool head_sent = false;    // of `reply`
    std::size_t chunk = 0;     // the next of reply.chunks; chunks.size() + 1 once terminated
    std::uint64_t timer = 0;   // the pending timer's token, 0 when none
  };
  using Connections = std::unordered_map<int, Connection>;

  struct Timer {
    Clock::time_point at;
    std::uint64_t token;
    int connection;  // 0: resume accepting
    bool operator>(const Timer& other) const {
      return at != other.at ? at > other.at : token > other.token;
    }
  };

  // Milliseconds to the next timer, rounded up (so it is due on waking); -1 when none.
  int timeout() const {
    if (timers_.empty()) return -1;
    const auto left = timers_.top().at - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX));
  }

  void arm(Connection& c, std::chrono::milliseconds delay) {
    c.state = State::waiting;
    c.timer = ++tokens_;
    timers_.push({Clock::now() + delay, c.timer, c.number});
  }

  void watch(Connection& c, std::uint32_t events) {
    if (c.events == events) return;
    epoll_event event{};
    event.events = events;
    event.data.u64 = static_cast<std::uint64_t>(c.number);
    ::epoll_ctl(server_.epoll_fd_, EPOLL_CTL_MOD, c.fd, &event);
    c.events = events;
  }

  void set_listening(bool on) {
    epoll_event event{};
    event.events = on ? std::uint32_t{EPOLLIN} : 0;
    event.data.u64 = kListenTag;
    ::epoll_ctl(server_.epoll_fd_, EPOLL_CTL_MOD, server_.listen_fd_, &event);
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(server_.listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        switch (errno) {
          case EAGAIN:
#if EWOULDBLOCK != EAGAIN
          case EWOULDBLOCK:
#endif
            return;
          case EINTR:
          case ECONNABORTED:
          case EPROTO:
          case ENETDOWN:
          case ENOPROTOOPT:
          case EHOSTDOWN:
          case ENONET:
          case EHOSTUNREACH:
          case ENETUNREACH:
            continue;  // that one connection failed
          default:     // out of descriptors or memory: pause instead of spinning on the backlog
            set_listening(false);
            timers_.push({Clock::now() + std::chrono::milliseconds(10), ++tokens_, 0});
            return;
        }
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      const int number = ++server_.connections_;
      Connection& c = open_[number];
      c.fd = fd;
      c.number = number;
      c.events = EPOLLIN;
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = static_cast<std::uint64_t>(number);
      if (::epoll_ctl(server_.epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) close(open_.find(number));
    }
  }

  // Drains a little of what the peer still sent, so that closing sends FIN rather than RST
  // (which could discard the end of a reply the peer has not read yet).
  void close(Connections::iterator it) {
    for (int i = 0; i < 16 && ::recv(it->second.fd, buffer_.data(), buffer_.size(), 0) > 0; ++i) {
    }
    ::close(it->second.fd);  // also removes it from the epoll set
    open_.erase(it);
  }

  bool on_event(Connection& c, std::uint32_t events) {
    if (events & (EPOLLERR | EPOLLHUP)) return false;
    if ((events & EPOLLIN) && c.state == State::reading && !receive(c)) return false;
    return advance(c);
  }

  void fire_timers() {
    const auto now = Clock::now();
    while (!timers_.empty() && timers_.top().at <= now) {
      const Timer timer = timers_.top();
      timers_.pop();
      if (timer.connection == 0) {
        set_listening(true);
        continue;
      }
      const auto it = open_.find(timer.connection);
      if (it == open_.end() || it->second.timer != timer.token) continue;
      Connection& c = it->second;
      c.timer = 0;
      if (c.head_sent) {
        c.state = State::writing;
        append_chunk(c.out, c.reply.chunks[c.chunk++]);
      } else {
        compose_head(c);
      }
      if (!advance(c)) close(it);
    }
  }

  // Reads what has arrived (false on a connection error).
  bool receive(Connection& c) {
    for (;;) {
      const ssize_t n = ::recv(c.fd, buffer_.data(), buffer_.size(), 0);
      if (n > 0) {
        c.in.append(buffer_.data(), static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) {
        c.eof = true;
        return true;
      }
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
  }

  // Sends what it can of c.out (false on a connection error).
  bool flush(Connection& c) {
    while (c.sent < c.out.size()) {
      const ssize_t n =
          ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    return true;
  }

  Parse parse(Connection& c, RecordedRequest& request) {
    const std::size_t head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos)
      return c.in.size() > kMaxHead ? Parse::malformed : Parse::incomplete;
    std::uint64_t content_length = 0;
    if (head_end > kMaxHead || !parse_head(c.in.substr(0, head_end), request, content_length))
      return Parse::malformed;
    const std::size_t body_start = head_end + 4;
    if (c.in.size() - body_start < content_length) return Parse::incomplete;
    request.body = c.in.substr(body_start, content_length);
    c.in.erase(0, body_start + content_length);
    request.json = json::parse(request.body, nullptr, false);
    request.connection = c.number;
    return Parse::complete;
  }

  void compose_head(Connection& c) {
    const FakeReply& r = c.reply;
    c.out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
    for (const auto& [name, value] : r.headers)
      c.out += name + ": " + value + "\r\n";
    if (r.chunks.empty()) {
      c.out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n";
      c.out += r.body;
    } else {
      c.out += "Transfer-Encoding: chunked\r\n\r\n";
      append_chunk(c.out, r.chunks[0]);
      c.chunk = 1;
    }
    c.head_sent = true;
    c.state = State::writing;
  }

  // Once a piece of the reply is sent: queues the next one, or arms the timer before it, or
  // goes back to reading when the reply is complete. False when the connection is to close.
  bool next_piece(Connection& c) {
    const FakeReply& r = c.reply;
    if (!r.chunks.empty() && c.chunk < r.chunks.size()) {
      if (r.chunk_delay.count() > 0)
        arm(c, r.chunk_delay);
      else
        append_chunk(c.out, r.chunks[c.chunk++]);
      return true;
    }
    if (!r.chunks.empty() && c.chunk == r.chunks.size()) {
      if (r.cut_short) return false;
      c.out = "0\r\n\r\n";
      ++c.chunk;
      return true;
    }
    c.reply = FakeReply{};
    c.head_sent = false;
    c.chunk = 0;
    c.state = State::reading;
    return true;
  }

  // Moves the connection on as far as it goes without waiting; false when it is to close.
  bool advance(Connection& c) {
    for (;;) {
      switch (c.state) {
        case State::waiting:
          watch(c, 0);
          return true;
        case State::writing:
          if (!flush(c)) return false;
          if (c.sent < c.out.size()) {
            watch(c, EPOLLOUT);
            return true;
          }
          c.out.clear();
          c.sent = 0;
          if (!next_piece(c)) return false;
          break;
        case State::reading: {
          RecordedRequest request;
          const Parse parsed = parse(c, request);
          if (parsed == Parse::malformed) return false;
          if (parsed == Parse::incomplete) {
            if (c.eof) return false;  // nothing more will come
            watch(c, EPOLLIN);
            return true;
          }
          c.reply = server_.next_reply(request);
          if (c.reply.delay.count() > 0)
            arm(c, c.reply.delay);
          else
            compose_head(c);
          break;
        }
      }
    }
  }

  FakeLlmServer& server_;
  std::vector<char> buffer_;  // for reading
  Connections open_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::uint64_t tokens_ = 0;
};

FakeReply FakeReply::answer(const std::string& content, const json& tool_calls, int prompt_tokens,
                            int completion_tokens) {
  json message = {
      {"role", "assistant"},
      {"content", content.empty() && tool_calls.is_array() ? json(nullptr) : json(content)}};
  if (tool_calls.is_array()) {
    json calls = json::array();
    for (const auto& c : tool_calls) {
      calls.push_back(
          {{"id", c.value("id", "call_1")},
           {"type", "function"},
           {"function",
            {{"name", c.at("name")},
             {"arguments", c.at("arguments").is_string() ? c.at("arguments")
                                                         : json(c.at("arguments").dump())}}}});
    }
    message["tool_calls"] = std::move(calls);
  }
  json body = {{"id", "chatcmpl-test"},
               {"object", "chat.completion"},
               {"model", "fake-model"},
               {"choices",
                {{{"index", 0},
                  {"message", message},
                  {"finish_reason", tool_calls.is_array() ? "tool_calls" : "stop"}}}},
               {"usage",
                {{"prompt_tokens", prompt_tokens},
                 {"completion_tokens", completion_tokens},
                 {"total_tokens", prompt_tokens + completion_tokens}}}};
  FakeReply reply;
  reply.headers.push_back({"Content-Type", "application/json"});
  reply.body = body.dump();
  return reply;
}

FakeReply FakeReply::error(int status, const std::string& message) {
  FakeReply reply;
  reply.status = status;
  reply.headers.push_back({"Content-Type", "application/json"});
  reply.body = json{{"error", {{"message", message}, {"type", "test_error"}}}}.dump();
  return reply;
}

FakeReply FakeReply::stream(const std::vector<json>& events, bool done) {
  FakeReply reply;
  reply.headers.push_back({"Content-Type", "text/event-stream"});
  for (const auto& e : events)
    reply.chunks.push_back("data: " + (e.is_string() ? e.get<std::string>() : e.dump()) + "\n\n");
  if (done) reply.chunks.push_back("data: [DONE]\n\n");
  return reply;
}

std::string RecordedRequest::header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

FakeLlmServer::FakeLlmServer() {
  const auto fail = [this](const char* what) {
    const int error = errno;
    for (int fd : {listen_fd_, epoll_fd_, wake_fd_})
      if (fd >= 0) ::close(fd);
    throw std::system_error(error, std::generic_category(), what);
  };
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail("fake LLM server: socket() failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, kBacklog) != 0)
    fail("fake LLM server: bind/listen on 127.0.0.1 failed");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);

  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) fail("fake LLM server: epoll_create1() failed");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) fail("fake LLM server: eventfd() failed");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kListenTag;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &event) != 0)
    fail("fake LLM server: epoll_ctl() failed");
  event.data.u64 = kWakeTag;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0)
    fail("fake LLM server: epoll_ctl() failed");
  try {
    thread_ = std::thread([this] { Loop(*this).run(); });
  } catch (...) {
    for (int fd : {listen_fd_, epoll_fd_, wake_fd_})
      ::close(fd);
    throw;
  }
}

FakeLlmServer::~FakeLlmServer() {
  const std::uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
  thread_.join();  // the loop closes the connections as it ends
  ::close(wake_fd_);
  ::close(epoll_fd_);
  ::close(listen_fd_);
}

std::string FakeLlmServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/v1";
}

void FakeLlmServer::push(FakeReply reply) {
  std::lock_guard lock(mutex_);
  replies_.push_back(std::move(reply));
}

void FakeLlmServer::set_handler(Handler handler) {
  std::lock_guard lock(mutex_);
  handler_ = std::move(handler);
}

std::vector<RecordedRequest> FakeLlmServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

FakeReply FakeLlmServer::next_reply(const RecordedRequest& request) {
  Handler handler;
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
    if (!replies_.empty()) {
      FakeReply reply = std::move(replies_.front());
      replies_.pop_front();
      return reply;
    }
    handler = handler_;
  }
  if (!handler) return FakeReply::error(500, "the fake server has no reply scripted");
  try {
    return handler(request);  // on the server thread, without the lock
  } catch (const std::exception& e) {
    return FakeReply::error(500, std::string("the fake server's handler threw: ") + e.what());
  } catch (...) {
    return FakeReply::error(500, "the fake server's handler threw");
  }
}

}  // namespace rein::test
