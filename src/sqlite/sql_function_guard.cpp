// SqlFunctionGuard: bounded printf/format, instr, replace and trim for the SQL sandbox (see
// sql_function_guard.hpp).
#include "sqlite/sql_function_guard.hpp"

#include <algorithm>
#include <limits>
#include <string_view>

#include <sqlite3.h>

namespace rein {
namespace {

// Bytes a value occupies as text or blob; numbers' text forms are short, and reading them as
// text would change the value's representation in place.
std::int64_t size_of(sqlite3_value* value) {
  switch (sqlite3_value_type(value)) {
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      return sqlite3_value_bytes(value);
    case SQLITE_NULL:
      return 0;
    default:
      return 32;
  }
}

// The text of a printf format, from a copy, so the argument keeps its type.
std::string format_text(sqlite3_value* value) {
  if (sqlite3_value_type(value) == SQLITE_TEXT) {
    return {reinterpret_cast<const char*>(sqlite3_value_text(value)),
            static_cast<std::size_t>(sqlite3_value_bytes(value))};
  }
  if (sqlite3_value_type(value) != SQLITE_BLOB) return {};  // numbers hold no '%'
  sqlite3_value* copy = sqlite3_value_dup(value);
  if (copy == nullptr) return {};
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(copy));
  std::string out =
      text != nullptr ? std::string(text, static_cast<std::size_t>(sqlite3_value_bytes(copy))) : "";
  sqlite3_value_free(copy);
  return out;
}

// The output a printf format asks for through widths and precisions: what SQLite's formatter
// loops over, one character at a time, before it notices that the result is too big. Follows
// sqlite3_str_vappendf's reading of the format: flags, width (digits or '*'), '.' precision
// (digits or '*'), 'l' modifiers, then one conversion, which takes one argument unless it is
// %% or %n; an unknown conversion ends the formatting. A '*' takes the next argument as an int,
// as SQLite does (negative widths left-justify; negative precisions mean none).
std::int64_t printf_demand(std::string_view format, int argc, sqlite3_value** argv) {
  constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
  int next = 1;  // argv[0] is the format
  auto int_arg = [&]() -> std::int64_t {
    if (next >= argc) return 0;
    return static_cast<int>(sqlite3_value_int64(argv[next++]));  // SQLite truncates to int too
  };
  auto digits = [&](std::size_t& i) {
    std::int64_t n = 0;
    while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
      n = std::min<std::int64_t>(n * 10 + (format[i] - '0'), kIntMax);
      ++i;
    }
    return n;
  };
  std::int64_t demand = 0;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') continue;
    if (++i >= format.size()) break;
    while (i < format.size() &&
           std::string_view("-+ #!0,").find(format[i]) != std::string_view::npos)
      ++i;
    std::int64_t width = 0, precision = 0;
    if (i < format.size() && format[i] == '*') {
      width = int_arg();
      width = width < 0 ? (width >= -kIntMax ? -width : 0) : width;
      ++i;
    } else {
      width = digits(i);
    }
    if (i < format.size() && format[i] == '.') {
      ++i;
      if (i < format.size() && format[i] == '*') {
        precision = int_arg();
        precision = precision < 0 ? (precision >= -kIntMax ? -precision : 0) : precision;
        ++i;
      } else {
        precision = digits(i);
      }
    }
    while (i < format.size() && format[i] == 'l')
      ++i;
    if (i >= format.size()) break;
    demand += width + precision;
    const char conversion = format[i];
    if (conversion == '%' || conversion == 'n') continue;
    if (std::string_view("diuxXofeEgGcszqQwrp").find(conversion) == std::string_view::npos) break;
    ++next;
  }
  return demand;
}

}  // namespace

struct SqlFunctionGuard::Function {
  SqlFunctionGuard* guard;
  std::string name;
};

const std::set<std::string>& SqlFunctionGuard::guarded_names() {
  static const std::set<std::string> names = {"printf", "format", "instr", "replace",
                                              "trim",   "ltrim",  "rtrim"};
  return names;
}

