// Internal: text helpers shared by the SQL plan parser and the sandbox.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>

namespace rein::sql_text {

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::string trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

// The comment lines above a statement, and the statement without them.
inline std::pair<std::string, std::string> split_leading_comment(std::string_view text) {
  std::string comment;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
      ++i;
    if (text.substr(i, 2) == "--") {
      const auto end = text.find('\n', i);
      const auto line =
          text.substr(i + 2, end == std::string_view::npos ? std::string_view::npos : end - i - 2);
      comment += (comment.empty() ? "" : "\n") + trim(line);
      i = end == std::string_view::npos ? text.size() : end + 1;
    } else if (text.substr(i, 2) == "/*") {
      const auto end = text.find("*/", i + 2);
      const auto body =
          text.substr(i + 2, end == std::string_view::npos ? std::string_view::npos : end - i - 2);
      comment += (comment.empty() ? "" : "\n") + trim(body);
      i = end == std::string_view::npos ? text.size() : end + 2;
    } else {
      break;
    }
  }
  return {comment, trim(text.substr(std::min(i, text.size())))};
}

}  // namespace rein::sql_text
