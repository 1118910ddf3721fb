// rein::OpenAiClient: chat completions over HTTP(S) with any OpenAI-compatible server:
// OpenAI, Ollama, vLLM, llama.cpp's server, and others.
//
// Asynchronous at heart: every request of a client, from complete_async() or complete(), is
// driven by the client's one I/O thread through libcurl's multi interface, so a thousand
// requests in flight cost one thread. The thread starts with the first request and ends with
// the last copy of the client. Hand async_callback() to AgentConfig::llm_async (a run
// waiting on the model then holds no thread), or callback() to anything taking an
// LlmCallback (complete() blocks its caller until the answer is in). Requests with
// LlmRequest::on_delta set are streamed (server-sent events); tool-call arguments split across
// chunks are reassembled. Connections are kept alive and reused across requests.
//
// Failures, as Error values (nothing throws):
//   - 429, 5xx, connection failures and timeouts are retried up to max_retries times with
//     exponential backoff and jitter, waiting at least what a Retry-After header asks (up to
//     max_retry_after); exhausted retries → unavailable (timeout for timeouts). The waits are
//     timers on the I/O thread; with an Env other than Env::system() (ManualEnv in tests) the
//     I/O thread calls its sleep_for instead;
//   - any other 4xx is not retried: 400/404/409/422 → invalid_argument, 401/403 →
//     permission_denied; the message carries the HTTP status and the provider's own message;
//   - a malformed body, or a stream cut short → unavailable, saying what was wrong;
//   - a stream is not retried once any part of it was delivered to on_delta;
//   - a request still in flight when the last copy of the client goes away ends unavailable.
// TLS peers are verified unless verify_tls is turned off. Needs rein built with libcurl
// (REIN_WITH_CURL, on by default); without it create() returns unavailable.
//
// Threads: a client and its copies may be used from any number of threads at once. on_delta
// and the completion of complete_async() run on the I/O thread: they must be quick and must
// not block (in particular, not call complete(), which refuses to run there).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rein/config.hpp"  // REIN_WITH_CURL
#include "rein/env.hpp"
#include "rein/error.hpp"
#include "rein/llm.hpp"

namespace rein {

struct OpenAiOptions {
  // Up to and including the version, e.g. "https://api.openai.com/v1",
  // "http://localhost:11434/v1" (Ollama). Empty: $REIN_LLM_BASE_URL, then $OPENAI_BASE_URL,
  // then https://api.openai.com/v1.
  std::string base_url{};
  // Sent as "Authorization: Bearer <key>". Empty: $REIN_LLM_API_KEY, then $OPENAI_API_KEY;
  // none at all: no Authorization header (local servers need none).
  std::string api_key{};
  // For requests that name no model. Empty: $REIN_LLM_MODEL.
  std::string model{};

  std::chrono::milliseconds connect_timeout{10'000};
  // No byte received for this long (while waiting for the answer, or between stream chunks);
  // checked about once a second.
  std::chrono::milliseconds read_timeout{120'000};
  // The whole exchange, retries excluded; 0 means no limit beyond read_timeout.
  std::chrono::milliseconds total_timeout{0};

  int max_retries = 3;
  std::chrono::milliseconds initial_backoff{500};  // doubled each retry, with ±25% jitter
  std::chrono::milliseconds max_backoff{20'000};
  std::chrono::milliseconds max_retry_after{60'000};  // a longer Retry-After is not waited out

  // Connections kept open between requests, for reuse (each holds a socket); beyond this the
  // longest idle is closed. Connections in use are not limited.
  std::size_t max_idle_connections = 256;

  bool verify_tls = true;
  std::string ca_file{};  // a CA bundle to trust instead of the system's
  std::vector<std::pair<std::string, std::string>>
      headers{};                           // extra headers (e.g. OpenAI-Organization)
  bool use_max_completion_tokens = false;  // send max_tokens as max_completion_tokens

  Env* env = nullptr;  // backoff sleeps and jitter; nullptr: Env::system()
};

class OpenAiClient {
 public:
  // Fills empty options from the environment variables above and checks the URL.
  static Result<OpenAiClient> create(OpenAiOptions options = {});

  // One chat completion (streamed when request.on_delta is set). Returns at once; `done`
  // receives the answer or the error, once, on the I/O thread.
  void complete_async(LlmRequest request, LlmCompletion done) const;
  // The same, blocking the caller until the answer is in.
  Result<LlmResponse> complete(const LlmRequest& request) const;
  Result<LlmResponse> operator()(const LlmRequest& request) const { return complete(request); }
  // Callbacks sharing this client (copies of OpenAiClient share it too).
  LlmCallback callback() const;
  AsyncLlmCallback async_callback() const;

  const OpenAiOptions& options() const;
  std::string endpoint() const;  // base_url + "/chat/completions"

 private:
  struct Impl;
  explicit OpenAiClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace rein
