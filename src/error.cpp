#include "rein/error.hpp"

#include <array>

namespace rein {
namespace {
constexpr std::array<std::pair<ErrorCode, std::string_view>, 12> kNames{{
    {ErrorCode::invalid_argument, "invalid_argument"},
    {ErrorCode::not_found, "not_found"},
    {ErrorCode::already_exists, "already_exists"},
    {ErrorCode::permission_denied, "permission_denied"},
    {ErrorCode::approval_required, "approval_required"},
    {ErrorCode::budget_exhausted, "budget_exhausted"},
    {ErrorCode::timeout, "timeout"},
    {ErrorCode::unavailable, "unavailable"},
    {ErrorCode::tool_failed, "tool_failed"},
    {ErrorCode::cancelled, "cancelled"},
    {ErrorCode::data_loss, "data_loss"},
    {ErrorCode::internal, "internal"},
}};
}  // namespace

std::string_view to_string(ErrorCode code) noexcept {
  for (const auto& [c, name] : kNames) {
    if (c == code) return name;
  }
  return "internal";
}

std::optional<ErrorCode> error_code_from_string(std::string_view name) noexcept {
  for (const auto& [c, n] : kNames) {
    if (n == name) return c;
  }
  return std::nullopt;
}

std::string Error::to_string() const {
  std::string out(rein::to_string(code_));
  out += ": ";
  out += message_;
  return out;
}

namespace detail {
void fail_bad_access(const Error* error) noexcept {
  if (error != nullptr) {
    std::fprintf(stderr, "rein: value() called on a failed Result: %s\n",
                 error->to_string().c_str());
  } else {
    std::fprintf(stderr, "rein: error() called on a successful Result\n");
  }
  std::abort();
}
}  // namespace detail

}  // namespace rein
