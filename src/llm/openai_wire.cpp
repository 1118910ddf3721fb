#include "rein/openai_wire.hpp"

#include <algorithm>

#include "core/json_text.hpp"

namespace rein {

using nlohmann::json;

namespace {

json wire_message(const Message& m) {
  json out = {{"role", m.role}};
  if (m.role == "assistant" && !m.tool_calls.empty()) {
    out["content"] = m.content.empty() ? json(nullptr) : json(m.content);
    json calls = json::array();
    for (const auto& c : m.tool_calls) {
      const std::string arguments = !c.raw_arguments.empty() ? c.raw_arguments
                                    : c.arguments.is_null()  ? std::string("{}")
                                                             : detail::json_text(c.arguments);
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", arguments}}}});
    }
    out["tool_calls"] = std::move(calls);
  } else {
    out["content"] = m.content;
  }
  if (m.role == "tool") out["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty() && m.role != "tool") out["name"] = m.name;
  return out;
}

// Invalid UTF-8 from a model must not make later dumps throw: round-trip through the
// replacing serializer.
std::string clean_text(const std::string& text) {
  const std::string quoted = detail::json_text(json(text));
  return json::parse(quoted).get<std::string>();
}

ToolCall make_tool_call(std::string id, std::string name, std::string raw) {
  ToolCall call;
  call.id = std::move(id);
  call.name = std::move(name);
  call.raw_arguments = std::move(raw);
  std::string_view trimmed = call.raw_arguments;
  while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\n'))
    trimmed.remove_prefix(1);
  json parsed = trimmed.empty() ? json::object() : json::parse(trimmed, nullptr, false);
  call.arguments = parsed.is_discarded() ? json(nullptr) : std::move(parsed);
  return call;
}

Error malformed(const std::string& what) {
  return Error(ErrorCode::unavailable, "malformed chat response: " + what);
}

// content may be a string, null, or (some servers) an array of {"type":"text","text":...}.
Status read_content(const json& message, std::string& out, const std::string& where) {
  auto it = message.find("content");
  if (it == message.end() || it->is_null()) return {};
  if (it->is_string()) {
    out += clean_text(it->get<std::string>());
    return {};
  }
  if (it->is_array()) {
    for (const auto& part : *it) {
      if (part.is_object() && part.contains("text") && part["text"].is_string())
        out += clean_text(part["text"].get<std::string>());
    }
    return {};
  }
  return malformed(where + ".content must be a string, an array or null");
}

Status read_usage(const json& body, LlmResponse& out) {
  auto it = body.find("usage");
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_object()) return malformed("usage must be an object");
  for (const auto& [field, target] : {std::pair{"prompt_tokens", &out.prompt_tokens},
                                      std::pair{"completion_tokens", &out.completion_tokens}}) {
    auto v = it->find(field);
    if (v == it->end() || v->is_null()) continue;
    if (!v->is_number_integer() || v->get<std::int64_t>() < 0) {
      return malformed(std::string("usage.") + field + " must be a non-negative integer");
    }
    *target = v->get<std::int64_t>();
  }
  return {};
}

std::string string_field(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? clean_text(it->get<std::string>()) : std::string();
}

// The function.arguments of a tool call: normally a string of JSON; some servers send an object.
std::string arguments_text(const json& function) {
  auto it = function.find("arguments");
  if (it == function.end() || it->is_null()) return {};
  if (it->is_string()) return clean_text(it->get<std::string>());
  return detail::json_text(*it);
}

Error error_body(const json& body) {
  return Error(ErrorCode::unavailable, "the provider reported an error: " +
                                           provider_error_message(detail::json_text(body)));
}

}  // namespace

Result<json> chat_request_body(const LlmRequest& request, const ChatWireOptions& options) {
  const std::string& model = request.model.empty() ? options.default_model : request.model;
  if (model.empty())
    return Error(ErrorCode::invalid_argument,
                 "chat request: no model (set one on the request or the client)");
  json messages = json::array();
  for (const auto& m : request.messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool") {
      return Error(ErrorCode::invalid_argument,
                   "chat request: message role '" + m.role +
                       "' is not one of system, user, assistant, tool");
    }
    messages.push_back(wire_message(m));
  }
  json body = {{"model", model}, {"messages", std::move(messages)}};
  if (request.tools.is_array() && !request.tools.empty()) body["tools"] = request.tools;
  if (!request.response_format.is_null()) body["response_format"] = request.response_format;
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.max_tokens)
    body[options.use_max_completion_tokens ? "max_completion_tokens" : "max_tokens"] =
        *request.max_tokens;
  if (!request.stop.empty()) body["stop"] = request.stop;
  if (request.seed) body["seed"] = *request.seed;
  if (options.stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  return body;
}

