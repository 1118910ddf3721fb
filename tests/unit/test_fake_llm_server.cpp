// The fake LLM server itself, spoken to through plain POSIX sockets: many simultaneous
// connections on its one thread, pipelined requests, large replies, malformed requests, and
// destruction while a reply is still delayed.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../support/fake_llm_server.hpp"
#include "../support/waiting.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using rein::test::FakeLlmServer;
using rein::test::FakeReply;
using rein::test::RecordedRequest;

namespace {

// A blocking client socket; the hang guard bounds every read and write.
struct Socket {
  int fd = -1;
  explicit Socket(int receive_buffer = 0) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval guard{static_cast<time_t>(rein::testing::kHangGuard.count()), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &guard, sizeof guard);
    if (receive_buffer > 0)
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
  Socket(Socket&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
  Socket& operator=(Socket&&) = delete;

  bool connect(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    return fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }

  bool send(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  struct Response {
    int status = 0;
    std::string body;
  };

  // The next response (with Content-Length); nothing when the connection ends first.
  std::optional<Response> receive() {
    std::size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more()) return std::nullopt;
    }
    const std::string head = buffer_.substr(0, head_end);
    Response response;
    response.status = std::stoi(head.substr(head.find(' ') + 1, 3));
    const auto length_at = head.find("Content-Length: ");
    if (length_at == std::string::npos) return std::nullopt;
    const std::size_t length = std::stoul(head.substr(length_at + 16));
    while (buffer_.size() < head_end + 4 + length) {
      if (!read_more()) return std::nullopt;
    }
    response.body = buffer_.substr(head_end + 4, length);
    buffer_.erase(0, head_end + 4 + length);
    return response;
  }

  // True when the peer closed the connection (no more bytes arrive).
  bool closed() {
    while (read_more()) {
    }
    return buffer_.empty();
  }

 private:
  bool read_more() {
    char chunk[65536];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  std::string buffer_;
};

std::string post(const std::string& path, const std::string& body) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string content_of(const Socket::Response& response) {
  const json body = json::parse(response.body, nullptr, false);
  if (body.is_discarded()) return {};
  return body["choices"][0]["message"]["content"].get<std::string>();
}

}  // namespace

TEST_CASE("FakeLlmServer serves 1,000 connections at once on its one thread",
          "[http][fake_server]") {
  constexpr std::size_t kClients = 1000;
  // Both ends of every connection live in this process.
  const rlim_t needed = 2 * kClients + 256;
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  if (limit.rlim_cur < needed) {
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed : limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  }
  INFO("RLIMIT_NOFILE hard limit: " << limit.rlim_max);
  REQUIRE(limit.rlim_cur >= needed);

  FakeLlmServer server;
  server.set_handler([](const RecordedRequest& r) {
    FakeReply reply = FakeReply::answer(std::to_string(r.json.value("client", -1)));
    reply.delay = 200ms;
    return reply;
  });
  std::vector<Socket> clients;
  clients.reserve(kClients);
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.emplace_back();
    REQUIRE(clients.back().connect(server.port()));
  }
  for (std::size_t i = 0; i < kClients; ++i)
    REQUIRE(clients[i].send(post("/v1/chat/completions", json{{"client", i}}.dump())));
  std::size_t answered = 0;
  for (std::size_t i = 0; i < kClients; ++i) {
    const auto response = clients[i].receive();
    if (response && response->status == 200 && content_of(*response) == std::to_string(i))
      ++answered;
  }
  CHECK(answered == kClients);
  CHECK(server.connections() == static_cast<int>(kClients));
  std::set<int> numbers;
  for (const auto& r : server.requests())
    numbers.insert(r.connection);
  CHECK(numbers.size() == kClients);
  CHECK(*numbers.begin() == 1);
  CHECK(*numbers.rbegin() == static_cast<int>(kClients));
}

TEST_CASE("FakeLlmServer answers pipelined requests in order", "[http][fake_server]") {
  FakeLlmServer server;
  server.set_handler([](const RecordedRequest& r) {
    FakeReply reply = FakeReply::answer(r.path);
    if (r.path == "/v1/first") reply.delay = 100ms;  // the second still waits its turn
    return reply;
  });
  Socket client;
  REQUIRE(client.connect(server.port()));
  REQUIRE(client.send(post("/v1/first", "{}") + post("/v1/second", R"({"n": 2})")));
  const auto first = client.receive();
  const auto second = client.receive();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(content_of(*first) == "/v1/first");
  CHECK(content_of(*second) == "/v1/second");

  REQUIRE(client.send(post("/v1/third", "")));  // still alive afterwards
  const auto third = client.receive();
  REQUIRE(third);
  CHECK(content_of(*third) == "/v1/third");

  const auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].path == "/v1/first");
  CHECK(requests[1].path == "/v1/second");
  CHECK(requests[1].json == json{{"n", 2}});
  CHECK(requests[1].header("content-type") == "application/json");
  CHECK(requests[2].body.empty());
  for (const auto& r : requests)
    CHECK(r.connection == 1);
  CHECK(server.connections() == 1);
}

TEST_CASE("FakeLlmServer writes a large reply in parts to a slow reader", "[http][fake_server]") {
  FakeLlmServer server;
  FakeReply big;
  big.body = std::string(8 << 20, 'x');
  server.push(big);
  server.push(FakeReply::answer("after"));
  Socket client(64 << 10);  // a small receive buffer: the server meets a full socket
  REQUIRE(client.connect(server.port()));
  REQUIRE(client.send(post("/v1/big", "")));
  REQUIRE(rein::testing::eventually([&] { return server.requests().size() == 1; }));
  const auto response = client.receive();
  REQUIRE(response);
  CHECK(response->body == big.body);
  REQUIRE(client.send(post("/v1/after", "")));
  const auto after = client.receive();
  REQUIRE(after);
  CHECK(content_of(*after) == "after");
}

TEST_CASE("FakeLlmServer closes connections that send malformed requests", "[http][fake_server]") {
  FakeLlmServer server;
  server.set_handler([](const RecordedRequest&) { return FakeReply::answer("fine"); });
  for (const std::string garbage :
       {"NONSENSE\r\n\r\n", "POST /v1 HTTP/1.1\r\nContent-Length: many\r\n\r\n",
        "POST /v1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"}) {
    Socket bad;
    REQUIRE(bad.connect(server.port()));
    REQUIRE(bad.send(garbage));
    CHECK(bad.closed());
  }
  Socket good;
  REQUIRE(good.connect(server.port()));
  REQUIRE(good.send(post("/v1/chat/completions", "{}")));
  const auto response = good.receive();
  REQUIRE(response);
  CHECK(content_of(*response) == "fine");
  CHECK(server.requests().size() == 1);
  CHECK(server.connections() == 4);
}

TEST_CASE("FakeLlmServer stops without waiting out a delayed reply", "[http][fake_server]") {
  auto server = std::make_unique<FakeLlmServer>();
  FakeReply slow = FakeReply::answer("late");
  slow.delay = 5000ms;
  server->push(slow);
  Socket client;
  REQUIRE(client.connect(server->port()));
  REQUIRE(client.send(post("/v1/chat/completions", "{}")));
  REQUIRE(rein::testing::eventually([&] { return server->requests().size() == 1; }));
  server.reset();          // returns at once: the delay is a timer, not a sleeping thread
  CHECK(client.closed());  // without a reply
}
