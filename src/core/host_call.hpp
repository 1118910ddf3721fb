// Internal: the one guard around every host callback — tools, planners, critics, the LLM
// callback, reconcile, audit sinks, idempotency stores, model endpoints. Whatever such a
// callback throws, standard exception or not, becomes an Error saying who threw what; nothing
// a host's code throws reaches the loop or escapes into the host.
#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "rein/error.hpp"

namespace rein::detail {

template <typename T>
struct AsResult {
  using type = Result<T>;
};
template <typename T>
struct AsResult<Result<T>> {
  using type = Result<T>;
};

// "<who> threw: <what()>", or "<who> threw a non-standard exception".
inline std::string describe_current_exception(std::string_view who) {
  try {
    throw;
  } catch (const std::exception& e) {
    return std::string(who) + " threw: " + e.what();
  } catch (...) {
    return std::string(who) + " threw a non-standard exception";
  }
}

// Calls `fn()`; its value (or Result) comes back as a Result, and an exception as an Error of
// `code` whose message names `who`.
template <typename Fn>
auto call_host(std::string_view who, Fn&& fn, ErrorCode code = ErrorCode::internal) noexcept ->
    typename AsResult<std::invoke_result_t<Fn>>::type {
  using Out = typename AsResult<std::invoke_result_t<Fn>>::type;
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<Fn>>) {
      std::forward<Fn>(fn)();
      return Out{};
    } else {
      return Out(std::forward<Fn>(fn)());
    }
  } catch (...) {
    try {
      return Out(Error(code, describe_current_exception(who)));
    } catch (...) {
      return Out(Error(code, std::string()));  // out of memory while describing it
    }
  }
}

}  // namespace rein::detail
