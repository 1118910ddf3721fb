// Internal: the logger rein writes to (a silent one until the host installs its own).
#pragma once

#include <memory>

#include <spdlog/spdlog.h>

namespace rein::detail {
std::shared_ptr<spdlog::logger> logger();
}  // namespace rein::detail
