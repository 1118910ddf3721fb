// Internal: reading labels inside larger documents, with errors naming where they are.
#pragma once

#include <string>

#include "rein/labels.hpp"

namespace rein::detail {

Result<Label> read_label(const nlohmann::json& j, const std::string& where);
Result<ValueLabels> read_value_labels(const nlohmann::json& j, const std::string& where);

}  // namespace rein::detail
