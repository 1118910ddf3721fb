#include "core/json_writer.hpp"

#include <stdexcept>

namespace rein::detail {

#ifdef NDEBUG
std::atomic<bool> g_json_key_order_checks{false};
#else
std::atomic<bool> g_json_key_order_checks{true};
#endif

void KeyOrder::check(std::string_view key) {
  if (seen_ && !(std::string_view(last_) < key)) {
    throw std::logic_error("JSON keys out of canonical order: '" + std::string(key) +
                           "' written after '" + last_ + "'");
  }
  last_.assign(key);
  seen_ = true;
}

}  // namespace rein::detail
