// URI references for JSON Schema identifiers ($id, $ref, $anchor): RFC 3986 resolution of a
// reference against a base, fragments, percent-decoding. Strings in, strings out; no I/O.
#pragma once

#include <string>
#include <string_view>

namespace rein::detail::uri {

// `ref` resolved against `base` (RFC 3986 section 5.2). A relative or empty base is merged the
// same way, so schemas without an absolute $id still get stable, comparable identifiers.
std::string resolve(std::string_view base, std::string_view ref);

// The URI without its fragment, and the fragment (without '#', still percent-encoded).
struct Split {
  std::string uri;
  std::string fragment;
  bool has_fragment = false;
};
Split split_fragment(std::string_view uri);

// %XX sequences decoded; malformed sequences are kept as written.
std::string percent_decode(std::string_view text);

// True when `text` starts with a scheme ("http:", "urn:", ...).
bool has_scheme(std::string_view text);

}  // namespace rein::detail::uri
