// The standard meta-schemas rein carries, served before the host's resolver is asked.
#pragma once

#include <string_view>

namespace rein::detail {

// The text of the meta-schema published at `uri` (a trailing empty fragment is ignored), or
// nullptr when rein does not carry it.
const std::string_view* builtin_metaschema(std::string_view uri);

}  // namespace rein::detail
