#include "rein/logging.hpp"

#include <atomic>
#include <memory>
#include <mutex>

#include "core/enum_names.hpp"
#include "core/log.hpp"

namespace rein {
namespace {

constexpr auto kLevelNames =
    detail::enum_names<LogLevel>(std::pair{LogLevel::debug, std::string_view("debug")},
                                 std::pair{LogLevel::info, std::string_view("info")},
                                 std::pair{LogLevel::warn, std::string_view("warn")},
                                 std::pair{LogLevel::error, std::string_view("error")});

struct HandlerSlot {
  std::mutex mutex;
  std::shared_ptr<const LogHandler> handler;  // null: silent
  // Read without the lock on every log call, so that a silent rein costs one atomic load.
  std::atomic<bool> enabled{false};
};

HandlerSlot& slot() {
  static HandlerSlot s;
  return s;
}

}  // namespace

std::string_view to_string(LogLevel level) noexcept {
  return kLevelNames.name(level);
}

void set_log_handler(LogHandler handler) {
  std::shared_ptr<const LogHandler> next;
  if (handler) next = std::make_shared<const LogHandler>(std::move(handler));
  std::shared_ptr<const LogHandler> previous;  // released after the lock
  HandlerSlot& s = slot();
  std::lock_guard lock(s.mutex);
  previous = std::move(s.handler);
  s.enabled.store(next != nullptr, std::memory_order_release);
  s.handler = std::move(next);
}

namespace detail {

bool log_enabled() noexcept {
  return slot().enabled.load(std::memory_order_acquire);
}

void emit_log(LogLevel level, std::string_view message) {
  std::shared_ptr<const LogHandler> handler;
  {
    HandlerSlot& s = slot();
    std::lock_guard lock(s.mutex);
    handler = s.handler;
  }
  if (!handler) return;
  try {
    (*handler)(level, message);
  } catch (...) {
    // A log line is never worth failing the work that wrote it.
  }
}

std::string format_log(std::string_view pattern, std::span<const std::string> args) {
  std::string out;
  out.reserve(pattern.size() + 16 * args.size());
  std::size_t next = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{' && i + 1 < pattern.size() && pattern[i + 1] == '}' &&
        next < args.size()) {
      out += args[next++];
      ++i;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

const Logger* logger() noexcept {
  static const Logger instance;
  return &instance;
}

}  // namespace detail

}  // namespace rein
