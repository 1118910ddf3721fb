// The LLM callback: the host's function from request to response, and a scripted stand-in.
//
// rein never talks to a model by itself. Planners that want one receive the host's
// LlmCallback (through the Runtime, which accounts tokens and cost and enforces the token and
// cost budgets). Ready-made callbacks: OpenAiClient (openai_client.hpp, any OpenAI-compatible
// server) and LlmGateway (llm_gateway.hpp: routing, fallback, cache, cost). ScriptedLlm answers
// from a list or a JSONL file, for tests and offline runs.
//
// Thread safety: an LlmCallback may be called from several runs at once and must allow it.
// ScriptedLlm serialises its calls internally.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"
#include "rein/message.hpp"
#include "rein/task.hpp"

namespace rein {

// A piece of a streamed response, as it arrives.
struct LlmDelta {
  std::string content{};       // text added to the answer
  int tool_call_index = -1;    // >= 0: this delta belongs to that tool call
  std::string tool_call_id{};  // set on a tool call's first delta
  std::string tool_name{};     // set on a tool call's first delta
  std::string arguments{};     // a fragment of the tool call's JSON arguments
};
using LlmDeltaCallback = std::function<void(const LlmDelta&)>;

struct LlmRequest {
  std::string model{};  // empty: the callback's default
  std::vector<Message> messages{};
  nlohmann::json tools{};            // OpenAI "tools" array (ToolRegistry::openai_catalog), or null
  nlohmann::json response_format{};  // e.g. {"type": "json_schema", ...}, or null
  std::optional<double> temperature{};
  std::optional<int> max_tokens{};
  std::vector<std::string> stop{};
  std::optional<std::int64_t> seed{};
  std::vector<std::string> tags{};  // for routing and accounting ("planner", "critic", ...)
  std::string complexity{};         // for routing: "low", "medium", "high" or "" (unspecified)
  // Set by the Runtime for accounting; not sent to the model.
  std::string run_id{};
  std::string principal{};
  // When set, a client that can stream does, calling this for every piece as it arrives; the
  // returned LlmResponse is still the whole assembled answer. Not part of the cache key.
  LlmDeltaCallback on_delta{};
};

// Rough token count of a request's prompt (estimate_tokens of its messages, plus its tools and
// response format at four bytes a token): what budgets are checked against before sending.
std::int64_t estimate_prompt_tokens(const LlmRequest& request);

struct LlmResponse {
  std::string content{};
  std::vector<ToolCall> tool_calls{};
  std::string finish_reason{};  // "stop", "tool_calls", "length", ...
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost = 0.0;  // in the host's currency unit, when the callback knows it
  std::string model{};
  bool cached = false;  // answered from a cache: no tokens or cost were spent

  std::int64_t total_tokens() const { return prompt_tokens + completion_tokens; }
};

// Must not throw (if it does, rein turns the exception into an error); return an Error for
// failures: unavailable or timeout for transient ones, invalid_argument for rejected requests.
using LlmCallback = std::function<Result<LlmResponse>(const LlmRequest&)>;

// The asynchronous form: start the request and return at once; finish through `done`, once,
// from any thread (the host's event loop, a client's I/O thread). A Completion dropped
// without being called ends the request as unavailable; one called after the run was
// cancelled is ignored. It must not throw either.
using LlmCompletion = Completion<Result<LlmResponse>>;
using AsyncLlmCallback = std::function<void(LlmRequest request, LlmCompletion done)>;

nlohmann::json to_json(const LlmResponse& response);
Result<LlmResponse> llm_response_from_json(const nlohmann::json& j);

// Answers requests with prepared responses, in order. A response line may instead be
// {"error": {"code": "unavailable", "message": "..."}} to script a failure.
class ScriptedLlm {
 public:
  explicit ScriptedLlm(std::vector<Result<LlmResponse>> responses);
  // One JSON object per line, in the form of to_json(LlmResponse) or {"error": {...}}. An
  // error names the line at fault.
  static Result<ScriptedLlm> from_jsonl(const std::filesystem::path& path);

  // The next response; unavailable once the script is used up.
  Result<LlmResponse> operator()(const LlmRequest& request);
  // A callback sharing this script (copies of ScriptedLlm share it too).
  LlmCallback callback() const;

  std::vector<LlmRequest> requests() const;  // every request seen, in order
  std::size_t remaining() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace rein
