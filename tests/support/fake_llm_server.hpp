// A loopback HTTP/1.1 server that speaks the OpenAI chat-completions wire format for tests:
// scripted replies (plain answers, tool calls, streams in chunks, error statuses, Retry-After,
// malformed bodies, cut-short streams, delays) or a handler computing each reply. Keeps
// connections alive, so tests can check that clients reuse them.
//
// Event-driven: one server thread runs an epoll loop over non-blocking sockets, so thousands of
// simultaneous keep-alive connections cost no thread each. Every connection is a small state
// machine (read a request, reply, read the next one; pipelined requests are answered in order)
// and delays are timers on a min-heap that bound the epoll wait, never a sleeping thread. The
// destructor wakes the loop through an eventfd, so it returns promptly even while replies are
// still delayed, and closes every socket. Linux only.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace rein::test {

struct FakeReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;                          // sent whole, with Content-Length
  std::vector<std::string> chunks;           // when not empty: sent with chunked encoding instead
  std::chrono::milliseconds delay{0};        // before the status line
  std::chrono::milliseconds chunk_delay{0};  // between chunks
  bool cut_short = false;  // close the connection after the chunks, without the terminator

  // A chat completion answering with `content` (and tool calls, each {"id","name","arguments"}).
  static FakeReply answer(const std::string& content, const nlohmann::json& tool_calls = nullptr,
                          int prompt_tokens = 10, int completion_tokens = 5);
  static FakeReply error(int status, const std::string& message);
  // A streamed reply: each event becomes "data: <event>\n\n", then "data: [DONE]".
  static FakeReply stream(const std::vector<nlohmann::json>& events, bool done = true);
};

struct RecordedRequest {
  std::string method, path;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  nlohmann::json json;  // the body parsed (discarded when not JSON)
  int connection = 0;   // which accepted connection carried it (1, 2, ...)

  std::string header(const std::string& lower_name) const;
};

class FakeLlmServer {
 public:
  // Runs on the server thread, which serves every connection: it must be quick and must not
  // block (no sleeping, no waiting on the test); use FakeReply::delay to answer late. A handler
  // that throws answers 500 with the exception's message.
  using Handler = std::function<FakeReply(const RecordedRequest&)>;

  FakeLlmServer();
  ~FakeLlmServer();  // stops at once: pending and delayed replies are dropped, sockets closed
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;

  std::string base_url() const;  // http://127.0.0.1:<port>/v1
  int port() const { return port_; }

  void push(FakeReply reply);         // replies in order
  void set_handler(Handler handler);  // used when no pushed reply is left
  std::vector<RecordedRequest> requests() const;
  int connections() const { return connections_.load(); }  // accepted so far

 private:
  class Loop;  // the server thread's connections and timers (fake_llm_server.cpp)

  // Records the request and picks its reply: the next pushed one, else the handler's.
  FakeReply next_reply(const RecordedRequest& request);

  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd: written by the destructor to stop the loop
  int port_ = 0;
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;  // guards replies_, handler_ and requests_
  std::deque<FakeReply> replies_;
  Handler handler_;
  std::vector<RecordedRequest> requests_;
  std::thread thread_;
};

}  // namespace rein::test
