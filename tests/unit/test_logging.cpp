#include <catch2/catch.hpp>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/log.hpp"
#include "rein/logging.hpp"
#include "rein/tool_registry.hpp"

using nlohmann::json;

namespace {

struct Captured {
  std::mutex mutex;
  std::vector<std::pair<rein::LogLevel, std::string>> lines;

  rein::LogHandler handler() {
    return [this](rein::LogLevel level, std::string_view message) {
      std::lock_guard lock(mutex);
      lines.emplace_back(level, std::string(message));
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return lines.size();
  }
};

// Restores the default (silent) handler however a test ends.
struct SilenceAfter {
  ~SilenceAfter() { rein::set_log_handler(nullptr); }
};

rein::ToolSpec flaky_spec() {
  rein::ToolSpec s;
  s.name = "flaky.tool";
  s.description = "fails once";
  s.timeout = std::chrono::milliseconds(0);
  return s;
}

}  // namespace

TEST_CASE("rein is silent until the host installs a log handler, then logs through it",
          "[logging]") {
  SilenceAfter silence;
  rein::ManualEnv env;
  rein::ToolRegistry reg({.env = &env});
  int calls = 0;
  REQUIRE(reg.register_tool(flaky_spec(),
                            [&](const json&, rein::ToolContext&) {
                              return ++calls % 2 == 1 ? rein::ToolResult::failure("503", true)
                                                      : rein::ToolResult::success({});
                            })
              .ok());

  Captured captured;
  CHECK_FALSE(rein::detail::log_enabled());
  REQUIRE(reg.invoke("flaky.tool", json::object()).ok());  // retried, but nobody listens
  CHECK(captured.size() == 0);

  rein::set_log_handler(captured.handler());
  CHECK(rein::detail::log_enabled());
  REQUIRE(reg.invoke("flaky.tool", json::object()).ok());
  REQUIRE(captured.size() == 1);
  CHECK(captured.lines[0].first == rein::LogLevel::debug);
  CHECK(captured.lines[0].second == "rein: tool 'flaky.tool' attempt 1 failed (503), retrying");

  rein::set_log_handler(nullptr);  // silent again
  CHECK_FALSE(rein::detail::log_enabled());
  REQUIRE(reg.invoke("flaky.tool", json::object()).ok());
  CHECK(captured.size() == 1);
}

TEST_CASE("a log handler that throws does not disturb the call that logged", "[logging]") {
  SilenceAfter silence;
  rein::ManualEnv env;
  rein::ToolRegistry reg({.env = &env});
  int calls = 0;
  REQUIRE(reg.register_tool(flaky_spec(),
                            [&](const json&, rein::ToolContext&) {
                              return ++calls % 2 == 1 ? rein::ToolResult::failure("503", true)
                                                      : rein::ToolResult::success({});
                            })
              .ok());
  int handled = 0;
  rein::set_log_handler([&](rein::LogLevel, std::string_view) {
    ++handled;
    throw std::runtime_error("the host's log is full");
  });
  auto r = reg.invoke("flaky.tool", json::object());
  CHECK(r.ok());
  CHECK(r.attempts == 2);
  CHECK(handled == 1);
}

TEST_CASE("a log handler may replace itself while it runs", "[logging]") {
  SilenceAfter silence;
  Captured after;
  int first = 0;
  rein::set_log_handler([&](rein::LogLevel, std::string_view) {
    ++first;
    rein::set_log_handler(after.handler());  // would deadlock if rein held its lock here
  });
  rein::detail::logger()->warn("one {}", 1);
  rein::detail::logger()->error("two {}", 2);
  CHECK(first == 1);
  REQUIRE(after.size() == 1);
  CHECK(after.lines[0].first == rein::LogLevel::error);
  CHECK(after.lines[0].second == "two 2");
}

TEST_CASE("log messages replace each {} with the next argument", "[logging]") {
  SilenceAfter silence;
  Captured captured;
  rein::set_log_handler(captured.handler());
  const std::string text = "text";
  rein::detail::logger()->info("a {} b {} c {} d {}", text, std::string_view("view"), 42, 2.5);
  rein::detail::logger()->warn("{} missing {}", "only one");  // a missing argument leaves {}
  rein::detail::logger()->error("none", 1, 2);                // extra arguments are dropped
  rein::detail::logger()->debug("braces { } and {x} stay");
  REQUIRE(captured.size() == 4);
  CHECK(captured.lines[0] ==
        std::pair{rein::LogLevel::info, std::string("a text b view c 42 d 2.5")});
  CHECK(captured.lines[1] == std::pair{rein::LogLevel::warn, std::string("only one missing {}")});
  CHECK(captured.lines[2] == std::pair{rein::LogLevel::error, std::string("none")});
  CHECK(captured.lines[3] ==
        std::pair{rein::LogLevel::debug, std::string("braces { } and {x} stay")});
}

TEST_CASE("log levels have stable names", "[logging]") {
  CHECK(rein::to_string(rein::LogLevel::debug) == "debug");
  CHECK(rein::to_string(rein::LogLevel::info) == "info");
  CHECK(rein::to_string(rein::LogLevel::warn) == "warn");
  CHECK(rein::to_string(rein::LogLevel::error) == "error");
}

TEST_CASE("threads may log while the handler is replaced", "[logging]") {
  SilenceAfter silence;
  Captured a, b;
  rein::set_log_handler(a.handler());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 2000; ++i)
        rein::detail::logger()->warn("line {}", i);
    });
  }
  for (int i = 0; i < 200; ++i)
    rein::set_log_handler(i % 2 == 0 ? b.handler() : a.handler());
  for (auto& t : threads)
    t.join();
  CHECK(a.size() + b.size() == 4 * 2000);  // every line reached one handler, none was lost
}
