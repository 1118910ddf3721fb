#include "schema/format.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <string>

#include <re2/re2.h>

#include "schema/ecma_regex.hpp"
#include "schema/idna.hpp"

namespace rein::detail {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}

// Exactly `n` ASCII digits at `pos`, as a number; -1 otherwise.
int digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return -1;
  int value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!is_digit(s[i])) return -1;
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

// RFC 3339 full-date.
bool is_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  const int year = digits(s, 0, 4), month = digits(s, 5, 2), day = digits(s, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1) return false;
  static constexpr std::array<int, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && !leap) return day <= 28;
  return day <= kDays[static_cast<std::size_t>(month - 1)];
}

// RFC 3339 full-time; a leap second only where it falls at 23:59:60 UTC.
bool is_time(std::string_view s) {
  if (s.size() < 9 || s[2] != ':' || s[5] != ':') return false;
  const int hour = digits(s, 0, 2), minute = digits(s, 3, 2), second = digits(s, 6, 2);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return false;
  }
  std::size_t pos = 8;
  if (pos < s.size() && s[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < s.size() && is_digit(s[pos]))
      ++pos;
    if (pos == start) return false;
  }
  if (pos >= s.size()) return false;
  int offset_minutes = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    if (pos + 1 != s.size()) return false;
  } else if (s[pos] == '+' || s[pos] == '-') {
    if (pos + 6 != s.size() || s[pos + 3] != ':') return false;
    const int oh = digits(s, pos + 1, 2), om = digits(s, pos + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
    offset_minutes = (s[pos] == '+' ? 1 : -1) * (oh * 60 + om);
  } else {
    return false;
  }
  if (second == 60) {
    const int utc = ((hour * 60 + minute - offset_minutes) % 1440 + 1440) % 1440;
    return utc == 23 * 60 + 59;
  }
  return true;
}

bool is_date_time(std::string_view s) {
  if (s.size() < 11 || (s[10] != 'T' && s[10] != 't')) return false;
  return is_date(s.substr(0, 10)) && is_time(s.substr(11));
}

bool is_duration(std::string_view s) {
  static const RE2 kDuration(
      R"(P(?:(?:\d+D|\d+M(?:\d+D)?|\d+Y(?:\d+M(?:\d+D)?)?)(?:T(?:\d+H(?:\d+M(?:\d+S)?)?|\d+M(?:\d+S)?|\d+S))?|T(?:\d+H(?:\d+M(?:\d+S)?)?|\d+M(?:\d+S)?|\d+S)|\d+W))");
  return RE2::FullMatch(s, kDuration);
}

bool is_ipv4(std::string_view s) {
  int parts = 0;
  std::size_t pos = 0;
  while (true) {
    const std::size_t start = pos;
    int value = 0;
    while (pos < s.size() && is_digit(s[pos]) && pos - start < 3)
      value = value * 10 + (s[pos++] - '0');
    const std::size_t length = pos - start;
    if (length == 0 || value > 255 || (length > 1 && s[start] == '0')) return false;
    if (++parts == 4) return pos == s.size();
    if (pos >= s.size() || s[pos] != '.') return false;
    ++pos;
  }
}

bool is_ipv6(std::string_view s) {
  if (s.empty()) return false;
  int groups = 0;
  bool compressed = false;
  std::size_t pos = 0;
  if (s.substr(0, 2) == "::") {
    compressed = true;
    pos = 2;
    if (pos == s.size()) return true;
  } else if (s[0] == ':') {
    return false;
  }
  while (pos < s.size()) {
    std::size_t end = pos;
    while (end < s.size() && is_hex(s[end]))
      ++end;
    if (end < s.size() && s[end] == '.') {  // an IPv4 tail takes two groups
      if (!is_ipv4(s.substr(pos))) return false;
      groups += 2;
      pos = s.size();
      break;
    }
    if (end == pos || end - pos > 4) return false;
    ++groups;
    pos = end;
    if (pos == s.size()) break;
    if (s[pos] != ':') return false;
    ++pos;
    if (pos < s.size() && s[pos] == ':') {
      if (compressed) return false;
      compressed = true;
      ++pos;
      if (pos == s.size()) break;
    } else if (pos == s.size()) {
      return false;  // a trailing single colon
    }
  }
  return compressed ? groups < 8 : groups == 8;
}

