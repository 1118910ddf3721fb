#include "schema/idna.hpp"

#include <algorithm>
#include <cstdint>

#include <re2/re2.h>

namespace rein::detail::idna {
namespace {

constexpr std::uint32_t kMaxInt = 0x7fffffff;

bool decode_utf8(std::string_view s, std::u32string& out) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t extra = c < 0x80           ? 0
                              : (c >> 5) == 0x6  ? 1
                              : (c >> 4) == 0xe  ? 2
                              : (c >> 3) == 0x1e ? 3
                                                 : 9;
    if (extra == 9 || i + extra >= s.size()) return false;
    std::uint32_t cp = extra == 0 ? c : c & (0x3fu >> extra);
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    out.push_back(cp);
    i += extra + 1;
  }
  return true;
}

std::string encode_utf8(std::uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return out;
}

// RFC 3492 section 6.1.
std::uint32_t adapt(std::uint32_t delta, std::uint32_t points, bool first) {
  delta = first ? delta / 700 : delta / 2;
  delta += delta / points;
  std::uint32_t k = 0;
  while (delta > ((36 - 1) * 26) / 2) {
    delta /= 36 - 1;
    k += 36;
  }
  return k + (36 * delta) / (delta + 38);
}

std::uint32_t threshold(std::uint32_t k, std::uint32_t bias) {
  return k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
}

bool punycode_decode(std::string_view input, std::u32string& out) {
  const auto delimiter = input.rfind('-');
  const std::size_t basic = delimiter == std::string_view::npos ? 0 : delimiter;
  for (std::size_t j = 0; j < basic; ++j) {
    if (static_cast<unsigned char>(input[j]) >= 0x80) return false;
    out.push_back(static_cast<unsigned char>(input[j]));
  }
  std::uint32_t n = 128, i = 0, bias = 72;
  for (std::size_t in = delimiter == std::string_view::npos ? 0 : delimiter + 1;
       in < input.size();) {
    const std::uint32_t old_i = i;
    std::uint32_t w = 1;
    for (std::uint32_t k = 36;; k += 36) {
      if (in >= input.size()) return false;
      const char c = input[in++];
      const std::uint32_t digit = c >= '0' && c <= '9'   ? static_cast<std::uint32_t>(c - '0' + 26)
                                  : c >= 'a' && c <= 'z' ? static_cast<std::uint32_t>(c - 'a')
                                  : c >= 'A' && c <= 'Z' ? static_cast<std::uint32_t>(c - 'A')
                                                         : 36;
      if (digit >= 36 || digit > (kMaxInt - i) / w) return false;
      i += digit * w;
      const std::uint32_t t = threshold(k, bias);
      if (digit < t) break;
      if (w > kMaxInt / (36 - t)) return false;
      w *= 36 - t;
    }
    const auto length = static_cast<std::uint32_t>(out.size() + 1);
    bias = adapt(i - old_i, length, old_i == 0);
    if (i / length > kMaxInt - n) return false;
    n += i / length;
    i %= length;
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return false;
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(i), n);
    ++i;
  }
  return true;
}

bool punycode_encode(const std::u32string& input, std::string& out) {
  auto digit = [](std::uint32_t d) { return static_cast<char>(d < 26 ? 'a' + d : '0' + (d - 26)); };
  for (char32_t c : input) {
    if (c < 0x80) out += static_cast<char>(c);
  }
  const auto basic = static_cast<std::uint32_t>(out.size());
  std::uint32_t handled = basic;
  if (basic > 0) out += '-';
  std::uint32_t n = 128, delta = 0, bias = 72;
  while (handled < input.size()) {
    std::uint32_t m = kMaxInt;
    for (char32_t c : input) {
      if (c >= n && c < m) m = c;
    }
    if ((m - n) > (kMaxInt - delta) / (handled + 1)) return false;
    delta += (m - n) * (handled + 1);
    n = m;
    for (char32_t c : input) {
      if (c < n && ++delta == 0) return false;
      if (c != n) continue;
      std::uint32_t q = delta;
      for (std::uint32_t k = 36;; k += 36) {
        const std::uint32_t t = threshold(k, bias);
        if (q < t) break;
        out += digit(t + (q - t) % (36 - t));
        q = (q - t) / (36 - t);
      }
      out += digit(q);
      bias = adapt(delta, handled + 1, handled == basic);
      delta = 0;
      ++handled;
    }
    ++delta;
    ++n;
  }
  return true;
}

bool matches(const RE2& re, char32_t cp) {
  return RE2::FullMatch(encode_utf8(cp), re);
}