Result<std::unique_ptr<SqlFunctionGuard>> SqlFunctionGuard::install(
    sqlite3* db, const std::set<std::string>& allowed, Limits limits, Checkpoint checkpoint) {
  std::unique_ptr<SqlFunctionGuard> guard(new SqlFunctionGuard());
  guard->limits_ = limits;
  guard->checkpoint_ = std::move(checkpoint);
  if (sqlite3_open_v2(":memory:", &guard->reference_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    return Error(ErrorCode::internal, "sandbox: cannot open the connection for guarded functions");
  }
  sqlite3_limit(guard->reference_, SQLITE_LIMIT_LENGTH, limits.max_value_bytes);
  // Every arity the built-ins have; printf and format take any number of arguments.
  const std::vector<std::pair<const char*, int>> arities = {
      {"printf", -1}, {"format", -1}, {"instr", 2}, {"replace", 3}, {"trim", 1},
      {"trim", 2},    {"ltrim", 1},   {"ltrim", 2}, {"rtrim", 1},   {"rtrim", 2}};
  for (const auto& [name, argc] : arities) {
    if (allowed.count(name) == 0) continue;
    guard->functions_.push_back(std::make_unique<Function>(Function{guard.get(), name}));
    // Innocuous and deterministic like the built-ins, so a host schema that uses them (CHECK
    // constraints, triggers) keeps working under SQLITE_DBCONFIG_TRUSTED_SCHEMA=0.
    if (sqlite3_create_function_v2(db, name, argc,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                   guard->functions_.back().get(), &SqlFunctionGuard::call, nullptr,
                                   nullptr, nullptr) != SQLITE_OK) {
      return Error(ErrorCode::internal, std::string("sandbox: cannot install the guarded ") + name +
                                            "(): " + sqlite3_errmsg(db));
    }
  }
  return guard;
}

SqlFunctionGuard::~SqlFunctionGuard() {
  for (auto& [key, stmt] : statements_)
    sqlite3_finalize(stmt);
  if (reference_ != nullptr) sqlite3_close_v2(reference_);
}

void SqlFunctionGuard::call(sqlite3_context* context, int argc, sqlite3_value** argv) {
  const auto* function = static_cast<const Function*>(sqlite3_user_data(context));
  function->guard->invoke(*function, context, argc, argv);
}

sqlite3_stmt* SqlFunctionGuard::statement_for(const std::string& name, int argc) {
  auto& stmt = statements_[{name, argc}];
  if (stmt == nullptr) {
    std::string sql = "SELECT " + name + "(";
    for (int i = 1; i <= argc; ++i)
      sql += (i > 1 ? ",?" : "?") + std::to_string(i);
    sql += ")";
    sqlite3_prepare_v3(reference_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  }
  return stmt;
}

void SqlFunctionGuard::invoke(const Function& function, sqlite3_context* context, int argc,
                              sqlite3_value** argv) {
  if (checkpoint_ && checkpoint_() != 0) {
    sqlite3_result_error_code(context, SQLITE_INTERRUPT);
    return;
  }
  const std::string& name = function.name;
  // The work the built-in would do, in bytes compared or produced.
  std::string why;
  if (name == "printf" || name == "format") {
    const std::int64_t demand = argc > 0 ? printf_demand(format_text(argv[0]), argc, argv) : 0;
    if (demand > limits_.max_value_bytes) {
      why = name + "(): widths and precisions ask for " + std::to_string(demand) +
            " characters, more than max_value_bytes (" + std::to_string(limits_.max_value_bytes) +
            ")";
    }
  } else if (argc >= 2) {  // instr(X, Y), replace(X, Y, Z), trim(X, Y): every X position against Y
    const std::int64_t work = size_of(argv[0]) * size_of(argv[1]);
    if (work > limits_.max_work) {
      why = name + "(): " + std::to_string(size_of(argv[0])) + " x " +
            std::to_string(size_of(argv[1])) + " bytes to compare, more than max_function_work (" +
            std::to_string(limits_.max_work) + ")";
    }
  }
  if (!why.empty()) {
    if (refusal_.empty()) refusal_ = why;
    sqlite3_result_error(context, why.c_str(), -1);
    return;
  }
  sqlite3_stmt* stmt = statement_for(name, argc);
  if (stmt == nullptr) {
    sqlite3_result_error(context, sqlite3_errmsg(reference_), -1);
    return;
  }
  for (int i = 0; i < argc; ++i)
    sqlite3_bind_value(stmt, i + 1, argv[i]);
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    sqlite3_result_value(context, sqlite3_column_value(stmt, 0));
  } else {
    const int code = sqlite3_extended_errcode(reference_);
    if ((code & 0xff) == SQLITE_TOOBIG) {
      sqlite3_result_error_toobig(context);
    } else {
      sqlite3_result_error(context, sqlite3_errmsg(reference_), -1);
      sqlite3_result_error_code(context, code);
    }
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
}

}  // namespace rein
