#include "schema/ecma_regex.hpp"

#include <cctype>
#include <set>
#include <string>

namespace rein::detail {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_syntax(char c) {
  return std::string_view("^$\\.*+?()[]{}|/").find(c) != std::string_view::npos;
}

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  bool parse() {
    count_groups();
    if (!disjunction(0) || i_ != p_.size()) return false;
    for (const auto& name : references_) {
      if (names_.count(name) == 0) return false;
    }
    return max_backreference_ <= groups_;
  }

 private:
  static constexpr int kMaxNesting = 256;  // hostile patterns must not exhaust the stack

  bool at_end() const { return i_ >= p_.size(); }
  char peek(std::size_t ahead = 0) const { return i_ + ahead < p_.size() ? p_[i_ + ahead] : '\0'; }
  bool eat(std::string_view s) {
    if (p_.substr(i_, s.size()) != s) return false;
    i_ += s.size();
    return true;
  }

  // Backreferences may point forward, so capturing groups are counted first.
  void count_groups() {
    bool in_class = false;
    for (std::size_t k = 0; k < p_.size(); ++k) {
      if (p_[k] == '\\') {
        ++k;
      } else if (in_class) {
        in_class = p_[k] != ']';
      } else if (p_[k] == '[') {
        in_class = true;
      } else if (p_[k] == '(' && (k + 1 >= p_.size() || p_[k + 1] != '?' ||
                                  (k + 2 < p_.size() && p_[k + 2] == '<' && k + 3 < p_.size() &&
                                   p_[k + 3] != '=' && p_[k + 3] != '!'))) {
        ++groups_;
      }
    }
  }

  bool disjunction(int depth) {
    if (depth > kMaxNesting) return false;
    if (!alternative(depth)) return false;
    while (eat("|")) {
      if (!alternative(depth)) return false;
    }
    return true;
  }

  bool alternative(int depth) {
    while (!at_end() && peek() != '|' && peek() != ')') {
      if (!term(depth)) return false;
    }
    return true;
  }

  bool term(int depth) {
    if (eat("^") || eat("$") || eat("\\b") || eat("\\B")) return true;
    if (eat("(?=") || eat("(?!") || eat("(?<=") || eat("(?<!")) {
      return disjunction(depth + 1) && eat(")");  // not quantifiable with the u flag
    }
    if (!atom(depth)) return false;
    return quantifier();
  }

  bool quantifier() {
    if (eat("*") || eat("+") || eat("?")) {
      eat("?");
      return true;
    }
    if (peek() != '{') return true;
    ++i_;
    std::size_t start = i_;
    while (is_digit(peek()))
      ++i_;
    if (i_ == start) return false;
    const std::string low(p_.substr(start, i_ - start));
    if (eat(",")) {
      start = i_;
      while (is_digit(peek()))
        ++i_;
      if (i_ > start) {
        const std::string high(p_.substr(start, i_ - start));
        if (high.size() < low.size() || (high.size() == low.size() && high < low)) return false;
      }
    }
    if (!eat("}")) return false;
    eat("?");
    return true;
  }

  bool group_name(std::string& name) {
    while (!at_end() && peek() != '>') {
      const char c = peek();
      const bool ok = is_letter(c) || c == '_' || c == '$' ||
                      static_cast<unsigned char>(c) >= 0x80 || (!name.empty() && is_digit(c));
      if (!ok) return false;
      name += c;
      ++i_;
    }
    return !name.empty() && eat(">");
  }

  bool atom(int depth) {
    const char c = peek();
    if (c == '(') {
      if (eat("(?:")) return disjunction(depth + 1) && eat(")");
      if (eat("(?<")) {
        std::string name;
        if (!group_name(name) || !names_.insert(name).second) return false;
        return disjunction(depth + 1) && eat(")");
      }
      ++i_;
      if (peek() == '?') return false;  // (?P<..>), (?#...), (?i): not ECMA-262
      return disjunction(depth + 1) && eat(")");
    }
    if (c == '[') return character_class();
    if (c == '\\') {
      ++i_;
      return atom_escape();
    }
    if (c == '.') {
      ++i_;
      return true;
    }
    if (std::string_view("*+?{}])|").find(c) != std::string_view::npos) return false;
    ++i_;
    return true;
  }

