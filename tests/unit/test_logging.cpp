#include <catch2/catch.hpp>
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include "rein/logging.hpp"
#include "rein/tool_registry.hpp"

using nlohmann::json;

TEST_CASE("rein is silent until the host installs a logger, then logs through it", "[logging]") {
  rein::ManualEnv env;
  rein::ToolRegistry reg({.env = &env});
  rein::ToolSpec s;
  s.name = "flaky.tool";
  s.description = "fails once";
  s.timeout = std::chrono::milliseconds(0);
  int calls = 0;
  REQUIRE(reg.register_tool(s, [&](const json&, rein::ToolContext&) {
    return ++calls % 2 == 1 ? rein::ToolResult::failure("503", true) : rein::ToolResult::success({});
  }).ok());

  std::ostringstream captured;
  auto logger = std::make_shared<spdlog::logger>(
      "host", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  logger->set_level(spdlog::level::debug);

  REQUIRE(reg.invoke("flaky.tool", json::object()).ok());  // retried, but nobody listens
  CHECK(captured.str().empty());

  rein::set_logger(logger);
  REQUIRE(reg.invoke("flaky.tool", json::object()).ok());
  CHECK(captured.str().find("tool 'flaky.tool' attempt 1 failed (503), retrying") != std::string::npos);

  rein::set_logger(nullptr);  // silent again
  const auto before = captured.str().size();
  REQUIRE(reg.invoke("flaky.tool", json::object()).ok());
  CHECK(captured.str().size() == before);
}
