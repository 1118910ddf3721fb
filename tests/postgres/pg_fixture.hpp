// Shared pieces of the PostgreSQL tests: the server the ctest fixture started (its conninfo in
// REIN_TEST_POSTGRES), a fresh schema per test, and SQL run directly.
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>
#include <string>

#include "rein/rein.hpp"

namespace rein::testing {

inline std::string pg_conninfo() {
  const char* c = std::getenv("REIN_TEST_POSTGRES");
  if (c == nullptr || *c == '\0')
    FAIL("REIN_TEST_POSTGRES is not set (ctest's postgres fixture sets it)");
  return c;
}

// A schema name no other test (or earlier run) uses.
inline std::string fresh_schema(const std::string& prefix) {
  static std::atomic<int> n{0};
  static const unsigned salt = std::random_device{}();
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(salt % 100000) + "_" +
         std::to_string(++n);
}

// Runs SQL on a connection of its own; returns the first column of the first row ("" if none).
inline std::string pg_sql(const std::string& sql) {
  PGconn* c = PQconnectdb(pg_conninfo().c_str());
  REQUIRE(PQstatus(c) == CONNECTION_OK);
  PGresult* r = PQexec(c, sql.c_str());
  const auto status = PQresultStatus(r);
  std::string error = PQresultErrorMessage(r);
  std::string out;
  if (status == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  PQclear(r);
  PQfinish(c);
  INFO(sql << "\n" << error);
  REQUIRE((status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK));
  return out;
}

inline std::shared_ptr<PostgresStore> open_pg(const std::string& schema,
                                              PostgresStoreOptions options = {}) {
  options.schema = schema;
  auto store = PostgresStore::open(pg_conninfo(), options);
  INFO((store ? "" : store.error().to_string()));
  REQUIRE(store.ok());
  return *store;
}

}  // namespace rein::testing