// A letters-digits-hyphens label (RFC 1123), with RFC 5891's reservation of "--" in positions
// 3-4 for A-labels, which must then be valid IDNA (RFC 5890).
bool is_ldh_label(std::string_view label, std::string* unicode) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
    return false;
  for (char c : label) {
    if (!is_alnum(c) && c != '-') return false;
  }
  if (label.size() >= 4 && label[2] == '-' && label[3] == '-') {
    return idna::valid_a_label(label, unicode);
  }
  if (unicode != nullptr) *unicode += label;
  return true;
}

// RFC 1123 host names: dot-separated LDH labels; A-labels are decoded and checked.
bool is_hostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::string unicode;
  std::size_t start = 0;
  while (true) {
    const auto dot = s.find('.', start);
    const auto label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!is_ldh_label(label, &unicode)) return false;
    if (dot == std::string_view::npos) break;
    unicode += '.';
    start = dot + 1;
  }
  return idna::valid_bidi_name(unicode);
}

// RFC 5890 internationalized host names: U-labels or A-labels, separated by any of the four
// full stops IDNA recognises.
bool is_idn_hostname(std::string_view s) {
  static constexpr std::string_view kStops[] = {"\xe3\x80\x82", "\xef\xbc\x8e", "\xef\xbd\xa1"};
  std::string name;
  name.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto stop = std::find(std::begin(kStops), std::end(kStops), s.substr(i, 3));
    if (stop != std::end(kStops)) {
      name += '.';
      i += 3;
    } else {
      name += s[i++];
    }
  }
  if (name.empty()) return false;
  std::string unicode;
  std::size_t ascii_length = 0, start = 0;
  while (true) {
    const auto dot = name.find('.', start);
    const std::string_view label = std::string_view(name).substr(
        start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool ascii = std::all_of(label.begin(), label.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) {
      if (!is_ldh_label(label, &unicode)) return false;
      ascii_length += label.size();
    } else {
      std::size_t length = 0;
      if (!idna::valid_u_label(label, length)) return false;
      unicode += label;
      ascii_length += length;
    }
    if (dot == std::string::npos) break;
    unicode += '.';
    ++ascii_length;
    start = dot + 1;
  }
  return ascii_length <= 253 && idna::valid_bidi_name(unicode);
}

// RFC 5321 mailbox: dot-atom or quoted local part; a host name or an address literal.
bool is_email(std::string_view s, bool international) {
  const auto at = s.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == s.size()) return false;
  const auto local = s.substr(0, at);
  const auto domain = s.substr(at + 1);
  if (local.front() == '"') {
    if (local.size() < 2 || local.back() != '"') return false;
    for (std::size_t i = 1; i + 1 < local.size(); ++i) {
      const char c = local[i];
      if (c == '\\') {
        if (++i + 1 >= local.size()) return false;
      } else if (c == '"' || (static_cast<unsigned char>(c) < 0x20)) {
        return false;
      }
    }
  } else {
    static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
    if (local.front() == '.' || local.back() == '.') return false;
    for (std::size_t i = 0; i < local.size(); ++i) {
      const char c = local[i];
      const bool wide = international && static_cast<unsigned char>(c) >= 0x80;
      if (c == '.') {
        if (local[i - 1] == '.') return false;
      } else if (!is_alnum(c) && kSpecials.find(c) == std::string_view::npos && !wide) {
        return false;
      }
    }
  }
  if (domain.front() == '[') {
    if (domain.back() != ']') return false;
    const auto literal = domain.substr(1, domain.size() - 2);
    if (literal.substr(0, 5) == "IPv6:") return is_ipv6(literal.substr(5));
    return is_ipv4(literal);
  }
  if (!international) return is_hostname(domain);
  for (char c : domain) {
    if (c == ' ' || c == '@' || c == '[' || c == ']') return false;
  }
  return domain.front() != '.' && domain.back() != '.';
}

