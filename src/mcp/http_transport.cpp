// The Streamable HTTP transport: every message is a POST to the server's one endpoint; an
// answer comes back as one JSON body or as an event stream that may carry the server's
// notifications and requests before the answer itself. Transfers run on a CurlLoop, so calls
// in flight cost no threads.
#include "mcp/mcp_transport.hpp"
#include "rein/config.hpp"

#if REIN_WITH_CURL

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <utility>

#include "http/curl_loop.hpp"

namespace rein::detail {
namespace {

std::once_flag curl_initialised;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return std::string(s);
}

ErrorCode code_for_status(long status) {
  if (status == 401 || status == 403) return ErrorCode::permission_denied;
  if (status == 404) return ErrorCode::not_found;
  if (status == 408 || status == 429 || status >= 500) return ErrorCode::unavailable;
  return ErrorCode::invalid_argument;
}

struct Shared {
  McpHttpServer server;
  std::string name;
  std::size_t max_message = 0;
  McpTransport::Handlers handlers;
  std::mutex mutex;
  std::string session_id;
  std::string protocol_version;
  std::atomic<bool> stopped{false};
};

class Post final : public CurlLoop::Transfer {
 public:
  Post(std::shared_ptr<Shared> shared, std::string body, std::optional<std::int64_t> id)
      : shared_(std::move(shared)), body_(std::move(body)), id_(id) {
    idle_timeout_ = shared_->server.idle_timeout;
    headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    headers_ = curl_slist_append(headers_, "Accept: application/json, text/event-stream");
    std::lock_guard lock(shared_->mutex);
    if (!shared_->protocol_version.empty()) {
      add_header("MCP-Protocol-Version: " + shared_->protocol_version);
    }
    if (!shared_->session_id.empty()) add_header("Mcp-Session-Id: " + shared_->session_id);
    had_session_ = !shared_->session_id.empty();
    if (!shared_->server.bearer_token.empty()) {
      add_header("Authorization: Bearer " + shared_->server.bearer_token);
    }
    for (const auto& [key, value] : shared_->server.headers)
      add_header(key + ": " + value);
  }
  ~Post() override { curl_slist_free_all(headers_); }

  void prepare(CURL* h) override {
    error_text_[0] = '\0';
    set_post_options(h, {.url = &shared_->server.url,
                         .body = body_,
                         .headers = headers_,
                         .connect_timeout = shared_->server.connect_timeout,
                         .verify_tls = shared_->server.verify_tls,
                         .on_body = &Post::on_body,
                         .on_header = &Post::on_header,
                         .user = this,
                         .error_buffer = error_text_});
  }

  // The caller gave up on the answer: the response is cut at its next byte.
  void abandon() { abandoned_.store(true); }

  void finished(CURL* h, CURLcode code, bool idle_timed_out) override {
    long status = 0;
    if (h != nullptr) {
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    }
    if (shared_->stopped.load()) return;
    const std::string where = "POST " + shared_->server.url;
    if (oversized_)
      return fail(Error(ErrorCode::unavailable, where + ": a message over the limit of " +
                                                    std::to_string(shared_->max_message) +
                                                    " bytes"));
    if (idle_timed_out) {
      return fail(
          Error(ErrorCode::timeout, where + ": nothing received for " +
                                        std::to_string(shared_->server.idle_timeout.count()) +
                                        " ms (idle_timeout)"));
    }
    if (code != CURLE_OK && !(status >= 300 && code == CURLE_WRITE_ERROR)) {
      const std::string text = error_text_[0] ? error_text_ : curl_easy_strerror(code);
      return fail(
          Error(code == CURLE_OPERATION_TIMEDOUT ? ErrorCode::timeout : ErrorCode::unavailable,
                where + ": " + text));
    }
    if (status < 200 || status >= 300) {
      std::string excerpt = body_text_.substr(0, 300);
      fail(Error(code_for_status(status), where + ": HTTP " + std::to_string(status) +
                                              (excerpt.empty() ? std::string() : ": " + excerpt)));
      if (status == 404 && had_session_) {
        // The server ended the session: the connection is over, and the client starts anew.
        if (!shared_->stopped.exchange(true) && shared_->handlers.on_closed) {
          shared_->handlers.on_closed(Error(
              ErrorCode::unavailable,
              "MCP server '" + shared_->name + "' ended the session (HTTP 404); reconnecting"));
        }
      }
      return;
    }
    if (!event_stream_ && !trim(body_text_).empty()) deliver(body_text_);
    if (event_stream_ && !event_data_.empty()) deliver(event_data_);
    // A request still unanswered here never will be on this stream (a no-op if it was).
    if (id_) fail(Error(ErrorCode::unavailable, where + ": the response carried no answer"));
  }

 private:
  void add_header(const std::string& line) { headers_ = curl_slist_append(headers_, line.c_str()); }

  void fail(Error e) {
    if (id_ && shared_->handlers.on_request_failed) shared_->handlers.on_request_failed(*id_, e);
  }

