#include "rein/working_memory.hpp"

#include <optional>
#include <set>

namespace rein {

namespace {

// A run of messages that must be kept or dropped together.
struct Unit {
  std::size_t first = 0, last = 0;  // inclusive indices
  std::int64_t tokens = 0;
  bool orphan = false;  // tool messages without their call
};

std::vector<Unit> units_of(const std::vector<Message>& m, std::size_t start) {
  std::vector<Unit> out;
  std::size_t i = start;
  while (i < m.size()) {
    Unit u{i, i, estimate_tokens(m[i]), false};
    if (m[i].role == "assistant" && !m[i].tool_calls.empty()) {
      std::set<std::string> ids;
      for (const auto& c : m[i].tool_calls)
        ids.insert(c.id);
      while (u.last + 1 < m.size() && m[u.last + 1].role == "tool" &&
             ids.count(m[u.last + 1].tool_call_id) != 0) {
        ++u.last;
        u.tokens += estimate_tokens(m[u.last]);
      }
    } else if (m[i].role == "tool") {
      u.orphan = true;
    }
    out.push_back(u);
    i = u.last + 1;
  }
  return out;
}

}  // namespace

TrimmedWindow trim_to_budget(const std::vector<Message>& messages,
                             const WorkingMemoryOptions& options) {
  TrimmedWindow out;
  // Pinned: leading system messages, then (optionally) the first user message.
  std::size_t pinned = 0;
  while (pinned < messages.size() && messages[pinned].role == "system")
    ++pinned;
  if (options.pin_first_user && pinned < messages.size() && messages[pinned].role == "user")
    ++pinned;
  std::int64_t pinned_tokens = 0;
  for (std::size_t i = 0; i < pinned; ++i)
    pinned_tokens += estimate_tokens(messages[i]);

  const std::vector<Unit> units = units_of(messages, pinned);
  std::vector<bool> keep(units.size(), true);
  std::int64_t total = pinned_tokens;
  for (std::size_t u = 0; u < units.size(); ++u) {
    if (units[u].orphan) {
      keep[u] = false;  // invalid on the wire without its call
    } else {
      total += units[u].tokens;
    }
  }
  // Drop the oldest units until the window fits; the newest always stays.
  auto trim_until = [&](std::int64_t budget) {
    for (std::size_t u = 0; u + 1 < units.size() && total > budget; ++u) {
      if (!keep[u]) continue;
      keep[u] = false;
      total -= units[u].tokens;
    }
  };
  trim_until(options.budget_tokens);

  auto dropped_messages = [&] {
    std::vector<Message> dropped;
    for (std::size_t u = 0; u < units.size(); ++u) {
      if (keep[u]) continue;
      for (std::size_t i = units[u].first; i <= units[u].last; ++i)
        dropped.push_back(messages[i]);
    }
    return dropped;
  };

  std::optional<Message> summary;
  if (options.summarise) {
    // Summarising may need room: trim further until the summary fits too (twice at most, as
    // each pass summarises more).
    for (int pass = 0; pass < 2; ++pass) {
      const auto dropped = dropped_messages();
      if (dropped.empty()) break;
      Result<std::string> text = Error(ErrorCode::internal, "not called");
      try {
        text = options.summarise(dropped);
      } catch (const std::exception& e) {
        text = Error(ErrorCode::internal, std::string("the summariser threw: ") + e.what());
      }
      if (!text) {
        out.note = "no summary: " + text.error().message();
        summary.reset();
        break;
      }
      summary = Message{"system", options.summary_prefix + *text, {}, "", ""};
      const std::int64_t with_summary = total + estimate_tokens(*summary);
      if (with_summary <= options.budget_tokens) break;
      trim_until(options.budget_tokens - estimate_tokens(*summary));
      if (pass == 1 && total + estimate_tokens(*summary) > options.budget_tokens) {
        out.note = "no summary: it does not fit the budget";
        summary.reset();
      }
    }
  }

  for (std::size_t i = 0; i < pinned; ++i)
    out.messages.push_back(messages[i]);
  if (summary) {
    out.messages.push_back(*summary);
    out.summarised = true;
  }
  for (std::size_t u = 0; u < units.size(); ++u) {
    if (!keep[u]) {
      out.dropped += units[u].last - units[u].first + 1;
      continue;
    }
    for (std::size_t i = units[u].first; i <= units[u].last; ++i)
      out.messages.push_back(messages[i]);
  }
  out.tokens = estimate_tokens(out.messages);
  out.over_budget = out.tokens > options.budget_tokens;
  return out;
}

}  // namespace rein
