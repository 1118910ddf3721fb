// Internal: bounds the work of the SQL functions whose cost grows faster than their result.
//
// SQLite checks a plan's deadline between virtual-machine instructions (the progress handler),
// never inside one function call, and a few built-ins do work out of all proportion to their
// arguments' size: printf()/format() with a huge width or precision loops billions of times
// even though the result is refused as too big; instr(), replace() and trim() compare every
// position of one argument against the other (quadratic). The guard overrides those functions on
// the sandbox's connection with wrappers that
//   1. call `checkpoint` first, so a statement that calls them many times between two progress
//      ticks still stops at its deadline;
//   2. estimate the call's work from its arguments and refuse it (an error naming the function
//      and the figures) when it exceeds the budget;
//   3. otherwise evaluate SQLite's own built-in on a private in-memory connection, so results
//      are exactly the built-in's.
// See docs/sql-sandbox.md for the guarantee this gives.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "rein/error.hpp"

struct sqlite3;
struct sqlite3_stmt;
struct sqlite3_context;
struct sqlite3_value;

namespace rein {

class SqlFunctionGuard {
 public:
  struct Limits {
    std::int64_t max_work = 2'000'000;  // units: one pair of bytes compared
    int max_value_bytes = 100'000;      // as SQLITE_LIMIT_LENGTH on the plan's connection
  };
  // Called on entry to every guarded call; a non-zero return stops the statement (SQLite
  // reports SQLITE_INTERRUPT), as from the progress handler.
  using Checkpoint = std::function<int()>;

  // Installs the wrappers for those of the guarded functions that `allowed` names (lower-case).
  static Result<std::unique_ptr<SqlFunctionGuard>> install(sqlite3* db,
                                                           const std::set<std::string>& allowed,
                                                           Limits limits, Checkpoint checkpoint);
  ~SqlFunctionGuard();
  SqlFunctionGuard(const SqlFunctionGuard&) = delete;
  SqlFunctionGuard& operator=(const SqlFunctionGuard&) = delete;

  // Why a call was refused since the last clear(): "" when none was.
  const std::string& refusal() const noexcept { return refusal_; }
  void clear() { refusal_.clear(); }

  // The names of the functions the guard can wrap.
  static const std::set<std::string>& guarded_names();

 private:
  SqlFunctionGuard() = default;
  struct Function;
  static void call(sqlite3_context* context, int argc, sqlite3_value** argv);
  void invoke(const Function& function, sqlite3_context* context, int argc, sqlite3_value** argv);
  sqlite3_stmt* statement_for(const std::string& name, int argc);

  sqlite3* reference_ = nullptr;  // where the built-ins run, never seen by plans
  Limits limits_;
  Checkpoint checkpoint_;
  std::string refusal_;
  std::map<std::pair<std::string, int>, sqlite3_stmt*> statements_;
  std::vector<std::unique_ptr<Function>> functions_;
};

}  // namespace rein
