#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string_view>

#include "rein/error.hpp"

using rein::Error;
using rein::ErrorCode;
using rein::Result;
using rein::Status;

TEST_CASE("error codes have stable names that round-trip", "[error]") {
  std::set<std::string_view> names;
  for (auto code : {ErrorCode::invalid_argument, ErrorCode::not_found, ErrorCode::already_exists,
                    ErrorCode::permission_denied, ErrorCode::budget_exhausted, ErrorCode::timeout,
                    ErrorCode::unavailable, ErrorCode::cancelled, ErrorCode::data_loss,
                    ErrorCode::internal, ErrorCode::aborted}) {
    auto name = rein::to_string(code);
    REQUIRE(rein::error_code_from_string(name) == code);
    names.insert(name);
  }
  CHECK(names.size() == 11);  // every code has a name of its own
  CHECK(rein::to_string(ErrorCode::permission_denied) == "permission_denied");
  CHECK(rein::to_string(ErrorCode::internal) == "internal");
  CHECK_FALSE(rein::error_code_from_string("no_such_code").has_value());
  // Names of codes that were never produced, and are gone.
  CHECK_FALSE(rein::error_code_from_string("approval_required").has_value());
  CHECK_FALSE(rein::error_code_from_string("tool_failed").has_value());
}

TEST_CASE("Error formats code and message", "[error]") {
  Error e(ErrorCode::not_found, "unknown tool 'x'");
  CHECK(e.code() == ErrorCode::not_found);
  CHECK(e.message() == "unknown tool 'x'");
  CHECK(e.to_string() == "not_found: unknown tool 'x'");
}

TEST_CASE("Result holds a value or an error", "[error]") {
  Result<int> good = 42;
  REQUIRE(good.ok());
  CHECK(*good == 42);
  CHECK(good.value_or(7) == 42);

  Result<int> bad = Error(ErrorCode::invalid_argument, "field 'x' must be positive");
  REQUIRE_FALSE(bad.ok());
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(bad.error().code() == ErrorCode::invalid_argument);
  CHECK(bad.value_or(7) == 7);

  Result<std::unique_ptr<int>> moved = std::make_unique<int>(5);
  auto owned = std::move(moved).value();
  CHECK(*owned == 5);

  Result<std::string> in_place(std::in_place, 3, 'a');
  CHECK(*in_place == "aaa");
  CHECK(in_place->size() == 3);
}

TEST_CASE("Status is success or an error", "[error]") {
  Status ok;
  CHECK(ok.ok());
  Status failed = Error(ErrorCode::timeout, "slow");
  CHECK_FALSE(failed.ok());
  CHECK(failed.error().message() == "slow");
  Error taken = std::move(failed).error();
  CHECK(taken.code() == ErrorCode::timeout);
}

TEST_CASE("is_not_found tells absence from other failures", "[error]") {
  Result<int> found = 1;
  CHECK_FALSE(rein::is_not_found(found));
  Result<int> absent = Error(ErrorCode::not_found, "no run 'r'");
  CHECK(rein::is_not_found(absent));
  Result<int> corrupt = Error(ErrorCode::data_loss, "checkpoint of run 'r' is corrupt");
  CHECK_FALSE(rein::is_not_found(corrupt));
  CHECK(rein::is_not_found(Status(Error(ErrorCode::not_found, "no key"))));
  CHECK_FALSE(rein::is_not_found(Status{}));
  CHECK_FALSE(rein::is_not_found(Status(Error(ErrorCode::unavailable, "busy"))));
}
