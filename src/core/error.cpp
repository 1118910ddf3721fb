#include "rein/error.hpp"

#include "core/enum_names.hpp"

namespace rein {
namespace {
constexpr auto kNames = detail::enum_names<ErrorCode>(
    std::pair{ErrorCode::invalid_argument, std::string_view("invalid_argument")},
    std::pair{ErrorCode::not_found, std::string_view("not_found")},
    std::pair{ErrorCode::already_exists, std::string_view("already_exists")},
    std::pair{ErrorCode::permission_denied, std::string_view("permission_denied")},
    std::pair{ErrorCode::budget_exhausted, std::string_view("budget_exhausted")},
    std::pair{ErrorCode::timeout, std::string_view("timeout")},
    std::pair{ErrorCode::unavailable, std::string_view("unavailable")},
    std::pair{ErrorCode::cancelled, std::string_view("cancelled")},
    std::pair{ErrorCode::data_loss, std::string_view("data_loss")},
    std::pair{ErrorCode::internal, std::string_view("internal")},
    std::pair{ErrorCode::aborted, std::string_view("aborted")});
}  // namespace

std::string_view to_string(ErrorCode code) noexcept {
  return kNames.name(code);
}

std::optional<ErrorCode> error_code_from_string(std::string_view name) noexcept {
  return kNames.parse(name);
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
