// Fuzz target: the chat-completions response parser and the server-sent-events assembler.
// Whatever a server sends, parsing must end in a value or an Error: no crash, no hang, no
// exception, no undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "rein/openai_wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto r = rein::parse_chat_response(text); r.ok()) {
    (void)rein::to_json(*r).dump();  // what was parsed must serialise
  }
  (void)rein::provider_error_message(text);

  // The same bytes as a stream, split where the first byte says, with a small line limit so the
  // limit paths are reached too.
  rein::ChatStreamLimits limits;
  limits.max_line_bytes = 1 << 16;
  limits.max_tool_calls = 16;
  std::size_t deltas = 0;
  rein::ChatStreamAssembler stream([&](const rein::LlmDelta&) { ++deltas; }, limits);
  const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
  if (stream.feed(text.substr(0, split)).ok()) (void)stream.feed(text.substr(split));
  if (auto r = stream.finish(); r.ok()) (void)rein::to_json(*r).dump();
  return 0;
}
