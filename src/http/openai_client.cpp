#include "rein/openai_client.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <future>
#include <mutex>

#include "core/json_text.hpp"
#include "core/log.hpp"
#include "rein/openai_wire.hpp"

#if REIN_WITH_CURL
#include <curl/curl.h>

#include "http/curl_loop.hpp"
#endif

namespace rein {

namespace {

[[maybe_unused]] std::string env_or(const char* first, const char* second, std::string fallback) {
  for (const char* name : {first, second}) {
    if (name == nullptr) continue;
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
  }
  return fallback;
}

}  // namespace

#if REIN_WITH_CURL

namespace {

std::once_flag curl_initialised;

// What one HTTP exchange produced.
struct Exchange {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;  // non-streamed body, or an error body
  std::optional<std::chrono::milliseconds> retry_after;
  std::string curl_message;
};

std::optional<std::chrono::milliseconds> parse_retry_after(std::string value) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
    value.pop_back();
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front())))
    value.erase(0, 1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (value.size() > 9) return std::chrono::milliseconds::max();
    return std::chrono::seconds(std::stoll(value));
  }
  const std::time_t at = curl_getdate(value.c_str(), nullptr);
  if (at < 0) return std::nullopt;
  const std::time_t now = std::time(nullptr);
  return std::chrono::seconds(std::max<std::time_t>(0, at - now));
}

bool retryable_status(long status) {
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

bool retryable_curl(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return true;
    default:
      return false;
  }
}

ErrorCode code_for_status(long status) {
  if (status == 401 || status == 403) return ErrorCode::permission_denied;
  if (retryable_status(status)) return ErrorCode::unavailable;
  return ErrorCode::invalid_argument;
}

// What the client's options fix for every request; shared by the client and its calls.
struct Settings {
  OpenAiOptions options;
  std::string endpoint;
  std::string where;  // "POST <endpoint>", for messages
  Env* env = nullptr;
};

// One chat completion: its attempts, each a transfer on the client's loop, and the retries
// between them. Lives (shared) while an attempt is in flight or a retry is waiting.
class Call final : public detail::CurlLoop::Transfer, public std::enable_shared_from_this<Call> {
 public:
  Call(std::shared_ptr<const Settings> settings, std::weak_ptr<detail::CurlLoop> loop,
       std::string body, curl_slist* headers, LlmDeltaCallback on_delta, std::string model,
       LlmCompletion done)
      : settings_(std::move(settings)),
        loop_(std::move(loop)),
        body_(std::move(body)),
        headers_(headers),
        on_delta_(std::move(on_delta)),
        model_(std::move(model)),
        done_(std::move(done)) {
    idle_timeout_ = settings_->options.read_timeout;
  }
  ~Call() override { curl_slist_free_all(headers_); }