  void deliver(std::string_view text) {
    if (!shared_->stopped.load()) shared_->handlers.on_message(text);
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Post*>(user);
    const std::size_t n = size * count;
    self->touch();
    std::string_view line(data, n);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    const auto key = lower(line.substr(0, colon));
    const auto value = trim(line.substr(colon + 1));
    if (key == "content-type") {
      self->event_stream_ = lower(value).starts_with("text/event-stream");
    } else if (key == "mcp-session-id") {
      std::lock_guard lock(self->shared_->mutex);
      self->shared_->session_id = value;
    }
    return n;
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Post*>(user);
    const std::size_t n = size * count;
    if (self->abandoned_.load()) return 0;
    self->touch();
    if (!self->event_stream_) {
      if (self->body_text_.size() + n > self->shared_->max_message) {
        self->oversized_ = true;
        return 0;
      }
      self->body_text_.append(data, n);
      return n;
    }
    self->line_.append(data, n);
    std::size_t begin = 0;
    for (auto nl = self->line_.find('\n'); nl != std::string::npos;
         nl = self->line_.find('\n', begin)) {
      std::string_view line(self->line_.data() + begin, nl - begin);
      begin = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) {  // the end of an event
        if (!self->event_data_.empty() && self->event_name_ == "message") {
          self->deliver(self->event_data_);
        }
        self->event_data_.clear();
        self->event_name_ = "message";
      } else if (line.starts_with("data:")) {
        auto value = line.substr(5);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (!self->event_data_.empty()) self->event_data_.push_back('\n');
        self->event_data_.append(value);
      } else if (line.starts_with("event:")) {
        self->event_name_ = trim(line.substr(6));
      }
      if (self->event_data_.size() > self->shared_->max_message) {
        self->oversized_ = true;
        return 0;
      }
    }
    self->line_.erase(0, begin);
    if (self->line_.size() > self->shared_->max_message) {
      self->oversized_ = true;
      return 0;
    }
    return n;
  }

  std::shared_ptr<Shared> shared_;
  std::string body_;
  std::optional<std::int64_t> id_;
  curl_slist* headers_ = nullptr;
  char error_text_[CURL_ERROR_SIZE] = {};
  std::atomic<bool> abandoned_{false};
  bool had_session_ = false;  // the request carried a session id
  bool event_stream_ = false;
  bool oversized_ = false;
  std::string body_text_;
  std::string line_;
  std::string event_data_;
  std::string event_name_ = "message";
};

class HttpTransport final : public McpTransport {
 public:
  HttpTransport(const McpHttpServer& server, std::string name, std::size_t max_message)
      : shared_(std::make_shared<Shared>()) {
    shared_->server = server;
    shared_->name = std::move(name);
    shared_->max_message = max_message;
  }
  ~HttpTransport() override {
    shared_->stopped = true;
    if (loop_) loop_->shutdown();
  }

  Status start(Handlers handlers) override {
    std::call_once(curl_initialised, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    shared_->handlers = std::move(handlers);
    loop_ = std::make_shared<CurlLoop>(4);
    return {};
  }

  Status send(std::string text, std::optional<std::int64_t> request_id) override {
    if (shared_->stopped.load()) {
      return Error(ErrorCode::unavailable, "the connection to the server is closed");
    }
    auto post = std::make_shared<Post>(shared_, std::move(text), request_id);
    if (request_id) {
      std::lock_guard lock(posts_mutex_);
      // Forget the posts that have ended, so the map stays the size of what is in flight.
      std::erase_if(posts_, [](const auto& entry) { return entry.second.expired(); });
      posts_[*request_id] = post;
    }
    loop_->start(std::move(post));
    return {};
  }

  void abandon(std::int64_t id) override {
    std::shared_ptr<Post> post;
    {
      std::lock_guard lock(posts_mutex_);
      if (auto it = posts_.find(id); it != posts_.end()) {
        post = it->second.lock();
        posts_.erase(it);
      }
    }
    if (post) post->abandon();
  }

  void stop(Error reason) override {
    if (shared_->stopped.exchange(true)) return;
    if (shared_->handlers.on_closed) shared_->handlers.on_closed(std::move(reason));
  }

  void set_protocol_version(const std::string& version) override {
    std::lock_guard lock(shared_->mutex);
    shared_->protocol_version = version;
  }

 private:
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<CurlLoop> loop_;
  std::mutex posts_mutex_;
  std::map<std::int64_t, std::weak_ptr<Post>> posts_;  // requests whose answers are awaited
};

}  // namespace

std::unique_ptr<McpTransport> make_http_transport(const McpHttpServer& server,
                                                  std::string server_name,
                                                  std::size_t max_message_bytes) {
  return std::make_unique<HttpTransport>(server, std::move(server_name), max_message_bytes);
}

}  // namespace rein::detail

#else

namespace rein::detail {
namespace {
class NoHttp final : public McpTransport {
 public:
  Status start(Handlers) override {
    return Error(ErrorCode::unavailable, "rein was built without libcurl (REIN_WITH_CURL=OFF)");
  }
  Status send(std::string, std::optional<std::int64_t>) override {
    return Error(ErrorCode::unavailable, "no HTTP transport");
  }
  void stop(Error) override {}
  void set_protocol_version(const std::string&) override {}
};
}  // namespace
std::unique_ptr<McpTransport> make_http_transport(const McpHttpServer&, std::string, std::size_t) {
  return std::make_unique<NoHttp>();
}
}  // namespace rein::detail

#endif
