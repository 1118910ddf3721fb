// Internal: how rein's sources log. detail::logger()->warn("text {} more {}", a, b) formats the
// message only when the host has installed a handler (logging.hpp), replacing each "{}" with the
// next argument as operator<< writes it; there are no format specifications.
#pragma once

#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include "rein/logging.hpp"

namespace rein::detail {

// True when a handler is installed.
bool log_enabled() noexcept;
// Calls the installed handler, if any, with `message`.
void emit_log(LogLevel level, std::string_view message);
// `pattern` with each "{}" replaced by the next of `args`; missing arguments leave "{}" as is,
// extra ones are dropped.
std::string format_log(std::string_view pattern, std::span<const std::string> args);

template <typename T>
std::string log_arg_text(const T& value) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return std::string(std::string_view(value));
  } else {
    std::ostringstream out;
    out << value;
    return std::move(out).str();
  }
}

class Logger {
 public:
  template <typename... Args>
  void log(LogLevel level, std::string_view pattern, const Args&... args) const {
    if (!log_enabled()) return;
    if constexpr (sizeof...(Args) == 0) {
      emit_log(level, format_log(pattern, {}));
    } else {
      const std::string texts[] = {log_arg_text(args)...};
      emit_log(level, format_log(pattern, texts));
    }
  }
  template <typename... Args>
  void debug(std::string_view pattern, const Args&... args) const {
    log(LogLevel::debug, pattern, args...);
  }
  template <typename... Args>
  void info(std::string_view pattern, const Args&... args) const {
    log(LogLevel::info, pattern, args...);
  }
  template <typename... Args>
  void warn(std::string_view pattern, const Args&... args) const {
    log(LogLevel::warn, pattern, args...);
  }
  template <typename... Args>
  void error(std::string_view pattern, const Args&... args) const {
    log(LogLevel::error, pattern, args...);
  }
};

// The logger every source writes to (a pointer, so that call sites read logger()->warn(...)).
const Logger* logger() noexcept;

}  // namespace rein::detail