  void prepare(CURL* h) override {
    exchange_ = Exchange{};
    stream_status_ = Status();
    error_text_[0] = '\0';
    assembler_.reset();
    if (on_delta_) assembler_.emplace(on_delta_);
    handle_ = h;
    const OpenAiOptions& o = settings_->options;
    detail::set_post_options(h, {.url = &settings_->endpoint,
                                 .body = body_,
                                 .headers = headers_,
                                 .connect_timeout = o.connect_timeout,
                                 .verify_tls = o.verify_tls,
                                 .ca_file = &o.ca_file,
                                 .on_body = &Call::on_body,
                                 .on_header = &Call::on_header,
                                 .user = this,
                                 .error_buffer = error_text_});
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (o.total_timeout.count() > 0)
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(o.total_timeout.count()));
  }

  void finished(CURL* h, CURLcode code, bool idle_timed_out) override {
    exchange_.code = code;
    if (h != nullptr) {
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &exchange_.status);
      curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    }
    handle_ = nullptr;
    exchange_.curl_message =
        error_text_[0] != '\0' ? std::string(error_text_) : std::string(curl_easy_strerror(code));
    if (idle_timed_out) {
      exchange_.code = CURLE_OPERATION_TIMEDOUT;
      exchange_.curl_message = "nothing received for " +
                               std::to_string(settings_->options.read_timeout.count()) +
                               " ms (read_timeout)";
    }
    judge();
  }

 private:
  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Call*>(user);
    const std::size_t n = size * count;
    self->touch();
    long status = 0;
    curl_easy_getinfo(self->handle_, CURLINFO_RESPONSE_CODE, &status);
    if (self->assembler_ && status == 200) {
      if (auto s = self->assembler_->feed(std::string_view(data, n)); !s) {
        self->stream_status_ = s;
        return 0;  // abort the transfer: the stream is unusable
      }
      return n;
    }
    if (self->exchange_.body.size() + n > kMaxBody) return 0;
    self->exchange_.body.append(data, n);
    return n;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Call*>(user);
    const std::size_t n = size * count;
    self->touch();
    std::string_view line(data, n);
    if (line.substr(0, 5) == "HTTP/")
      self->exchange_.retry_after.reset();  // a new response (after 100 Continue)
    constexpr std::string_view kName = "retry-after:";
    if (line.size() > kName.size()) {
      std::string head(line.substr(0, kName.size()));
      std::transform(head.begin(), head.end(), head.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (head == kName)
        self->exchange_.retry_after = parse_retry_after(std::string(line.substr(kName.size())));
    }
    return n;
  }

  // After an attempt: the answer, a final error, or a retry after a backoff.
  void judge() {
    const Settings& s = *settings_;
    const Exchange& x = exchange_;
    std::optional<Error> failure;
    bool retry = false;
    if (!stream_status_) {
      failure = stream_status_.error();  // a malformed or error event: the stream is unusable
    } else if (x.code != CURLE_OK &&
               !(x.status != 0 && x.status != 200 && x.code == CURLE_WRITE_ERROR)) {
      const ErrorCode code =
          x.code == CURLE_OPERATION_TIMEDOUT ? ErrorCode::timeout : ErrorCode::unavailable;
      failure = Error(code, s.where + ": " + x.curl_message);
      retry = retryable_curl(x.code);
    } else if (x.status != 200) {
      failure = Error(code_for_status(x.status), s.where + ": HTTP " + std::to_string(x.status) +
                                                     ": " + provider_error_message(x.body));
      retry = retryable_status(x.status);
    } else {
      Result<LlmResponse> response =
          assembler_ ? assembler_->finish() : parse_chat_response(x.body);
      if (response) {
        if (response->model.empty()) response->model = model_;
        done_(std::move(response));
        return;
      }
      failure = Error(response.error().code(), s.where + ": " + response.error().message());
      retry = assembler_.has_value();  // a cut-short stream is a connection problem
    }
    if (assembler_ && assembler_->delivered()) retry = false;  // the caller has seen part of it
    if (!retry || attempt_ >= s.options.max_retries) {
      if (retry) {
        done_(Error(failure->code(), failure->message() + " (gave up after " +
                                         std::to_string(attempt_ + 1) + " attempts)"));
      } else {
        done_(std::move(*failure));
      }
      return;
    }
    // Exponential backoff with ±25% jitter, never shorter than the server's Retry-After.
    const double base = static_cast<double>(s.options.initial_backoff.count()) *
                        static_cast<double>(1LL << std::min(attempt_, 20));
    const double jitter = 0.75 + 0.5 * s.env->random_unit();
    auto wait = std::chrono::milliseconds(static_cast<std::int64_t>(
        std::min(base * jitter, static_cast<double>(s.options.max_backoff.count()))));
    if (x.retry_after) {
      if (*x.retry_after > s.options.max_retry_after) {
        done_(Error(failure->code(), failure->message() + " (Retry-After of " +
                                         std::to_string(x.retry_after->count() / 1000) +
                                         " s is longer than max_retry_after)"));
        return;
      }
      wait = std::max(wait, *x.retry_after);
    }
    detail::logger()->debug("rein: {} failed ({}); retry {} in {} ms", s.where, failure->message(),
                            attempt_ + 1, wait.count());
    ++attempt_;
    auto loop = loop_.lock();
    if (!loop) return;  // the client is gone: dropping this call abandons it
    std::shared_ptr<Call> self = shared_from_this();
    if (s.env == &Env::system()) {
      loop->after(wait, [on = loop.get(), self] { on->start(self); });  // runs on `on`'s thread
    } else {
      s.env->sleep_for(wait);  // a host's Env (ManualEnv: instant) decides what waiting is
      loop->start(self);
    }
  }

  static constexpr std::size_t kMaxBody = 32u << 20;

  std::shared_ptr<const Settings> settings_;
  std::weak_ptr<detail::CurlLoop> loop_;
  std::string body_;
  curl_slist* headers_;
  LlmDeltaCallback on_delta_;
  std::string model_;  // reported when the server names none
  LlmCompletion done_;
  int attempt_ = 0;

  // The attempt in flight (I/O thread only).
  CURL* handle_ = nullptr;
  Exchange exchange_;
  std::optional<ChatStreamAssembler> assembler_;
  Status stream_status_;
  char error_text_[CURL_ERROR_SIZE] = {0};
};

}  // namespace

struct OpenAiClient::Impl {
  std::shared_ptr<Settings> settings = std::make_shared<Settings>();
  std::shared_ptr<detail::CurlLoop> loop;
  const OpenAiOptions& options = settings->options;
  const std::string& endpoint = settings->endpoint;

