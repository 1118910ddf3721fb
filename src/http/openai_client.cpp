#include "rein/openai_client.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "core/json_text.hpp"
#include "core/log.hpp"
#include "rein/openai_wire.hpp"

#if REIN_WITH_CURL
#include <curl/curl.h>
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

struct TransferState {
  CURL* handle = nullptr;
  Exchange* exchange = nullptr;
  ChatStreamAssembler* assembler = nullptr;  // streaming: fed when the status is 200
  Status stream_status;
  std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
  std::chrono::milliseconds read_timeout{0};
  bool idle_timed_out = false;
  static constexpr std::size_t kMaxBody = 32u << 20;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<TransferState*>(user);
  const std::size_t n = size * count;
  t->last_activity = std::chrono::steady_clock::now();
  long status = 0;
  curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
  if (t->assembler != nullptr && status == 200) {
    if (auto s = t->assembler->feed(std::string_view(data, n)); !s) {
      t->stream_status = s;
      return 0;  // abort the transfer: the stream is unusable
    }
    return n;
  }
  if (t->exchange->body.size() + n > TransferState::kMaxBody) return 0;
  t->exchange->body.append(data, n);
  return n;
}

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

// libcurl calls this at least once a second, also while nothing arrives.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<TransferState*>(user);
  if (std::chrono::steady_clock::now() - t->last_activity > t->read_timeout) {
    t->idle_timed_out = true;
    return 1;  // abort
  }
  return 0;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<TransferState*>(user);
  const std::size_t n = size * count;
  t->last_activity = std::chrono::steady_clock::now();
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/")
    t->exchange->retry_after.reset();  // a new response (after 100 Continue)
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    std::string head(line.substr(0, kName.size()));
    std::transform(head.begin(), head.end(), head.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (head == kName)
      t->exchange->retry_after = parse_retry_after(std::string(line.substr(kName.size())));
  }
  return n;
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

}  // namespace

struct OpenAiClient::Impl {
  OpenAiOptions options;
  std::string endpoint;
  Env* env = nullptr;
  std::mutex mutex;
  std::vector<CURL*> idle;  // handles keep their connections open between calls

  ~Impl() {
    for (CURL* h : idle)
      curl_easy_cleanup(h);
  }

