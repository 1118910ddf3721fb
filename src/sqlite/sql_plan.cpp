// parse_sql_plan: a model's answer to a SqlPlan (see include/rein/sql_sandbox.hpp).
#include <optional>

#include "rein/sql_sandbox.hpp"
#include "sqlite/sql_text.hpp"

namespace rein {

using sql_text::lower;
using sql_text::split_leading_comment;
using sql_text::trim;

Result<SqlPlan> parse_sql_plan(std::string_view text, std::string_view tag) {
  const std::string lowered = lower(text);
  const std::string open = "<" + lower(tag) + ">";
  const std::string close = "</" + lower(tag) + ">";
  std::string_view body = text;
  const auto start = lowered.find(open);
  const auto end = lowered.find(close);
  if (start != std::string::npos || end != std::string::npos) {
    if (start == std::string::npos || end == std::string::npos || end < start) {
      return Error(ErrorCode::invalid_argument,
                   "plan: unbalanced " + open + " … " + close + " tags");
    }
    if (lowered.find(open, start + 1) != std::string::npos) {
      return Error(ErrorCode::invalid_argument,
                   "plan: more than one " + open + " block; send exactly one");
    }
    body = text.substr(start + open.size(), end - start - open.size());
  }
  SqlPlan plan;
  plan.sql = trim(body);
  std::optional<SqlIntent> intent;
  std::size_t pos = 0;
  while (pos <= plan.sql.size()) {
    const auto eol = plan.sql.find('\n', pos);
    const std::string line = lower(trim(std::string_view(plan.sql).substr(
        pos, eol == std::string::npos ? std::string::npos : eol - pos)));
    if (line.rfind("--", 0) == 0) {
      const std::string content = trim(std::string_view(line).substr(2));
      if (content.rfind("intent:", 0) == 0) {
        const std::string value = trim(std::string_view(content).substr(7));
        std::optional<SqlIntent> declared;
        if (value == "read") declared = SqlIntent::read;
        if (value == "mutate") declared = SqlIntent::mutate;
        if (!declared) {
          return Error(ErrorCode::invalid_argument,
                       "plan: intent '" + value + "' is not 'read' or 'mutate'");
        }
        if (intent && *intent != *declared) {
          return Error(ErrorCode::invalid_argument, "plan: declares both read and mutate intent");
        }
        intent = declared;
      }
    }
    if (eol == std::string::npos) break;
    pos = eol + 1;
  }
  if (!intent) {
    return Error(ErrorCode::invalid_argument,
                 "plan: no declared intent; add a line '-- intent: read' or '-- intent: mutate'");
  }
  plan.intent = *intent;
  if (split_leading_comment(plan.sql).second.empty()) {
    return Error(ErrorCode::invalid_argument, "plan: contains no SQL statement");
  }
  return plan;
}

}  // namespace rein
