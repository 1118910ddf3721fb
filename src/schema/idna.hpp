// IDNA 2008 labels for the hostname and idn-hostname formats: punycode (RFC 3492) and the
// rules of RFC 5891-5893 that decide whether a label is allowed. Unicode properties come from
// RE2's tables (general categories and scripts); the few properties RE2 lacks (virama, joining
// type, bidi class) are approximated by small lists, which is noted where they are used.
#pragma once

#include <string>
#include <string_view>

namespace rein::detail::idna {

// An "xn--" label: valid punycode that decodes to an allowed U-label and re-encodes to itself.
// With `unicode`, the decoded label is appended to it (UTF-8).
bool valid_a_label(std::string_view label, std::string* unicode = nullptr);

// A label in Unicode (UTF-8): allowed code points, contextual rules, no "--" in positions 3-4,
// no leading combining mark, and an A-label form of at most 63 octets, whose length is stored
// in `ascii_length`.
bool valid_u_label(std::string_view label, std::size_t& ascii_length);

// RFC 5893's bidi rule over the labels of a name that contains right-to-left characters.
bool valid_bidi_name(std::string_view name_utf8);

}  // namespace rein::detail::idna