std::string provider_error_message(std::string_view body) {
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("error")) {
    const json& e = parsed["error"];
    if (e.is_string()) return clean_text(e.get<std::string>());
    if (e.is_object() && e.contains("message") && e["message"].is_string()) {
      std::string message = clean_text(e["message"].get<std::string>());
      if (e.contains("type") && e["type"].is_string())
        message += " (" + e["type"].get<std::string>() + ")";
      return message;
    }
  }
  std::string start(body.substr(0, 200));
  return start.empty() ? std::string("(empty body)") : clean_text(start);
}

Result<LlmResponse> parse_chat_response(std::string_view body) {
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return malformed("the body is not valid JSON");
  if (!parsed.is_object()) return malformed("the body is not a JSON object");
  if (parsed.contains("error") && !parsed["error"].is_null()) return error_body(parsed);
  LlmResponse out;
  out.model = string_field(parsed, "model");
  auto choices = parsed.find("choices");
  if (choices == parsed.end() || !choices->is_array() || choices->empty())
    return malformed("choices must be a non-empty array");
  const json& choice = (*choices)[0];
  if (!choice.is_object()) return malformed("choices[0] must be an object");
  out.finish_reason = string_field(choice, "finish_reason");
  auto message = choice.find("message");
  if (message == choice.end() || !message->is_object())
    return malformed("choices[0].message must be an object");
  if (auto s = read_content(*message, out.content, "choices[0].message"); !s) return s.error();
  if (auto calls = message->find("tool_calls"); calls != message->end() && !calls->is_null()) {
    if (!calls->is_array()) return malformed("choices[0].message.tool_calls must be an array");
    for (std::size_t i = 0; i < calls->size(); ++i) {
      const json& c = (*calls)[i];
      const std::string where = "choices[0].message.tool_calls[" + std::to_string(i) + "]";
      if (!c.is_object()) return malformed(where + " must be an object");
      auto function = c.find("function");
      if (function == c.end() || !function->is_object())
        return malformed(where + ".function must be an object");
      std::string name = string_field(*function, "name");
      if (name.empty()) return malformed(where + ".function.name must be a non-empty string");
      out.tool_calls.push_back(
          make_tool_call(string_field(c, "id"), std::move(name), arguments_text(*function)));
    }
  }
  if (auto s = read_usage(parsed, out); !s) return s.error();
  return out;
}

ChatStreamAssembler::ChatStreamAssembler(LlmDeltaCallback on_delta, Limits limits)
    : on_delta_(std::move(on_delta)), limits_(limits) {}

Status ChatStreamAssembler::feed(std::string_view bytes) {
  if (error_) return *error_;
  total_ += bytes.size();
  if (total_ > limits_.max_total_bytes) {
    error_ = malformed("the stream exceeds " + std::to_string(limits_.max_total_bytes) + " bytes");
    return *error_;
  }
  while (!bytes.empty()) {
    const auto newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      pending_.append(bytes);
      if (pending_.size() > limits_.max_line_bytes) {
        error_ =
            malformed("an event line exceeds " + std::to_string(limits_.max_line_bytes) + " bytes");
        return *error_;
      }
      return {};
    }
    pending_.append(bytes.substr(0, newline));
    bytes.remove_prefix(newline + 1);
    std::string text = std::move(pending_);
    pending_.clear();
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (auto s = line(text); !s) {
      error_ = s.error();
      return s;
    }
  }
  return {};
}

Status ChatStreamAssembler::line(std::string_view text) {
  if (text.empty()) {  // a blank line ends the event
    if (data_.empty()) return {};
    std::string data = std::move(data_);
    data_.clear();
    return event(data);
  }
  if (text.front() == ':') return {};           // a comment (keep-alive)
  if (text.substr(0, 5) != "data:") return {};  // event:, id:, retry: carry nothing we need
  std::string_view value = text.substr(5);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (!data_.empty()) data_.push_back('\n');
  data_.append(value);
  if (data_.size() > limits_.max_line_bytes)
    return malformed("an event exceeds " + std::to_string(limits_.max_line_bytes) + " bytes");
  return {};
}

