// Internal: JSON to text for messages and output. Strings from models or files may hold
// invalid UTF-8, on which json::dump() throws; these replace bad bytes with U+FFFD instead.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace rein::detail {

template <typename Json>
std::string json_text(const Json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace rein::detail
