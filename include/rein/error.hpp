// rein::Error, rein::Result<T> and rein::Status: how every public rein API reports failure.
//
// rein never lets an exception escape into the host. Operations that can fail return a
// Result<T> (a value or an Error) or a Status (Result<void>). An Error has a category, used by
// code to decide what to do, and a message, written for a person, that names the field, rule
// or tool at fault.
//
// Thread safety: Error, Result and Status are plain values; distinct objects may be used from
// distinct threads freely, a shared one only for reading.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace rein {

// What kind of failure happened. Stable names (see to_string) appear in JSON and logs.
enum class ErrorCode {
  invalid_argument,   // bad input: arguments, schemas, policy files, requests
  not_found,          // an unknown tool, rule, run or key
  already_exists,     // a duplicate registration
  permission_denied,  // the policy denied the action
  budget_exhausted,   // a step, call, token, cost, time or rate budget ran out
  timeout,            // a deadline passed
  unavailable,        // transient: retry later (circuit open, overloaded, network)
  cancelled,          // the host cancelled the operation
  data_loss,          // stored data is corrupt or unreadable
  internal,           // a bug in rein: please report it
  aborted,            // another process changed the run first (a shared store's fencing)
};

// The stable snake_case name of a code, e.g. "invalid_argument".
std::string_view to_string(ErrorCode code) noexcept;

// Parses a name produced by to_string(ErrorCode).
std::optional<ErrorCode> error_code_from_string(std::string_view name) noexcept;

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

  // "<code>: <message>", for logs and command-line output.
  std::string to_string() const;

  friend bool operator==(const Error&, const Error&) = default;

 private:
  ErrorCode code_;
  std::string message_;
};

namespace detail {
[[noreturn]] void fail_bad_access(const Error* error) noexcept;
}  // namespace detail

// A value of type T, or an Error. Accessing the value of a failed Result is a programming
// error in the host: it aborts with the error's text rather than throwing.
template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Error>, "Result<Error> is ambiguous");

 public:
  using value_type = T;

  Result(const T& value) : storage_(std::in_place_index<0>, value) {}
  Result(T&& value) : storage_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : storage_(std::in_place_index<1>, std::move(error)) {}
  template <typename... Args>
  explicit Result(std::in_place_t, Args&&... args)
      : storage_(std::in_place_index<0>, std::forward<Args>(args)...) {}

  bool ok() const noexcept { return storage_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    check();
    return *std::get_if<0>(&storage_);
  }
  const T& value() const& {
    check();
    return *std::get_if<0>(&storage_);
  }
  // Moves the value out: safe even on a temporary (`for (auto& x : *make_result())`).
  T value() && {
    check();
    return std::move(*std::get_if<0>(&storage_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? *std::get_if<0>(&storage_) : static_cast<T>(std::forward<U>(fallback));
  }

  // The error; only meaningful when !ok(). Calling it on success aborts.
  const Error& error() const& {
    if (ok()) detail::fail_bad_access(nullptr);
    return *std::get_if<1>(&storage_);
  }
  Error&& error() && {
    if (ok()) detail::fail_bad_access(nullptr);
    return std::move(*std::get_if<1>(&storage_));
  }

 private:
  void check() const {
    if (!ok()) detail::fail_bad_access(std::get_if<1>(&storage_));
  }
  std::variant<T, Error> storage_;
};

// True when `result` failed with ErrorCode::not_found. Lookups that may find nothing (RunStore::
// load, RunStore::find_outcome, IdempotencyStore::find, MemoryManager::get) return Result<T> and
// report absence as not_found, so a caller tells "absent" from "the store failed" in one test:
//   auto state = store.load(id);
//   if (is_not_found(state)) { /* no such run */ }
//   else if (!state) return state.error();  // a real failure, e.g. data_loss
template <typename T>
bool is_not_found(const Result<T>& result) noexcept {
  return !result.ok() && result.error().code() == ErrorCode::not_found;
}

// Success, or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }

  const Error& error() const& {
    if (ok()) detail::fail_bad_access(nullptr);
    return *error_;
  }
  Error&& error() && {
    if (ok()) detail::fail_bad_access(nullptr);
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;  // success is Status{} (or `return {};`)

}  // namespace rein