// Canonical_Combining_Class=Virama, which RE2 has no table for (Unicode 15).
bool is_virama(char32_t cp) {
  static constexpr char32_t kViramas[] = {
      0x094D,  0x09CD,  0x0A4D,  0x0ACD,  0x0B4D,  0x0BCD,  0x0C4D,  0x0CCD,  0x0D3B,
      0x0D3C,  0x0D4D,  0x0DCA,  0x0E3A,  0x0EBA,  0x0F84,  0x1039,  0x103A,  0x1714,
      0x1715,  0x1734,  0x17D2,  0x1A60,  0x1B44,  0x1BAA,  0x1BAB,  0x1BF2,  0x1BF3,
      0x2D7F,  0xA806,  0xA82C,  0xA8C4,  0xA953,  0xA9C0,  0xAAF6,  0xABED,  0x10A3F,
      0x11046, 0x11070, 0x1107F, 0x110B9, 0x11133, 0x11134, 0x111C0, 0x11235, 0x112EA,
      0x1134D, 0x11442, 0x114C2, 0x115BF, 0x1163F, 0x116B6, 0x1172B, 0x11839, 0x1193D,
      0x1193E, 0x119E0, 0x11A34, 0x11A47, 0x11A99, 0x11C3F, 0x11D44, 0x11D45, 0x11D97};
  return std::find(std::begin(kViramas), std::end(kViramas), cp) != std::end(kViramas);
}

struct Tables {
  RE2 allowed{R"([\p{Ll}\p{Lo}\p{Lm}\p{Mn}\p{Mc}\p{Nd}])"};
  RE2 mark{R"(\p{M})"};
  RE2 greek{R"(\p{Greek})"};
  RE2 hebrew{R"(\p{Hebrew})"};
  RE2 japanese{R"([\p{Hiragana}\p{Katakana}\p{Han}])"};
  RE2 transparent{R"([\p{Mn}\p{Me}\p{Cf}])"};
  // Joining_Type D, L or R: approximated by the letters of the joining scripts.
  RE2 joining{R"([\p{Arabic}\p{Syriac}\p{Nko}\p{Mongolian}\p{Mandaic}\p{Phags_Pa}])"};
  RE2 letter{R"(\p{L})"};
  // Bidi classes (RFC 5893), approximated by script and category.
  RE2 right_to_left{R"([\p{Hebrew}\p{Arabic}\p{Syriac}\p{Thaana}\p{Nko}])"};
};

const Tables& tables() {
  static const Tables t;
  return t;
}

bool contextual_ok(const std::u32string& label, std::size_t i) {
  const auto& t = tables();
  const char32_t cp = label[i];
  const bool has_prev = i > 0, has_next = i + 1 < label.size();
  switch (cp) {
    case 0x200C: {  // ZERO WIDTH NON-JOINER
      if (has_prev && is_virama(label[i - 1])) return true;
      std::size_t before = i;
      while (before > 0 && matches(t.transparent, label[before - 1]))
        --before;
      std::size_t after = i + 1;
      while (after < label.size() && matches(t.transparent, label[after]))
        ++after;
      auto joins = [&](char32_t c) { return matches(t.joining, c) && matches(t.letter, c); };
      return before > 0 && after < label.size() && joins(label[before - 1]) && joins(label[after]);
    }
    case 0x200D:
      return has_prev && is_virama(label[i - 1]);  // ZERO WIDTH JOINER
    case 0x00B7:
      return has_prev && has_next && label[i - 1] == 'l' && label[i + 1] == 'l';
    case 0x0375:
      return has_next && matches(t.greek, label[i + 1]);
    case 0x05F3:
    case 0x05F4:
      return has_prev && matches(t.hebrew, label[i - 1]);
    case 0x30FB:
      return std::any_of(label.begin(), label.end(),
                         [&](char32_t c) { return c != 0x30FB && matches(t.japanese, c); });
    default:
      break;
  }
  if (cp >= 0x0660 && cp <= 0x0669) {
    return std::none_of(label.begin(), label.end(),
                        [](char32_t c) { return c >= 0x06F0 && c <= 0x06F9; });
  }
  if (cp >= 0x06F0 && cp <= 0x06F9) {
    return std::none_of(label.begin(), label.end(),
                        [](char32_t c) { return c >= 0x0660 && c <= 0x0669; });
  }
  return true;
}

bool is_contextual(char32_t cp) {
  return cp == 0x200C || cp == 0x200D || cp == 0x00B7 || cp == 0x0375 || cp == 0x05F3 ||
         cp == 0x05F4 || cp == 0x30FB || (cp >= 0x0660 && cp <= 0x0669) ||
         (cp >= 0x06F0 && cp <= 0x06F9);
}