// Characters RFC 3986 allows in a URI outside the host's brackets (plus '%' escapes, checked
// separately). IRIs (RFC 3987) also allow non-ASCII.
bool uri_char(char c, bool iri) {
  if (static_cast<unsigned char>(c) >= 0x80) return iri;
  static constexpr std::string_view kAllowed = "-._~!$&'()*+,;=:@/?#";
  return is_alnum(c) || kAllowed.find(c) != std::string_view::npos;
}

bool valid_chars(std::string_view s, bool iri) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!uri_char(s[i], iri)) {
      return false;
    }
  }
  return true;
}

bool valid_authority(std::string_view a, bool iri) {
  if (const auto at = a.find('@'); at != std::string_view::npos) {
    if (a.find('@', at + 1) != std::string_view::npos) return false;  // '@' ends the userinfo
    if (!valid_chars(a.substr(0, at), iri)) return false;
    a = a.substr(at + 1);
  }
  std::string_view host = a, port;
  if (!a.empty() && a.front() == '[') {
    const auto close = a.find(']');
    if (close == std::string_view::npos) return false;
    host = a.substr(1, close - 1);
    const auto rest = a.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    if (!rest.empty()) port = rest.substr(1);
    if (!is_ipv6(host) && !(host.size() > 1 && (host[0] == 'v' || host[0] == 'V'))) return false;
  } else {
    if (const auto colon = a.find(':'); colon != std::string_view::npos) {
      host = a.substr(0, colon);
      port = a.substr(colon + 1);
    }
    for (char c : host) {
      if (c == '/' || c == '?' || c == '#' || c == '@' || !uri_char(c, iri)) {
        if (c != '%') return false;
      }
    }
    if (!valid_chars(host, iri)) return false;
  }
  for (char c : port) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// RFC 3986 URI (scheme required) or URI reference; `iri` admits RFC 3987's non-ASCII.
bool is_uri(std::string_view s, bool reference, bool iri) {
  if (const auto hash = s.find('#'); hash != std::string_view::npos) {
    if (s.find('#', hash + 1) != std::string_view::npos) return false;
  }
  std::size_t colon = s.find(':');
  const std::size_t first_delimiter = s.find_first_of("/?#");
  bool has_scheme = colon != std::string_view::npos &&
                    (first_delimiter == std::string_view::npos || colon < first_delimiter);
  if (has_scheme) {
    const auto scheme = s.substr(0, colon);
    if (scheme.empty() || !is_alpha(scheme[0])) return false;
    for (char c : scheme) {
      if (!is_alnum(c) && c != '+' && c != '-' && c != '.') return false;
    }
    s = s.substr(colon + 1);
  } else if (!reference) {
    return false;
  }
  if (s.substr(0, 2) == "//") {
    const auto rest = s.substr(2);
    const auto end = rest.find_first_of("/?#");
    if (!valid_authority(rest.substr(0, end), iri)) return false;
    s = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  return valid_chars(s, iri);
}

// RFC 6570: literals, and expressions "{" [operator] varspec *("," varspec) "}".
bool is_uri_template(std::string_view s) {
  static constexpr std::string_view kBadLiteral = " \"<>\\^`{|}";
  auto varspec_ok = [](std::string_view spec) {
    std::string_view name = spec, modifier;
    if (const auto colon = spec.find(':'); colon != std::string_view::npos) {
      name = spec.substr(0, colon);
      modifier = spec.substr(colon + 1);
      if (modifier.empty() || modifier.size() > 4 || modifier[0] == '0') return false;
      for (char c : modifier) {
        if (!is_digit(c)) return false;
      }
    } else if (!spec.empty() && spec.back() == '*') {
      name = spec.substr(0, spec.size() - 1);
    }
    if (name.empty() || name.front() == '.' || name.back() == '.') return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      if (c == '.') {
        if (name[i - 1] == '.') return false;
      } else if (c == '%') {
        if (i + 2 >= name.size() || !is_hex(name[i + 1]) || !is_hex(name[i + 2])) return false;
        i += 2;
      } else if (!is_alnum(c) && c != '_') {
        return false;
      }
    }
    return true;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '{') {
      const auto close = s.find('}', i);
      if (close == std::string_view::npos) return false;
      std::string_view body = s.substr(i + 1, close - i - 1);
      if (!body.empty() && std::string_view("+#./;?&").find(body[0]) != std::string_view::npos) {
        body.remove_prefix(1);
      }
      std::size_t start = 0;
      while (true) {
        const auto comma = body.find(',', start);
        if (!varspec_ok(
                body.substr(start, comma == std::string_view::npos ? body.npos : comma - start))) {
          return false;
        }
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      i = close;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f ||
               kBadLiteral.find(c) != std::string_view::npos) {
      return false;
    } else if (c == '%' && (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))) {
      return false;
    }
  }
  return true;
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
  }
  return true;
}

