// Internal: pieces shared by the model-driven planners.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rein/llm.hpp"
#include "rein/planner.hpp"
#include "rein/prompt.hpp"
#include "rein/tool_registry.hpp"

namespace rein::detail {

// A tool by its registry name or its wire name (what models see).
inline const ToolSpec* resolve_tool(const ToolRegistry& tools, std::string_view name) {
  if (const ToolSpec* spec = tools.find(name)) return spec;
  return tools.find_by_wire_name(name);
}

// One step as describe_progress() shows it: "- id: tool args → status", then its output
// (`output`, else the result's data), its errors or its refusal, each line ending in '\n'.
void append_step_text(std::string& out, const StepState& step, const nlohmann::json* output,
                      const PromptOptions& options);

// The host's instructions, then the rule about untrusted blocks.
inline std::string system_text(const std::string& instructions, std::string_view format) {
  std::string out =
      instructions.empty()
          ? std::string("You are an agent that reaches the user's goal with the tools listed.")
          : instructions;
  out += "\n\n";
  out += kUntrustedContentRule;
  if (!format.empty()) {
    out += "\n\n";
    out += format;
  }
  return out;
}

// The request settings both model-driven planners' options share.
template <typename Options>
LlmRequest model_request(const Options& options, std::vector<Message> messages) {
  LlmRequest r;
  r.model = options.model;
  r.messages = std::move(messages);
  r.temperature = options.temperature;
  r.max_tokens = options.max_tokens;
  r.tags = options.tags;
  r.complexity = options.complexity;
  return r;
}

// A model's JSON without a surrounding ```json fence or stray whitespace.
inline std::string_view strip_fence(std::string_view text) {
  auto trim = [](std::string_view t) {
    while (!t.empty() &&
           (t.front() == ' ' || t.front() == '\n' || t.front() == '\r' || t.front() == '\t'))
      t.remove_prefix(1);
    while (!t.empty() &&
           (t.back() == ' ' || t.back() == '\n' || t.back() == '\r' || t.back() == '\t'))
      t.remove_suffix(1);
    return t;
  };
  text = trim(text);
  if (text.substr(0, 3) == "```") {
    const auto newline = text.find('\n');
    const auto close = text.rfind("```");
    if (newline != std::string_view::npos && close != std::string_view::npos && close > newline) {
      text = trim(text.substr(newline + 1, close - newline - 1));
    }
  }
  return text;
}

}  // namespace rein::detail