Status ChatStreamAssembler::event(std::string_view data) {
  if (done_) return {};  // anything after [DONE] is ignored
  if (data == "[DONE]") {
    done_ = true;
    return {};
  }
  json parsed = json::parse(data, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return malformed("a stream event is not a JSON object");
  if (parsed.contains("error") && !parsed["error"].is_null()) return error_body(parsed);
  return chunk(parsed);
}

Status ChatStreamAssembler::chunk(const json& c) {
  if (std::string model = string_field(c, "model"); !model.empty())
    response_.model = std::move(model);
  if (auto s = read_usage(c, response_); !s) return s;
  auto choices = c.find("choices");
  if (choices == c.end() || choices->is_null()) return {};
  if (!choices->is_array()) return malformed("stream chunk: choices must be an array");
  for (const auto& choice : *choices) {
    if (!choice.is_object()) return malformed("stream chunk: a choice must be an object");
    if (choice.contains("index") && choice["index"] != 0)
      continue;  // only the first choice is kept
    if (std::string reason = string_field(choice, "finish_reason"); !reason.empty())
      response_.finish_reason = std::move(reason);
    auto delta = choice.find("delta");
    if (delta == choice.end() || delta->is_null()) continue;
    if (!delta->is_object()) return malformed("stream chunk: delta must be an object");
    std::string text;
    if (auto s = read_content(*delta, text, "stream chunk: delta"); !s) return s;
    if (!text.empty()) {
      response_.content += text;
      delivered_ = true;
      if (on_delta_) on_delta_(LlmDelta{text, -1, {}, {}, {}});
    }
    auto calls = delta->find("tool_calls");
    if (calls == delta->end() || calls->is_null()) continue;
    if (!calls->is_array()) return malformed("stream chunk: delta.tool_calls must be an array");
    for (const auto& call : *calls) {
      if (!call.is_object()) return malformed("stream chunk: a tool call delta must be an object");
      auto index_it = call.find("index");
      const std::int64_t index = index_it != call.end() && index_it->is_number_integer()
                                     ? index_it->get<std::int64_t>()
                                 : calls_.empty() ? 0
                                                  : static_cast<std::int64_t>(calls_.size()) - 1;
      if (index < 0 || index >= limits_.max_tool_calls) {
        return malformed("stream chunk: tool call index " + std::to_string(index) +
                         " is out of range");
      }
      if (static_cast<std::size_t>(index) >= calls_.size())
        calls_.resize(static_cast<std::size_t>(index) + 1);
      PartialCall& partial = calls_[static_cast<std::size_t>(index)];
      LlmDelta d;
      d.tool_call_index = static_cast<int>(index);
      d.tool_call_id = string_field(call, "id");
      if (!d.tool_call_id.empty()) partial.id = d.tool_call_id;
      if (auto f = call.find("function"); f != call.end() && f->is_object()) {
        d.tool_name = string_field(*f, "name");
        partial.name += d.tool_name;
        d.arguments = arguments_text(*f);
        partial.arguments += d.arguments;
      }
      delivered_ = true;
      if (on_delta_) on_delta_(d);
    }
  }
  return {};
}

Result<LlmResponse> ChatStreamAssembler::finish() {
  if (error_) return *error_;
  // An unterminated last event is used when it parses; when it does not, the stream was cut.
  bool cut = false;
  if (!pending_.empty()) {
    cut = !line(pending_).ok();
    pending_.clear();
  }
  if (!data_.empty()) {
    std::string data = std::move(data_);
    data_.clear();
    cut = cut || !event(data).ok();
  }
  if (cut || (!done_ && response_.finish_reason.empty())) {
    return Error(
        ErrorCode::unavailable,
        "the stream ended before [DONE] and without a finish reason: the answer may be cut short");
  }
  LlmResponse out = response_;
  for (std::size_t i = 0; i < calls_.size(); ++i) {
    if (calls_[i].name.empty())
      return malformed("stream: tool call " + std::to_string(i) + " never named its function");
    out.tool_calls.push_back(make_tool_call(calls_[i].id, calls_[i].name, calls_[i].arguments));
  }
  return out;
}

}  // namespace rein
