// Working memory: the message window a model sees, kept within a token budget.
//
// Messages are trimmed oldest first, in units that never separate a tool call from its result:
// an assistant message with tool calls and the tool messages answering it go together (the
// wire format rejects one without the other). Leading system messages are pinned, and so, with
// pin_first_user, is the first user message (the task). The newest unit is always kept, even
// when it alone is over the budget (the result then says so). Tool messages whose call is not
// in the window are dropped first: they would be invalid on the wire.
//
// With a summarise callback, what was trimmed away is summarised and the summary placed after
// the pinned messages, as a system message; it counts against the budget, so more may be
// trimmed to make room. A failing summariser is not fatal: the window is trimmed without a
// summary and the result carries the error's message. Tokens are counted with
// estimate_tokens (message.hpp), as budgets are everywhere in rein.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rein/error.hpp"
#include "rein/message.hpp"

namespace rein {

using SummariseFn = std::function<Result<std::string>(const std::vector<Message>& trimmed)>;

struct WorkingMemoryOptions {
  std::int64_t budget_tokens = 8000;
  bool pin_first_user = true;  // keep the first user message (the task) as well
  SummariseFn summarise{};     // nullptr: trimmed messages are simply dropped
  std::string summary_prefix = "Summary of earlier turns (trimmed from the window): ";
};

struct TrimmedWindow {
  std::vector<Message> messages{};  // what fits, in order
  std::size_t dropped = 0;          // messages trimmed away
  bool summarised = false;
  std::int64_t tokens = 0;   // estimate of `messages`
  bool over_budget = false;  // the pinned messages and the newest unit alone exceed the budget
  std::string note{};        // e.g. why there is no summary
};

TrimmedWindow trim_to_budget(const std::vector<Message>& messages,
                             const WorkingMemoryOptions& options);

}  // namespace rein
