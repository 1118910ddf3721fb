// The OpenAI chat-completions wire format: request bodies, responses, and streamed responses.
//
// Pure functions over text, with no network: OpenAiClient uses them, and so can a host that
// brings its own HTTP stack. Parsing is strict about shape and lenient about extras: unknown
// fields are ignored, a missing or ill-typed required field is an error naming it. Tool-call
// arguments that are not valid JSON are kept as text (ToolCall::raw_arguments, arguments null)
// so a planner can tell the model what was wrong.
//
// Thread safety: the functions are pure; a ChatStreamAssembler is used by one thread at a time.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"
#include "rein/llm.hpp"

namespace rein {

struct ChatWireOptions {
  std::string default_model{};             // used when the request names none
  bool stream = false;                     // ask for server-sent events (with usage at the end)
  bool use_max_completion_tokens = false;  // OpenAI's newer name for max_tokens
};

// The JSON body of POST {base}/chat/completions. Errors when no model is known.
Result<nlohmann::json> chat_request_body(const LlmRequest& request, const ChatWireOptions& options);

// One non-streamed response body. A body of the form {"error": {...}} becomes an Error with
// the provider's message; a body that is not JSON, or lacks choices[0].message, is an error
// (code unavailable) that says what is missing.
Result<LlmResponse> parse_chat_response(std::string_view body);

// The provider's error message in an error body ({"error": {"message": ...}} or
// {"error": "..."}), or the start of the body when it has none.
std::string provider_error_message(std::string_view body);

// Assembles a streamed response from server-sent events ("data: {chunk}" ... "data: [DONE]"),
// fed in whatever pieces the network delivers. Tool-call arguments split across chunks are
// joined by the call's index. Calls `on_delta` for each piece of content or arguments.
struct ChatStreamLimits {
  std::size_t max_line_bytes = 4u << 20;    // one event
  std::size_t max_total_bytes = 64u << 20;  // the whole stream
  int max_tool_calls = 128;
};

class ChatStreamAssembler {
 public:
  using Limits = ChatStreamLimits;

  explicit ChatStreamAssembler(LlmDeltaCallback on_delta = {}, Limits limits = {});

  // Consumes bytes. After an error (malformed chunk, an error event, a limit) the assembler
  // stays failed and finish() returns that error.
  Status feed(std::string_view bytes);
  // The whole response. Errors (unavailable) when the stream ended before "data: [DONE]" and
  // without a finish reason: the answer may be cut short.
  Result<LlmResponse> finish();

  bool done() const noexcept { return done_; }
  // Whether any content or tool-call delta has been delivered (a retry would repeat it).
  bool delivered() const noexcept { return delivered_; }

 private:
  Status line(std::string_view text);
  Status event(std::string_view data);
  Status chunk(const nlohmann::json& chunk);

  struct PartialCall {
    std::string id{}, name{}, arguments{};
  };
  LlmDeltaCallback on_delta_;
  Limits limits_;
  std::string pending_;  // bytes of an unfinished line
  std::string data_;     // data lines of the current event
  std::size_t total_ = 0;
  bool done_ = false;
  bool delivered_ = false;
  std::optional<Error> error_;
  LlmResponse response_;
  std::vector<PartialCall> calls_;
};

}  // namespace rein
