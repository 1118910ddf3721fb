#include "schema/uri.hpp"

#include <cctype>
#include <optional>

namespace rein::detail::uri {
namespace {

struct Parts {
  std::optional<std::string_view> scheme, authority, query, fragment;
  std::string_view path;
};

Parts parse(std::string_view s) {
  Parts p;
  if (auto hash = s.find('#'); hash != std::string_view::npos) {
    p.fragment = s.substr(hash + 1);
    s = s.substr(0, hash);
  }
  if (auto q = s.find('?'); q != std::string_view::npos) {
    p.query = s.substr(q + 1);
    s = s.substr(0, q);
  }
  if (has_scheme(s)) {
    const auto colon = s.find(':');
    p.scheme = s.substr(0, colon);
    s = s.substr(colon + 1);
  }
  if (s.substr(0, 2) == "//") {
    s = s.substr(2);
    const auto slash = s.find('/');
    p.authority = s.substr(0, slash);
    s = slash == std::string_view::npos ? std::string_view() : s.substr(slash);
  }
  p.path = s;
  return p;
}

// RFC 3986 section 5.2.4.
std::string remove_dot_segments(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    if (in.substr(0, 3) == "../") {
      in.remove_prefix(3);
    } else if (in.substr(0, 2) == "./") {
      in.remove_prefix(2);
    } else if (in.substr(0, 3) == "/./") {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.substr(0, 4) == "/../" || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      const auto last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      const auto next = in.find('/', in[0] == '/' ? 1 : 0);
      const auto segment = in.substr(0, next);
      out += segment;
      in.remove_prefix(segment.size());
    }
  }
  return out;
}

std::string compose(const Parts& p, const std::string& path) {
  std::string out;
  if (p.scheme) (out += *p.scheme) += ':';
  if (p.authority) (out += "//") += *p.authority;
  out += path;
  if (p.query) (out += '?') += *p.query;
  if (p.fragment && !p.fragment->empty()) (out += '#') += *p.fragment;
  return out;
}

}  // namespace

bool has_scheme(std::string_view text) {
  if (text.empty() || !std::isalpha(static_cast<unsigned char>(text[0]))) return false;
  for (std::size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ':') return true;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return false;
}

std::string resolve(std::string_view base_text, std::string_view ref_text) {
  const Parts ref = parse(ref_text);
  const Parts base = parse(base_text);
  Parts target;
  std::string path;
  if (ref.scheme) {
    target = ref;
    path = remove_dot_segments(ref.path);
  } else {
    target.scheme = base.scheme;
    if (ref.authority) {
      target.authority = ref.authority;
      path = remove_dot_segments(ref.path);
      target.query = ref.query;
    } else {
      target.authority = base.authority;
      if (ref.path.empty()) {
        path = std::string(base.path);
        target.query = ref.query ? ref.query : base.query;
      } else {
        if (ref.path[0] == '/') {
          path = remove_dot_segments(ref.path);
        } else {
          std::string merged;
          if (base.authority && base.path.empty()) {
            merged = "/" + std::string(ref.path);
          } else {
            const auto slash = base.path.rfind('/');
            merged = slash == std::string_view::npos
                         ? std::string(ref.path)
                         : std::string(base.path.substr(0, slash + 1)) + std::string(ref.path);
          }
          path = remove_dot_segments(merged);
        }
        target.query = ref.query;
      }
    }
  }
  target.fragment = ref.fragment;
  return compose(target, path);
}

Split split_fragment(std::string_view text) {
  Split out;
  const auto hash = text.find('#');
  if (hash == std::string_view::npos) {
    out.uri = std::string(text);
    return out;
  }
  out.uri = std::string(text.substr(0, hash));
  out.fragment = std::string(text.substr(hash + 1));
  out.has_fragment = true;
  return out;
}

std::string percent_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hex(text[i + 1]);
      const int lo = hex(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

}  // namespace rein::detail::uri
