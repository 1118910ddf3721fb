#include "rein/message.hpp"

#include "core/json_reader.hpp"

namespace rein {

using nlohmann::json;

std::int64_t estimate_tokens(const Message& m) {
  std::size_t bytes = m.content.size() + m.name.size() + m.tool_call_id.size();
  for (const auto& c : m.tool_calls)
    bytes += c.name.size() + c.raw_arguments.size() + c.id.size();
  return 4 + static_cast<std::int64_t>((bytes + 3) / 4);
}

std::int64_t estimate_tokens(const std::vector<Message>& messages) {
  std::int64_t total = 0;
  for (const auto& m : messages)
    total += estimate_tokens(m);
  return total;
}

json to_json(const ToolCall& call) {
  return {{"id", call.id},
          {"name", call.name},
          {"arguments", call.arguments},
          {"raw_arguments", call.raw_arguments}};
}

Result<ToolCall> tool_call_from_json(const json& j) {
  detail::JsonReader r(j, "tool call");
  ToolCall call;
  r.string("id", call.id, false);
  r.string("name", call.name);
  r.any("arguments", call.arguments, false);
  r.string("raw_arguments", call.raw_arguments, false);
  if (!r.ok()) return r.status().error();
  return call;
}

json to_json(const Message& m) {
  json j = {{"role", m.role}, {"content", m.content}};
  if (!m.tool_calls.empty()) {
    json calls = json::array();
    for (const auto& c : m.tool_calls)
      calls.push_back(to_json(c));
    j["tool_calls"] = std::move(calls);
  }
  if (!m.tool_call_id.empty()) j["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty()) j["name"] = m.name;
  return j;
}

Result<Message> message_from_json(const json& j) {
  detail::JsonReader r(j, "message");
  Message m;
  r.string("role", m.role);
  r.string("content", m.content, false);
  r.array<ToolCall>(
      "tool_calls", m.tool_calls,
      [](const json& item, const std::string&) { return tool_call_from_json(item); }, false);
  r.string("tool_call_id", m.tool_call_id, false);
  r.string("name", m.name, false);
  if (!r.ok()) return r.status().error();
  return m;
}

}  // namespace rein