  bool atom_escape() {
    const char c = peek();
    if (is_digit(c) && c != '0') {
      int n = 0;
      while (is_digit(peek()) && n < 100000)
        n = n * 10 + (p_[i_++] - '0');
      max_backreference_ = std::max(max_backreference_, n);
      return true;
    }
    if (c == 'k') {
      ++i_;
      std::string name;
      if (!eat("<") || !group_name(name)) return false;
      references_.insert(name);
      return true;
    }
    return character_escape(false);
  }

  // After a backslash; `in_class` admits \b (backspace) and \- as well.
  bool character_escape(bool in_class) {
    const char c = peek();
    if (at_end()) return false;
    ++i_;
    if (std::string_view("dDsSwWfnrtv").find(c) != std::string_view::npos) return true;
    if (in_class && (c == 'b' || c == '-')) return true;
    if (c == 'c') {
      if (!is_letter(peek())) return false;
      ++i_;
      return true;
    }
    if (c == '0') return !is_digit(peek());
    if (c == 'x') {
      if (!is_hex(peek()) || !is_hex(peek(1))) return false;
      i_ += 2;
      return true;
    }
    if (c == 'u') {
      if (eat("{")) {
        const std::size_t start = i_;
        while (is_hex(peek()))
          ++i_;
        return i_ > start && eat("}");
      }
      for (int k = 0; k < 4; ++k) {
        if (!is_hex(peek())) return false;
        ++i_;
      }
      return true;
    }
    if (c == 'p' || c == 'P') {
      if (!eat("{")) return false;
      const std::size_t start = i_;
      while (is_letter(peek()) || peek() == '_' || peek() == '=' || is_digit(peek()))
        ++i_;
      return i_ > start && eat("}");
    }
    return is_syntax(c);  // identity escapes, with the u flag, are syntax characters only
  }

  bool character_class() {
    ++i_;  // '['
    eat("^");
    while (!at_end() && peek() != ']') {
      bool first_is_set = false;
      if (!class_atom(first_is_set)) return false;
      if (peek() == '-' && peek(1) != ']' && i_ + 1 < p_.size()) {
        ++i_;
        bool second_is_set = false;
        if (!class_atom(second_is_set) || first_is_set || second_is_set) return false;
      }
    }
    return eat("]");
  }

  bool class_atom(bool& is_set) {
    if (peek() != '\\') {
      ++i_;
      return true;
    }
    ++i_;
    is_set = std::string_view("dDsSwWpP").find(peek()) != std::string_view::npos;
    return character_escape(true);
  }

  std::string_view p_;
  std::size_t i_ = 0;
  int groups_ = 0;
  int max_backreference_ = 0;
  std::set<std::string> names_, references_;
};

}  // namespace

