#include "rein/logging.hpp"

#include <mutex>

#include <spdlog/sinks/null_sink.h>

#include "core/log.hpp"

namespace rein {
namespace {

std::mutex& logger_mutex() {
  static std::mutex m;
  return m;
}

std::shared_ptr<spdlog::logger> silent_logger() {
  static auto silent = std::make_shared<spdlog::logger>(
      "rein", std::make_shared<spdlog::sinks::null_sink_mt>());
  return silent;
}

std::shared_ptr<spdlog::logger>& current() {
  static std::shared_ptr<spdlog::logger> logger = silent_logger();
  return logger;
}

}  // namespace

void set_logger(std::shared_ptr<spdlog::logger> logger) {
  std::lock_guard lock(logger_mutex());
  current() = logger ? std::move(logger) : silent_logger();
}

namespace detail {
std::shared_ptr<spdlog::logger> logger() {
  std::lock_guard lock(logger_mutex());
  return current();
}
}  // namespace detail

}  // namespace rein