  ~Impl() {
    if (loop) loop->shutdown();
  }

  void start(const LlmRequest& request, LlmCompletion done) const {
    const OpenAiOptions& o = settings->options;
    const bool stream = static_cast<bool>(request.on_delta);
    auto body = chat_request_body(request, {o.model, stream, o.use_max_completion_tokens});
    if (!body) {
      done(body.error());
      return;
    }
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers,
                                stream ? "Accept: text/event-stream" : "Accept: application/json");
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    if (!o.api_key.empty())
      headers = curl_slist_append(headers, ("Authorization: Bearer " + o.api_key).c_str());
    for (const auto& [name, value] : o.headers)
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    loop->start(
        std::make_shared<Call>(settings, loop, detail::json_text(*body), headers, request.on_delta,
                               request.model.empty() ? o.model : request.model, std::move(done)));
  }
};

Result<OpenAiClient> OpenAiClient::create(OpenAiOptions options) {
  std::call_once(curl_initialised, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (options.base_url.empty())
    options.base_url = env_or("REIN_LLM_BASE_URL", "OPENAI_BASE_URL", "https://api.openai.com/v1");
  if (options.api_key.empty()) options.api_key = env_or("REIN_LLM_API_KEY", "OPENAI_API_KEY", "");
  if (options.model.empty()) options.model = env_or("REIN_LLM_MODEL", nullptr, "");
  while (!options.base_url.empty() && options.base_url.back() == '/')
    options.base_url.pop_back();
  if (options.base_url.rfind("http://", 0) != 0 && options.base_url.rfind("https://", 0) != 0) {
    return Error(ErrorCode::invalid_argument,
                 "OpenAiOptions.base_url must start with http:// or https:// (got '" +
                     options.base_url + "')");
  }
  if (options.max_retries < 0)
    return Error(ErrorCode::invalid_argument, "OpenAiOptions.max_retries must not be negative");
  if (options.connect_timeout.count() <= 0 || options.read_timeout.count() <= 0) {
    return Error(ErrorCode::invalid_argument,
                 "OpenAiOptions.connect_timeout and read_timeout must be positive");
  }
  auto impl = std::make_shared<Impl>();
  Settings& s = *impl->settings;
  s.endpoint = options.base_url + "/chat/completions";
  s.where = "POST " + s.endpoint;
  s.env = options.env != nullptr ? options.env : &Env::system();
  s.options = std::move(options);
  impl->loop = std::make_shared<detail::CurlLoop>(s.options.max_idle_connections);
  return OpenAiClient(std::move(impl));
}

void OpenAiClient::complete_async(LlmRequest request, LlmCompletion done) const {
  impl_->start(request, std::move(done));
}

Result<LlmResponse> OpenAiClient::complete(const LlmRequest& request) const {
  if (impl_->loop->on_io_thread()) {
    return Error(ErrorCode::invalid_argument,
                 "OpenAiClient::complete called on the client's own I/O thread (from a "
                 "completion or on_delta); use complete_async there");
  }
  auto answer = std::make_shared<std::promise<Result<LlmResponse>>>();
  auto future = answer->get_future();
  impl_->start(request,
               LlmCompletion([answer](Result<LlmResponse> r) { answer->set_value(std::move(r)); },
                             [] {
                               return Result<LlmResponse>(Error(
                                   ErrorCode::unavailable,
                                   "the OpenAiClient was shut down with the request in flight"));
                             }));
  return future.get();
}

#else  // REIN_WITH_CURL

struct OpenAiClient::Impl {
  OpenAiOptions options;
  std::string endpoint;
};

Result<OpenAiClient> OpenAiClient::create(OpenAiOptions) {
  return Error(
      ErrorCode::unavailable,
      "rein was built without libcurl (REIN_WITH_CURL=OFF): OpenAiClient is not available");
}

Result<LlmResponse> OpenAiClient::complete(const LlmRequest&) const {
  return Error(ErrorCode::unavailable, "rein was built without libcurl");
}

void OpenAiClient::complete_async(LlmRequest, LlmCompletion done) const {
  done(Error(ErrorCode::unavailable, "rein was built without libcurl"));
}

#endif  // REIN_WITH_CURL

LlmCallback OpenAiClient::callback() const {
  OpenAiClient self = *this;
  return [self](const LlmRequest& request) { return self.complete(request); };
}

AsyncLlmCallback OpenAiClient::async_callback() const {
  OpenAiClient self = *this;
  return [self](LlmRequest request, LlmCompletion done) {
    self.complete_async(std::move(request), std::move(done));
  };
}

const OpenAiOptions& OpenAiClient::options() const {
  return impl_->options;
}

std::string OpenAiClient::endpoint() const {
  return impl_->endpoint;
}

}  // namespace rein