bool is_json_pointer(std::string_view s) {
  if (s.empty()) return true;
  if (s[0] != '/') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '~' && (i + 1 >= s.size() || (s[i + 1] != '0' && s[i + 1] != '1'))) return false;
  }
  return true;
}

bool is_relative_json_pointer(std::string_view s) {
  std::size_t pos = 0;
  while (pos < s.size() && is_digit(s[pos]))
    ++pos;
  if (pos == 0 || (pos > 1 && s[0] == '0')) return false;
  const auto rest = s.substr(pos);
  return rest == "#" || is_json_pointer(rest);
}

constexpr std::pair<std::string_view, Format> kNames[] = {
    {"date-time", Format::date_time},
    {"date", Format::date},
    {"time", Format::time},
    {"duration", Format::duration},
    {"email", Format::email},
    {"idn-email", Format::idn_email},
    {"hostname", Format::hostname},
    {"idn-hostname", Format::idn_hostname},
    {"ipv4", Format::ipv4},
    {"ipv6", Format::ipv6},
    {"uri", Format::uri},
    {"uri-reference", Format::uri_reference},
    {"iri", Format::iri},
    {"iri-reference", Format::iri_reference},
    {"uri-template", Format::uri_template},
    {"uuid", Format::uuid},
    {"regex", Format::regex},
    {"json-pointer", Format::json_pointer},
    {"relative-json-pointer", Format::relative_json_pointer},
};

}  // namespace

Format format_named(std::string_view name) {
  for (const auto& [text, format] : kNames) {
    if (text == name) return format;
  }
  return Format::none;
}

const char* format_name(Format format) {
  for (const auto& [text, f] : kNames) {
    if (f == format) return text.data();
  }
  return "";
}

bool format_matches(Format format, std::string_view s) {
  switch (format) {
    case Format::none:
      return true;
    case Format::date_time:
      return is_date_time(s);
    case Format::date:
      return is_date(s);
    case Format::time:
      return is_time(s);
    case Format::duration:
      return is_duration(s);
    case Format::email:
      return is_email(s, false);
    case Format::idn_email:
      return is_email(s, true);
    case Format::hostname:
      return is_hostname(s);
    case Format::idn_hostname:
      return is_idn_hostname(s);
    case Format::ipv4:
      return is_ipv4(s);
    case Format::ipv6:
      return is_ipv6(s);
    case Format::uri:
      return is_uri(s, false, false);
    case Format::uri_reference:
      return is_uri(s, true, false);
    case Format::iri:
      return is_uri(s, false, true);
    case Format::iri_reference:
      return is_uri(s, true, true);
    case Format::uri_template:
      return is_uri_template(s);
    case Format::uuid:
      return is_uuid(s);
    case Format::regex:
      return is_ecma_regex(s);
    case Format::json_pointer:
      return is_json_pointer(s);
    case Format::relative_json_pointer:
      return is_relative_json_pointer(s);
  }
  return true;
}

}  // namespace rein::detail
