// Canonical paths and URLs for policy constraints (see policy_canonical.hpp).
#include "policy/policy_canonical.hpp"

#include <algorithm>
#include <cctype>

namespace rein::detail {
namespace {

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

// "/a/b" from {"a", "b"}; "/" from nothing.
std::string join_absolute(const std::vector<std::string_view>& parts) {
  std::string out;
  for (const auto& part : parts) {
    out += '/';
    out += part;
  }
  return out.empty() ? std::string("/") : out;
}

// RFC 3986 section 5.2.4 on a path of segments: "." dropped, ".." removes the one before (at
// the root it has nothing to remove, as every server reads it). Empty segments ("a//b") are
// refused: servers disagree on whether ".." after one removes it.
std::optional<std::string> remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> kept;
  std::size_t start = 1;  // after the leading '/'
  bool trailing_slash = false;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view segment = path.substr(start, end - start);
    const bool last = end == path.size();
    if (segment.empty() && !last) return std::nullopt;
    trailing_slash = segment == "." || segment == ".." || (last && segment.empty());
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
    } else if (segment != "." && !segment.empty()) {
      kept.push_back(segment);
    }
    start = end + 1;
  }
  std::string out = join_absolute(kept);
  if (out.size() > 1 && trailing_slash) out += '/';
  return out;
}

}  // namespace

int default_port(std::string_view scheme) {
  if (scheme == "http" || scheme == "ws") return 80;
  if (scheme == "https" || scheme == "wss") return 443;
  if (scheme == "ftp") return 21;
  return 0;
}

std::optional<std::string> normalize_path(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.find('\0') != std::string_view::npos)
    return std::nullopt;
  std::vector<std::string_view> kept;
  std::size_t start = 0;
  while (start < path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view component = path.substr(start, end - start);
    if (component == "..") {
      if (kept.empty()) return std::nullopt;  // would climb above the root
      kept.pop_back();
    } else if (!component.empty() && component != ".") {
      kept.push_back(component);
    }
    start = end + 1;
  }
  return join_absolute(kept);
}

bool path_is_under(std::string_view path, std::string_view folder) {
  if (folder == "/") return true;
  return path == folder || (path.size() > folder.size() &&
                            path.substr(0, folder.size()) == folder && path[folder.size()] == '/');
}

std::optional<CanonicalUrl> canonical_url(std::string_view url) {
  for (const char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f || c == '\\') return std::nullopt;
  }
  CanonicalUrl out;
  // scheme "://"
  const std::size_t colon = url.find("://");
  if (colon == std::string_view::npos || colon == 0 ||
      std::isalpha(static_cast<unsigned char>(url[0])) == 0) {
    return std::nullopt;
  }
  for (const char c : url.substr(0, colon)) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '+' && c != '-' && c != '.')
      return std::nullopt;
    out.scheme += lower(c);
  }
  // authority: host and port, never user information
  const std::size_t authority_start = colon + 3;
  const std::size_t authority_end = std::min(url.find_first_of("/?#", authority_start), url.size());
  const std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view host = authority, port;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (const std::size_t at = authority.find(':'); at != std::string_view::npos) {
    host = authority.substr(0, at);
    port = authority.substr(at + 1);
  }
  for (const char c : host) {
    const char l = lower(c);
    const bool allowed = std::isalnum(static_cast<unsigned char>(l)) != 0 || l == '-' || l == '.' ||
                         l == '_' || l == '[' || l == ']' || (host.front() == '[' && l == ':');
    if (!allowed) return std::nullopt;  // percent-encoded or otherwise unusual hosts are refused
    out.host += l;
  }
  if (!out.host.empty() && out.host.back() == '.') out.host.pop_back();
  if (out.host.empty() || out.host.front() == '.' || out.host.find("..") != std::string::npos)
    return std::nullopt;
  out.port = default_port(out.scheme);
  if (!port.empty()) {
    if (port.size() > 5) return std::nullopt;
    int value = 0;
    for (const char c : port) {
      if (std::isdigit(static_cast<unsigned char>(c)) == 0) return std::nullopt;
      value = value * 10 + (c - '0');
    }
    if (value > 65535) return std::nullopt;
    out.port = value;
  }
  // path: unreserved characters decoded (so "%2e%2e" is ".."), other escapes kept upper-case
  const std::size_t path_end = std::min(url.find_first_of("?#", authority_end), url.size());
  const std::string_view raw = url.substr(authority_end, path_end - authority_end);
  std::string path = "/";
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (i == 0 && raw[0] == '/') continue;
    if (raw[i] == ';') return std::nullopt;  // path parameters: servers read "..;" as ".."
    if (raw[i] != '%') {
      path += raw[i];
      continue;
    }
    if (i + 2 >= raw.size() || hex_value(raw[i + 1]) < 0 || hex_value(raw[i + 2]) < 0)
      return std::nullopt;
    const char decoded = static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
    if (decoded == '/' || decoded == '\\' || decoded == ';' || decoded == '\0') return std::nullopt;
    if (unreserved(decoded)) {
      path += decoded;
    } else {
      path += '%';
      path += static_cast<char>(std::toupper(static_cast<unsigned char>(raw[i + 1])));
      path += static_cast<char>(std::toupper(static_cast<unsigned char>(raw[i + 2])));
    }
    i += 2;
  }
  auto normalized = remove_dot_segments(path);
  if (!normalized) return std::nullopt;
  out.path = std::move(*normalized);
  return out;
}

bool host_matches(std::string_view host, std::string_view pattern) {
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
    const std::string_view suffix = pattern.substr(1);  // ".example.com"
    return host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix;
  }
  return host == pattern;
}

bool path_has_prefix(std::string_view path, std::string_view prefix) {
  if (prefix.empty() || prefix == "/") return true;
  if (prefix.back() == '/') return path.substr(0, prefix.size()) == prefix;
  return path == prefix || (path.size() > prefix.size() &&
                            path.substr(0, prefix.size()) == prefix && path[prefix.size()] == '/');
}

}  // namespace rein::detail
