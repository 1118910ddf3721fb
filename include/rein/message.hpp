// Conversation messages and tool calls, in the shape chat-completion models use.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"

namespace rein {

// A model's request to call a tool.
struct ToolCall {
  std::string id{};             // the model's id for the call, echoed in the tool message
  std::string name{};           // the tool's wire name (see ToolRegistry::wire_name)
  nlohmann::json arguments{};   // parsed arguments (null when they were not valid JSON)
  std::string raw_arguments{};  // the arguments exactly as the model sent them

  friend bool operator==(const ToolCall&, const ToolCall&) = default;
};

struct Message {
  std::string role{};  // "system", "user", "assistant" or "tool"
  std::string content{};
  std::vector<ToolCall> tool_calls{};  // assistant messages that call tools
  std::string tool_call_id{};          // tool messages: the call answered
  std::string name{};                  // optional author name

  friend bool operator==(const Message&, const Message&) = default;
};

// Tokens of a message as rein's budgets count them, without a tokenizer: about four bytes a
// token (content, name, tool-call ids, names and arguments), plus four for the framing.
std::int64_t estimate_tokens(const Message& message);
std::int64_t estimate_tokens(const std::vector<Message>& messages);

nlohmann::json to_json(const ToolCall& call);
Result<ToolCall> tool_call_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Message& message);
Result<Message> message_from_json(const nlohmann::json& j);

}  // namespace rein
