// rein's logging: silent unless the host installs a handler.
//
// rein reports a few things that are not errors of any call (a retried tool attempt, an audit
// sink that failed, a dropped cache entry, the HTTP I/O thread's trouble) as log messages. It
// formats each message itself and hands it to one host-installed handler, so the host routes
// it into whatever logging it already has. rein depends on no logging library: a host using
// spdlog (or any other) adapts in a few lines, e.g.
//
//   auto log = spdlog::default_logger();
//   rein::set_log_handler([log](rein::LogLevel level, std::string_view m) {
//     using spdlog::level::level_enum;
//     constexpr level_enum to_spdlog[] = {level_enum::debug, level_enum::info,
//                                         level_enum::warn, level_enum::err};
//     log->log(to_spdlog[static_cast<int>(level)], m);
//   });
//
// Thread safety: set_log_handler may be called at any time from any thread. The handler is
// called from whichever thread rein logs on (run threads, tool runner threads, the HTTP I/O
// thread), possibly from several at once, so it must be thread-safe itself. A call already in
// progress when the handler is replaced may still finish with the previous handler, which is
// kept alive until it returns. rein never holds a lock of its own while calling the handler, so
// the handler may call set_log_handler. Whatever the handler throws is caught and dropped.
#pragma once

#include <functional>
#include <string_view>

namespace rein {

// How much a message matters. Messages at debug are frequent (one per retried tool attempt);
// the others are rare. rein filters nothing: the handler sees every level and decides.
enum class LogLevel { debug, info, warn, error };

// "debug", "info", "warn" or "error".
std::string_view to_string(LogLevel level) noexcept;

// Receives one message, without a trailing newline. `message` is valid only during the call.
using LogHandler = std::function<void(LogLevel level, std::string_view message)>;

// Routes rein's log messages to `handler`; an empty handler (nullptr) silences rein again,
// which is also the default.
void set_log_handler(LogHandler handler);

}  // namespace rein