std::string ecma_to_re2(std::string_view pattern) {
  static constexpr std::pair<std::string_view, std::string_view> kCategories[] = {
      {"Letter", "L"},
      {"Uppercase_Letter", "Lu"},
      {"Lowercase_Letter", "Ll"},
      {"Titlecase_Letter", "Lt"},
      {"Modifier_Letter", "Lm"},
      {"Other_Letter", "Lo"},
      {"Mark", "M"},
      {"Combining_Mark", "M"},
      {"Nonspacing_Mark", "Mn"},
      {"Spacing_Mark", "Mc"},
      {"Enclosing_Mark", "Me"},
      {"Number", "N"},
      {"Decimal_Number", "Nd"},
      {"digit", "Nd"},
      {"Letter_Number", "Nl"},
      {"Other_Number", "No"},
      {"Punctuation", "P"},
      {"punct", "P"},
      {"Connector_Punctuation", "Pc"},
      {"Dash_Punctuation", "Pd"},
      {"Open_Punctuation", "Ps"},
      {"Close_Punctuation", "Pe"},
      {"Initial_Punctuation", "Pi"},
      {"Final_Punctuation", "Pf"},
      {"Other_Punctuation", "Po"},
      {"Symbol", "S"},
      {"Math_Symbol", "Sm"},
      {"Currency_Symbol", "Sc"},
      {"Modifier_Symbol", "Sk"},
      {"Other_Symbol", "So"},
      {"Separator", "Z"},
      {"Space_Separator", "Zs"},
      {"Line_Separator", "Zl"},
      {"Paragraph_Separator", "Zp"},
      {"Other", "C"},
      {"Control", "Cc"},
      {"cntrl", "Cc"},
      {"Format", "Cf"},
      {"Surrogate", "Cs"},
      {"Private_Use", "Co"},
      {"Unassigned", "Cn"}};
  std::string out;
  out.reserve(pattern.size());
  // ECMA-262's \s: its white space and line terminators (RE2's \s is ASCII only).
  static constexpr std::string_view kSpace =
      "\\t\\n\\x0b\\f\\r "
      "\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}";
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '[' && !in_class) {
      in_class = true;
      // ECMA-262's [] matches nothing and [^] anything; RE2 would read "]" as a member.
      if (pattern.substr(i, 2) == "[]") {
        out += "[^\\x{0}-\\x{10ffff}]";
        ++i;
        in_class = false;
        continue;
      }
      if (pattern.substr(i, 3) == "[^]") {
        out += "(?s:.)";
        i += 2;
        in_class = false;
        continue;
      }
    } else if (c == ']' && in_class) {
      in_class = false;
    }
    if (c != '\\' || i + 1 >= pattern.size()) {
      out += c;
      continue;
    }
    const char next = pattern[i + 1];
    if (next == 's' || (next == 'S' && !in_class)) {
      out +=
          in_class ? std::string(kSpace) : (next == 's' ? "[" : "[^") + std::string(kSpace) + "]";
      ++i;
      continue;
    }
    if (next == 'u') {  // \uXXXX and \u{X...} are RE2's \x{...}
      std::size_t start = i + 2, end = start;
      if (start < pattern.size() && pattern[start] == '{') {
        end = pattern.find('}', start);
        if (end != std::string_view::npos) {
          ((out += "\\x{") += pattern.substr(start + 1, end - start - 1)) += '}';
          i = end;
          continue;
        }
      } else if (start + 4 <= pattern.size() &&
                 pattern.substr(start, 4).find_first_not_of("0123456789abcdefABCDEF") ==
                     std::string_view::npos) {
        ((out += "\\x{") += pattern.substr(start, 4)) += '}';
        i = start + 3;
        continue;
      }
    }
    if (next == 'c' && i + 2 < pattern.size() &&
        std::isalpha(static_cast<unsigned char>(pattern[i + 2]))) {
      static constexpr char kHex[] = "0123456789abcdef";
      const int code = pattern[i + 2] % 32;  // \cJ is U+000A
      ((out += "\\x") += kHex[code / 16]) += kHex[code % 16];
      i += 2;
      continue;
    }
    const auto close = pattern.find('}', i + 2);
    if ((next != 'p' && next != 'P') || i + 2 >= pattern.size() || pattern[i + 2] != '{' ||
        close == std::string::npos) {
      (out += c) += next;
      ++i;
      continue;
    }
    std::string_view name(pattern.data() + i + 3, close - i - 3);
    for (std::string_view prefix :
         {"General_Category=", "gc=", "Script_Extensions=", "scx=", "Script=", "sc="}) {
      if (name.substr(0, prefix.size()) == prefix) {
        name.remove_prefix(prefix.size());
        break;
      }
    }
    for (const auto& [long_name, short_name] : kCategories) {
      if (name == long_name) {
        name = short_name;
        break;
      }
    }
    ((((out += '\\') += next) += '{') += name) += '}';
    i = close;
  }
  return out;
}

bool is_ecma_regex(std::string_view pattern) {
  return Parser(pattern).parse();
}

}  // namespace rein::detail