  CURL* acquire() {
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        CURL* h = idle.back();
        idle.pop_back();
        curl_easy_reset(h);  // options cleared; live connections and caches kept
        return h;
      }
    }
    return curl_easy_init();
  }
  void release(CURL* h) {
    std::lock_guard lock(mutex);
    idle.push_back(h);
  }

  void configure(CURL* h, const std::string& body, curl_slist* headers, TransferState& t) const {
    curl_easy_setopt(h, CURLOPT_URL, endpoint.c_str());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM: safe in threaded hosts
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    if (options.total_timeout.count() > 0)
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
    t.read_timeout = options.read_timeout;
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
    if (!options.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  }

  // One HTTP exchange. `assembler` is non-null for a streamed request.
  Exchange exchange(const std::string& body, curl_slist* headers, ChatStreamAssembler* assembler,
                    Status& stream_status) {
    Exchange out;
    CURL* h = acquire();
    if (h == nullptr) {
      out.code = CURLE_FAILED_INIT;
      out.curl_message = "curl_easy_init failed";
      return out;
    }
    TransferState t;
    t.handle = h;
    t.exchange = &out;
    t.assembler = assembler;
    configure(h, body, headers, t);
    char message[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, message);
    out.code = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    out.curl_message =
        message[0] != '\0' ? std::string(message) : std::string(curl_easy_strerror(out.code));
    if (t.idle_timed_out) {
      out.code = CURLE_OPERATION_TIMEDOUT;
      out.curl_message = "nothing received for " + std::to_string(options.read_timeout.count()) +
                         " ms (read_timeout)";
    }
    stream_status = t.stream_status;
    release(h);
    return out;
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
  impl->endpoint = options.base_url + "/chat/completions";
  impl->env = options.env != nullptr ? options.env : &Env::system();
  impl->options = std::move(options);
  return OpenAiClient(std::move(impl));
}

Result<LlmResponse> OpenAiClient::complete(const LlmRequest& request) const {
  Impl& impl = *impl_;
  const bool stream = static_cast<bool>(request.on_delta);
  auto body = chat_request_body(
      request, {impl.options.model, stream, impl.options.use_max_completion_tokens});
  if (!body) return body.error();
  const std::string text = detail::json_text(*body);

  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers =
      curl_slist_append(headers, stream ? "Accept: text/event-stream" : "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  if (!impl.options.api_key.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + impl.options.api_key).c_str());
  for (const auto& [name, value] : impl.options.headers)
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  struct HeaderList {
    curl_slist* list;
    ~HeaderList() { curl_slist_free_all(list); }
  } guard{headers};

  const std::string where = "POST " + impl.endpoint;
  for (int attempt = 0;; ++attempt) {
    std::optional<ChatStreamAssembler> assembler;
    if (stream) assembler.emplace(request.on_delta);
    Status stream_status;
    Exchange x = impl.exchange(text, headers, assembler ? &*assembler : nullptr, stream_status);

    std::optional<Error> failure;
    bool retry = false;
    if (!stream_status) {
      failure = stream_status.error();  // a malformed or error event: the stream cannot be trusted
    } else if (x.code != CURLE_OK &&
               !(x.status != 0 && x.status != 200 && x.code == CURLE_WRITE_ERROR)) {
      const ErrorCode code =
          x.code == CURLE_OPERATION_TIMEDOUT ? ErrorCode::timeout : ErrorCode::unavailable;
      failure = Error(code, where + ": " + x.curl_message);
      retry = retryable_curl(x.code);
    } else if (x.status != 200) {
      failure = Error(code_for_status(x.status), where + ": HTTP " + std::to_string(x.status) +
                                                     ": " + provider_error_message(x.body));
      retry = retryable_status(x.status);
    } else {
      Result<LlmResponse> response = assembler ? assembler->finish() : parse_chat_response(x.body);
      if (response) {
        if (response->model.empty())
          response->model = request.model.empty() ? impl.options.model : request.model;
        return response;
      }
      failure = Error(response.error().code(), where + ": " + response.error().message());
      retry = stream;  // a cut-short stream is a connection problem; a malformed body is not
    }
    if (assembler && assembler->delivered()) retry = false;  // the caller has seen part of it
    if (!retry || attempt >= impl.options.max_retries) {
      if (retry)
        return Error(failure->code(), failure->message() + " (gave up after " +
                                          std::to_string(attempt + 1) + " attempts)");
      return *failure;
    }
    // Exponential backoff with ±25% jitter, never shorter than the server's Retry-After.
    const double base = static_cast<double>(impl.options.initial_backoff.count()) *
                        static_cast<double>(1LL << std::min(attempt, 20));
    const double jitter = 0.75 + 0.5 * impl.env->random_unit();
    auto wait = std::chrono::milliseconds(static_cast<std::int64_t>(
        std::min(base * jitter, static_cast<double>(impl.options.max_backoff.count()))));
    if (x.retry_after) {
      if (*x.retry_after > impl.options.max_retry_after) {
        return Error(failure->code(), failure->message() + " (Retry-After of " +
                                          std::to_string(x.retry_after->count() / 1000) +
                                          " s is longer than max_retry_after)");
      }
      wait = std::max(wait, *x.retry_after);
    }
    detail::logger()->debug("rein: {} failed ({}); retry {} in {} ms", where, failure->message(),
                            attempt + 1, wait.count());
    impl.env->sleep_for(wait);
  }
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

#endif  // REIN_WITH_CURL

LlmCallback OpenAiClient::callback() const {
  OpenAiClient self = *this;
  return [self](const LlmRequest& request) { return self.complete(request); };
}

const OpenAiOptions& OpenAiClient::options() const {
  return impl_->options;
}

std::string OpenAiClient::endpoint() const {
  return impl_->endpoint;
}

}  // namespace rein
