// `format` checks, for FormatMode::assertion. Each checker follows the RFC the JSON Schema
// specification names for it; formats rein does not know stay annotations.
#pragma once

#include <string>
#include <string_view>

namespace rein::detail {

enum class Format {
  none,
  date_time,
  date,
  time,
  duration,
  email,
  idn_email,
  hostname,
  idn_hostname,
  ipv4,
  ipv6,
  uri,
  uri_reference,
  iri,
  iri_reference,
  uri_template,
  uuid,
  regex,
  json_pointer,
  relative_json_pointer,
};

// The checker for a format name, or Format::none when rein does not assert it.
Format format_named(std::string_view name);

// The format's name as written in schemas ("date-time").
const char* format_name(Format format);

// True when `text` is a valid value of `format` (Format::none accepts everything).
bool format_matches(Format format, std::string_view text);

}  // namespace rein::detail
