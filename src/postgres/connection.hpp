// Internal: the one way rein talks to PostgreSQL (libpq).
//
// A Connection runs SQL with text parameters; statements with parameters are prepared once
// per connection (named by their text) and reused. Every failure becomes an Error through one
// table (error_code below) whose message names what failed followed by the server's message.
// A Pool hands out connections one caller at a time and reconnects a connection that broke.
//
// Nothing here is shared between threads except the Pool, which locks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rein/error.hpp"

struct pg_conn;
struct pg_result;

namespace rein::pg {

// SQLSTATE classes to rein's categories:
//   08 (connection), 53 (resources), 57 (operator intervention: shutdown, cancel),
//   40001 / 40P01 (serialization failure, deadlock), 55P03 (lock not available)  unavailable
//   23 (integrity), 22 (data)                                                    invalid_argument
//   XX001 / XX002 (data or index corrupted)                                      data_loss
//   42 (syntax, undefined object) and anything else                              internal
ErrorCode error_code(std::string_view sqlstate) noexcept;

// A statement parameter: text, a number, or NULL.
class Param {
 public:
  Param(std::nullptr_t) {}                                     // NOLINT: NULL
  Param(std::string_view text) : value_(std::string(text)) {}  // NOLINT
  Param(const std::string& text) : value_(text) {}             // NOLINT
  Param(const char* text) : value_(std::string(text)) {}       // NOLINT
  Param(std::int64_t n) : value_(std::to_string(n)) {}         // NOLINT
  Param(int n) : value_(std::to_string(n)) {}                  // NOLINT
  Param(bool b) : value_(b ? "t" : "f") {}                     // NOLINT
  Param(std::optional<std::int64_t> n) {                       // NOLINT
    if (n) value_ = std::to_string(*n);
  }
  const char* c_str() const noexcept { return value_ ? value_->c_str() : nullptr; }

 private:
  std::optional<std::string> value_;
};

// The rows of a statement (owns the PGresult).
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result) : result_(result) {}
  ~Rows();
  Rows(Rows&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  Rows& operator=(Rows&& other) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;

  int size() const noexcept;
  bool null(int row, int column) const noexcept;
  std::string text(int row, int column) const;
  std::int64_t integer(int row, int column) const;  // 0 for NULL or not a number
  bool boolean(int row, int column) const noexcept;

 private:
  pg_result* result_ = nullptr;
};

class Connection {
 public:
  // `what` names the database in errors (for example "PostgreSQL store").
  static Result<std::unique_ptr<Connection>> open(const std::string& conninfo, std::string what);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Parameterless SQL, one or more statements (migrations, BEGIN, COMMIT).
  Status exec(const std::string& sql, std::string_view what);
  // One statement with parameters ($1, $2, ...), prepared on first use.
  Result<Rows> query(const std::string& sql, std::initializer_list<Param> params,
                     std::string_view what);
  Result<Rows> query(const std::string& sql, const std::vector<Param>& params,
                     std::string_view what);
  // False once the connection broke (the server went away, a failover): the pool reconnects.
  bool healthy() const noexcept;
  Status reconnect();

 private:
  Connection(pg_conn* conn, std::string what);
  Error error_of(pg_result* result, std::string_view what) const;
  Result<Rows> run(const std::string& sql, const Param* params, std::size_t n,
                   std::string_view what);

  pg_conn* conn_;
  std::string what_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

// A fixed number of connections, opened lazily; acquire() waits for a free one.
class Pool {
 public:
  Pool(std::string conninfo, std::size_t size, std::string what);
  ~Pool();

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> c) : pool_(&pool), c_(std::move(c)) {}
    ~Lease();
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Connection* operator->() const noexcept { return c_.get(); }
    Connection& operator*() const noexcept { return *c_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };
  // A healthy connection, or the error of making one (unavailable when the server is down).
  Result<Lease> acquire();

 private:
  void give_back(std::unique_ptr<Connection> c);

  std::string conninfo_;
  std::string what_;
  std::mutex mutex_;
  std::condition_variable free_cv_;
  std::vector<std::unique_ptr<Connection>> free_;
  std::size_t capacity_;  // connections that may still be opened
};

// Runs `body` in a transaction on `c`: BEGIN, body, COMMIT; ROLLBACK when anything fails.
template <typename Body>
Status in_transaction(Connection& c, Body&& body) {
  if (auto s = c.exec("BEGIN", "beginning a transaction"); !s) return s;
  Status s = body();
  if (!s) {
    (void)c.exec("ROLLBACK", "rolling back");
    return s;
  }
  if (auto committed = c.exec("COMMIT", "committing"); !committed) {
    (void)c.exec("ROLLBACK", "rolling back");
    return committed;
  }
  return {};
}

// A schema name for SQL text: a lower-case identifier, or an error naming the rule.
Result<std::string> schema_identifier(std::string_view name);

}  // namespace rein::pg
