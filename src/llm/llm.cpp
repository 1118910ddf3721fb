#include "rein/llm.hpp"

#include <fstream>

#include "core/json_reader.hpp"
#include "core/json_text.hpp"

namespace rein {

using nlohmann::json;

json to_json(const LlmResponse& r) {
  json calls = json::array();
  for (const auto& c : r.tool_calls)
    calls.push_back(to_json(c));
  return {
      {"content", r.content},
      {"tool_calls", std::move(calls)},
      {"finish_reason", r.finish_reason},
      {"usage", {{"prompt_tokens", r.prompt_tokens}, {"completion_tokens", r.completion_tokens}}},
      {"cost", r.cost},
      {"model", r.model},
      {"cached", r.cached}};
}

namespace {

// About the length of json_text(value), without writing it: an estimate is all that is asked,
// and it is asked on every model turn.
std::size_t text_size(const json& value) {
  switch (value.type()) {
    case json::value_t::object: {
      std::size_t n = 2;
      for (auto it = value.begin(); it != value.end(); ++it)
        n += it.key().size() + 4 + text_size(it.value());  // "key": and a comma
      return n;
    }
    case json::value_t::array: {
      std::size_t n = 2;
      for (const auto& element : value)
        n += text_size(element) + 1;
      return n;
    }
    case json::value_t::string:
      return value.get_ref<const std::string&>().size() + 2;
    case json::value_t::null:
    case json::value_t::boolean:
      return 5;
    default:
      return 8;  // a number
  }
}

}  // namespace

std::int64_t estimate_prompt_tokens(const LlmRequest& request) {
  std::size_t bytes = 0;
  if (!request.tools.is_null()) bytes += text_size(request.tools);
  if (!request.response_format.is_null()) bytes += text_size(request.response_format);
  return 3 + estimate_tokens(request.messages) + static_cast<std::int64_t>((bytes + 3) / 4);
}

Result<LlmResponse> llm_response_from_json(const json& j) {
  detail::JsonReader r(j, "llm response");
  LlmResponse out;
  r.string("content", out.content, false);
  r.array<ToolCall>(
      "tool_calls", out.tool_calls,
      [](const json& v, const std::string&) { return tool_call_from_json(v); }, false);
  r.string("finish_reason", out.finish_reason, false);
  if (const json* usage = r.field("usage", false)) {
    detail::JsonReader u(*usage, "llm response.usage");
    u.integer("prompt_tokens", out.prompt_tokens, false);
    u.integer("completion_tokens", out.completion_tokens, false);
    if (!u.ok()) return u.status().error();
  }
  r.number("cost", out.cost, false);
  r.string("model", out.model, false);
  r.boolean("cached", out.cached, false);
  if (!r.ok()) return r.status().error();
  return out;
}

struct ScriptedLlm::State {
  std::mutex mutex;
  std::vector<Result<LlmResponse>> responses;
  std::size_t next = 0;
  std::vector<LlmRequest> requests;
};

ScriptedLlm::ScriptedLlm(std::vector<Result<LlmResponse>> responses)
    : state_(std::make_shared<State>()) {
  state_->responses = std::move(responses);
}

Result<ScriptedLlm> ScriptedLlm::from_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::not_found, "script '" + path.string() + "' cannot be read");
  std::vector<Result<LlmResponse>> responses;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path.string() + ":" + std::to_string(number) + ": ";
    json parsed = json::parse(line, nullptr, false);
    if (parsed.is_discarded()) return Error(ErrorCode::invalid_argument, where + "not valid JSON");
    if (parsed.is_object() && parsed.contains("error")) {
      const json& e = parsed["error"];
      if (!e.is_object() || !e.contains("message") || !e["message"].is_string()) {
        return Error(ErrorCode::invalid_argument, where + "field 'error' needs a string 'message'");
      }
      auto code = error_code_from_string(e.value("code", "unavailable"));
      if (!code)
        return Error(ErrorCode::invalid_argument, where + "field 'error.code' is not a known code");
      responses.emplace_back(Error(*code, e["message"].get<std::string>()));
      continue;
    }
    auto response = llm_response_from_json(parsed);
    if (!response) return Error(ErrorCode::invalid_argument, where + response.error().message());
    responses.emplace_back(std::move(*response));
  }
  return ScriptedLlm(std::move(responses));
}

Result<LlmResponse> ScriptedLlm::operator()(const LlmRequest& request) {
  std::lock_guard lock(state_->mutex);
  state_->requests.push_back(request);
  if (state_->next >= state_->responses.size()) {
    return Error(ErrorCode::unavailable, "the scripted LLM has no responses left (" +
                                             std::to_string(state_->responses.size()) +
                                             " were scripted)");
  }
  return state_->responses[state_->next++];
}

LlmCallback ScriptedLlm::callback() const {
  ScriptedLlm self = *this;
  return [self](const LlmRequest& request) mutable { return self(request); };
}

std::vector<LlmRequest> ScriptedLlm::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

std::size_t ScriptedLlm::remaining() const {
  std::lock_guard lock(state_->mutex);
  return state_->responses.size() - state_->next;
}

}  // namespace rein
