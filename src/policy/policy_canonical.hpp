// Internal: canonical forms of file paths and URLs, so that policy constraints compare what a
// string means rather than how it is spelled ("/data/allowed/../secret" is "/secret";
// "HTTPS://API.Example.com:443/v1/./x" is "https://api.example.com/v1/x").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rein::detail {

// `path` lexically normalised: absolute, "//" collapsed, "." dropped, ".." taking back one
// component. nullopt when it is not absolute, holds a NUL byte, or a ".." would climb above
// the root. No file system is consulted: symbolic links are not resolved.
std::optional<std::string> normalize_path(std::string_view path);

// True when the normalised `path` is `folder` itself or lies inside it, by whole components
// ("/data/a2" is not under "/data/a"). Both must be normalised.
bool path_is_under(std::string_view path, std::string_view folder);

// 80 for http and ws, 443 for https and wss, 21 for ftp, else 0.
int default_port(std::string_view scheme);

struct CanonicalUrl {
  std::string scheme;  // lower-case
  std::string host;    // lower-case, without a trailing dot
  int port = 0;        // explicit, or the scheme's default (0 when it has none)
  std::string path;    // dot segments removed, unreserved characters decoded; "/" at least
};

// The parts of an absolute URL with an authority, in canonical form; nullopt for anything this
// cannot read unambiguously: no scheme or host, user information ("https://a.com@b.com"),
// backslashes, control characters or spaces, non-ASCII hosts, a bad port, a malformed or encoded
// slash ("%2F", "%5C") or an encoded dot segment that servers disagree about.
std::optional<CanonicalUrl> canonical_url(std::string_view url);

// True when `host` (canonical) is `pattern`, or for "*.example.com" a subdomain of it (the
// bare "example.com" does not match "*.example.com").
bool host_matches(std::string_view host, std::string_view pattern);

// True when the canonical `path` starts with `prefix` by whole segments: "/v1/" matches
// "/v1/x"; "/v1" matches "/v1" and "/v1/x" but not "/v10".
bool path_has_prefix(std::string_view path, std::string_view prefix);

}  // namespace rein::detail
