#include "fake_llm_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace rein::test {

using nlohmann::json;

namespace {

bool send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

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

}  // namespace

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
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket() failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("bind/listen on 127.0.0.1 failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FakeLlmServer::~FakeLlmServer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (int fd : open_fds_)
      ::shutdown(fd, SHUT_RDWR);
  }
  stop_cv_.notify_all();
  acceptor_.join();
  for (auto& w : workers_)
    w.join();
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

bool FakeLlmServer::wait(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !stop_cv_.wait_for(lock, duration, [this] { return stopping_.load(); });
}

void FakeLlmServer::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    const int connection = ++connections_;
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd, connection] { serve(fd, connection); });
  }
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
  if (handler) return handler(request);
  return FakeReply::error(500, "the fake server has no reply scripted");
}

void FakeLlmServer::serve(int fd, int connection) {
  std::string buffer;
  char chunk[8192];
  auto read_more = [&]() {
    while (!stopping_) {
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 50);
      if (ready == 0) continue;
      if (ready < 0) return false;
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    return false;
  };
  bool open = true;
  while (open && !stopping_) {
    std::size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more()) {
        open = false;
        break;
      }
    }
    if (!open) break;
    RecordedRequest request;
    request.connection = connection;
    const std::string head = buffer.substr(0, head_end);
    buffer.erase(0, head_end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const auto sp1 = request_line.find(' ');
    const auto sp2 = request_line.find(' ', sp1 + 1);
    request.method = request_line.substr(0, sp1);
    request.path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t content_length = 0;
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
      if (name == "content-length") content_length = std::stoul(value);
      request.headers.emplace_back(std::move(name), std::move(value));
    }
    while (buffer.size() < content_length) {
      if (!read_more()) {
        open = false;
        break;
      }
    }
    if (!open) break;
    request.body = buffer.substr(0, content_length);
    buffer.erase(0, content_length);
    request.json = json::parse(request.body, nullptr, false);

    FakeReply reply = next_reply(request);
    if (reply.delay.count() > 0 && !wait(reply.delay)) break;
    std::string out =
        "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
    for (const auto& [name, value] : reply.headers)
      out += name + ": " + value + "\r\n";
    if (reply.chunks.empty()) {
      out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body;
      if (!send_all(fd, out)) break;
      continue;
    }
    out += "Transfer-Encoding: chunked\r\n\r\n";
    if (!send_all(fd, out)) break;
    bool sent = true;
    for (std::size_t i = 0; i < reply.chunks.size() && sent; ++i) {
      if (i > 0 && reply.chunk_delay.count() > 0 && !wait(reply.chunk_delay)) sent = false;
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", reply.chunks[i].size());
      sent = sent && send_all(fd, size + reply.chunks[i] + "\r\n");
    }
    if (!sent || reply.cut_short) break;
    if (!send_all(fd, "0\r\n\r\n")) break;
  }
  ::shutdown(fd, SHUT_RDWR);
  std::lock_guard lock(mutex_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  ::close(fd);
}

}  // namespace rein::test