// RFC 5892: PVALID and CONTEXT code points; everything else is DISALLOWED.
bool allowed(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') || cp == '-';
  switch (cp) {
    case 0x00DF:
    case 0x03C2:
    case 0x06FD:
    case 0x06FE:
    case 0x0F0B:
    case 0x3007:
      return true;
    case 0x0640:
    case 0x07FA:
    case 0x302E:
    case 0x302F:
    case 0x3031:
    case 0x3032:
    case 0x3033:
    case 0x3034:
    case 0x3035:
    case 0x303B:
      return false;
    default:
      break;
  }
  return is_contextual(cp) || matches(tables().allowed, cp);
}

bool u_label_ok(std::u32string label) {
  if (label.empty() || label.size() > 63) return false;
  for (auto& c : label) {
    if (c >= 'A' && c <= 'Z') c = c - 'A' + 'a';  // A-labels compare case-insensitively
  }
  if (label.size() >= 4 && label[2] == '-' && label[3] == '-') return false;
  if (label.front() == '-' || label.back() == '-') return false;
  if (matches(tables().mark, label.front())) return false;
  for (std::size_t i = 0; i < label.size(); ++i) {
    if (!allowed(label[i])) return false;
    if (is_contextual(label[i]) && !contextual_ok(label, i)) return false;
  }
  return true;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

bool valid_a_label(std::string_view label, std::string* unicode) {
  if (label.size() < 5 || lower_ascii(label.substr(0, 4)) != "xn--") return false;
  const std::string encoded = lower_ascii(label.substr(4));
  std::u32string decoded;
  if (!punycode_decode(encoded, decoded)) return false;
  if (std::all_of(decoded.begin(), decoded.end(), [](char32_t c) { return c < 0x80; }))
    return false;
  for (auto& c : decoded) {
    if (c >= 'A' && c <= 'Z') c = c - 'A' + 'a';
  }
  std::string again;
  if (!punycode_encode(decoded, again) || again != encoded) return false;  // canonical form only
  if (unicode != nullptr) {
    for (char32_t c : decoded)
      *unicode += encode_utf8(c);
  }
  return u_label_ok(decoded);
}

bool valid_u_label(std::string_view label, std::size_t& ascii_length) {
  std::u32string decoded;
  if (!decode_utf8(label, decoded) || !u_label_ok(decoded)) return false;
  ascii_length = label.size();
  if (std::all_of(decoded.begin(), decoded.end(), [](char32_t c) { return c < 0x80; })) return true;
  std::string encoded;
  if (!punycode_encode(decoded, encoded)) return false;
  ascii_length = encoded.size() + 4;
  return ascii_length <= 63;
}

bool valid_bidi_name(std::string_view name_utf8) {
  std::u32string name;
  if (!decode_utf8(name_utf8, name)) return false;
  const auto& t = tables();
  auto rtl = [&](char32_t c) { return matches(t.right_to_left, c) && matches(t.letter, c); };
  if (std::none_of(name.begin(), name.end(), rtl)) return true;
  // RFC 5893 section 2, over each label; classes approximated: R/AL = letters of RTL scripts,
  // AN = Arabic-Indic digits, EN = ASCII and extended Arabic-Indic digits, NSM = marks.
  auto an = [](char32_t c) { return c >= 0x0660 && c <= 0x0669; };
  auto en = [](char32_t c) { return (c >= '0' && c <= '9') || (c >= 0x06F0 && c <= 0x06F9); };
  auto nsm = [&](char32_t c) { return matches(t.mark, c); };
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = start;
    while (end < name.size() && name[end] != '.')
      ++end;
    const std::u32string label = name.substr(start, end - start);
    if (!label.empty()) {
      const bool is_rtl = rtl(label.front());
      const bool is_ltr = !is_rtl && matches(t.letter, label.front());
      if (!is_rtl && !is_ltr) return false;  // rule 1: first character L, R or AL
      std::size_t last = label.size();
      while (last > 0 && nsm(label[last - 1]))
        --last;
      if (last == 0) return false;
      const char32_t final_char = label[last - 1];
      if (is_rtl) {
        bool has_an = false, has_en = false;
        for (char32_t c : label) {
          has_an = has_an || an(c);
          has_en = has_en || en(c);
          if (matches(t.letter, c) && !rtl(c)) return false;  // rule 2: no L in an RTL label
        }
        if (has_an && has_en) return false;                                        // rule 4
        if (!rtl(final_char) && !en(final_char) && !an(final_char)) return false;  // rule 3
      } else {
        for (char32_t c : label) {
          if (rtl(c) || an(c)) return false;  // rule 5
        }
        if (!matches(t.letter, final_char) && !en(final_char)) return false;  // rule 6
      }
    }
    start = end + 1;
  }
  return true;
}

}  // namespace rein::detail::idna
