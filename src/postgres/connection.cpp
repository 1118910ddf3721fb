#include "postgres/connection.hpp"

#include <libpq-fe.h>

#include <cstdlib>

namespace rein::pg {

ErrorCode error_code(std::string_view sqlstate) noexcept {
  if (sqlstate.size() != 5) return ErrorCode::unavailable;  // no SQLSTATE: the link failed
  const std::string_view cls = sqlstate.substr(0, 2);
  if (cls == "08" || cls == "53" || cls == "57") return ErrorCode::unavailable;
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
    return ErrorCode::unavailable;
  }
  if (cls == "23" || cls == "22") return ErrorCode::invalid_argument;
  if (sqlstate == "XX001" || sqlstate == "XX002") return ErrorCode::data_loss;
  return ErrorCode::internal;
}

Rows::~Rows() {
  if (result_ != nullptr) PQclear(result_);
}

Rows& Rows::operator=(Rows&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}

int Rows::size() const noexcept {
  return result_ == nullptr ? 0 : PQntuples(result_);
}

bool Rows::null(int row, int column) const noexcept {
  return PQgetisnull(result_, row, column) != 0;
}

std::string Rows::text(int row, int column) const {
  return std::string(PQgetvalue(result_, row, column),
                     static_cast<std::size_t>(PQgetlength(result_, row, column)));
}

std::int64_t Rows::integer(int row, int column) const {
  if (null(row, column)) return 0;
  return std::strtoll(PQgetvalue(result_, row, column), nullptr, 10);
}

bool Rows::boolean(int row, int column) const noexcept {
  return !null(row, column) && PQgetvalue(result_, row, column)[0] == 't';
}

Connection::Connection(pg_conn* conn, std::string what) : conn_(conn), what_(std::move(what)) {}

Connection::~Connection() {
  PQfinish(conn_);
}

namespace {
std::string trimmed(const char* message) {
  std::string m = message == nullptr ? "" : message;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
    m.pop_back();
  return m;
}
}  // namespace

Result<std::unique_ptr<Connection>> Connection::open(const std::string& conninfo,
                                                     std::string what) {
  pg_conn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return Error(ErrorCode::unavailable, what + ": out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    Error e(ErrorCode::unavailable, what + ": cannot connect: " + trimmed(PQerrorMessage(conn)));
    PQfinish(conn);
    return e;
  }
  // Notices (a table that already exists, say) are not errors; keep them off stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(new Connection(conn, std::move(what)));
}

bool Connection::healthy() const noexcept {
  return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

Status Connection::reconnect() {
  prepared_.clear();  // a new session has none
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Error(ErrorCode::unavailable,
                 what_ + ": cannot reconnect: " + trimmed(PQerrorMessage(conn_)));
  }
  return {};
}

Error Connection::error_of(pg_result* result, std::string_view what) const {
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* message = result == nullptr ? PQerrorMessage(conn_) : PQresultErrorMessage(result);
  if (message == nullptr || *message == '\0') message = PQerrorMessage(conn_);
  return Error(error_code(state == nullptr ? "" : state),
               what_ + ": " + std::string(what) + ": " + trimmed(message));
}

Status Connection::exec(const std::string& sql, std::string_view what) {
  pg_result* r = PQexec(conn_, sql.c_str());
  Rows owned(r);
  const auto status = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return error_of(r, what);
  return {};
}

Result<Rows> Connection::query(const std::string& sql, std::initializer_list<Param> params,
                               std::string_view what) {
  return run(sql, params.begin(), params.size(), what);
}

Result<Rows> Connection::query(const std::string& sql, const std::vector<Param>& params,
                               std::string_view what) {
  return run(sql, params.data(), params.size(), what);
}

Result<Rows> Connection::run(const std::string& sql, const Param* params, std::size_t n,
                             std::string_view what) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "rein_" + std::to_string(prepared_.size() + 1);
    // A failed PREPARE leaves nothing behind: report it, and try again next time.
    pg_result* raw = PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr);
    Rows check(raw);
    if (raw == nullptr || PQresultStatus(raw) != PGRES_COMMAND_OK) return error_of(raw, what);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values(n);
  for (std::size_t i = 0; i < n; ++i)
    values[i] = params[i].c_str();
  pg_result* r = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(n), values.data(),
                                nullptr, nullptr, 0);
  Rows rows(r);
  const auto status = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return error_of(r, what);
  return rows;
}

Pool::Pool(std::string conninfo, std::size_t size, std::string what)
    : conninfo_(std::move(conninfo)), what_(std::move(what)), capacity_(size == 0 ? 1 : size) {}

Pool::~Pool() = default;

Pool::Lease::~Lease() {
  if (c_) pool_->give_back(std::move(c_));
}

Result<Pool::Lease> Pool::acquire() {
  std::unique_ptr<Connection> c;
  {
    std::unique_lock lock(mutex_);
    free_cv_.wait(lock, [&] { return !free_.empty() || capacity_ > 0; });
    if (!free_.empty()) {
      c = std::move(free_.back());
      free_.pop_back();
    } else {
      --capacity_;
    }
  }
  if (!c) {
    auto opened = Connection::open(conninfo_, what_);
    if (!opened) {
      std::lock_guard lock(mutex_);
      ++capacity_;
      free_cv_.notify_one();
      return std::move(opened).error();
    }
    c = std::move(*opened);
  } else if (!c->healthy()) {
    // Broken (the server restarted or failed over) or left inside a transaction: start over.
    if (auto s = c->reconnect(); !s) {
      give_back(std::move(c));
      return std::move(s).error();
    }
  }
  return Lease(*this, std::move(c));
}

void Pool::give_back(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(c));
  }
  free_cv_.notify_one();
}

Result<std::string> schema_identifier(std::string_view name) {
  bool ok =
      !name.empty() && name.size() <= 63 && (name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'));
  for (char c : name)
    ok = ok && (c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
  if (!ok) {
    return Error(
        ErrorCode::invalid_argument,
        "schema '" + std::string(name) +
            "': must be 1 to 63 lower-case letters, digits or '_', not starting with a digit");
  }
  return "\"" + std::string(name) + "\"";
}

}  // namespace rein::pg
