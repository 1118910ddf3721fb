// rein's logging: silent unless the host installs a logger.
//
// rein logs through spdlog. By default it writes nowhere; a host that wants rein's messages
// passes its own spdlog logger (and chooses its sinks, pattern and level).
//
// Thread safety: set_logger may be called at any time from any thread.
#pragma once

#include <memory>

#include <spdlog/logger.h>

namespace rein {

// Routes rein's log messages to `logger`; nullptr silences rein again.
void set_logger(std::shared_ptr<spdlog::logger> logger);

}  // namespace rein
