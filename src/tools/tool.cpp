#include "rein/tool.hpp"

#include <algorithm>
#include <cmath>
#include "core/enum_names.hpp"
#include "core/json_reader.hpp"
#include "core/label_json.hpp"
#include "core/value_fields.hpp"

namespace rein {
namespace {
constexpr auto kStatusNames = detail::enum_names<ToolStatus>(
    std::pair{ToolStatus::ok, std::string_view("ok")},
    std::pair{ToolStatus::error, std::string_view("error")},
    std::pair{ToolStatus::denied, std::string_view("denied")},
    std::pair{ToolStatus::timeout, std::string_view("timeout")},
    std::pair{ToolStatus::invalid_input, std::string_view("invalid_input")});
}  // namespace

std::string_view to_string(ToolStatus status) noexcept {
  return kStatusNames.name(status);
}

std::optional<ToolStatus> tool_status_from_string(std::string_view name) noexcept {
  return kStatusNames.parse(name);
}

ToolResult ToolResult::success(nlohmann::json data, std::vector<Evidence> evidence) {
  ToolResult r;
  r.data = std::move(data);
  r.evidence = std::move(evidence);
  return r;
}

ToolResult ToolResult::failure(std::string message, bool transient) {
  ToolResult r;
  r.status = ToolStatus::error;
  r.errors.push_back(std::move(message));
  r.transient = transient;
  return r;
}

nlohmann::json ToolResult::to_json() const {
  return detail::canonical_json(*this);
}

Result<ToolResult> ToolResult::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return Error(ErrorCode::invalid_argument, "tool result: not an object");
  detail::JsonReader r(j, "tool result");
  ToolResult out;
  std::string status;
  r.string("status", status);
  if (r.ok()) {
    auto parsed = tool_status_from_string(status);
    if (!parsed) r.fail("status", "is not a known status");
    out.status = parsed.value_or(ToolStatus::error);
  }
  r.any("data", out.data, false);
  r.strings("errors", out.errors, false);
  if (const auto* evidence = r.field("evidence", false)) {
    if (!evidence->is_array()) r.fail("evidence", "must be an array");
    for (const auto& e : evidence->is_array() ? *evidence : nlohmann::json::array()) {
      if (!e.is_object() || !e.contains("uri") || !e["uri"].is_string()) {
        r.fail("evidence", "items need a string 'uri'");
        break;
      }
      // Optional fields of the wrong type are ignored (json::value would throw on them).
      auto text = [&e](const char* key) {
        auto it = e.find(key);
        return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      out.evidence.push_back({text("type"), e["uri"].get<std::string>(), text("excerpt")});
    }
  }
  r.string("idempotency_key", out.idempotency_key, false);
  r.string("tool_version", out.tool_version, false);
  std::int64_t duration_us = 0;
  r.integer("duration_us", duration_us, false);
  out.duration = std::chrono::microseconds(duration_us);
  r.integer("attempts", out.attempts, false);
  r.boolean("transient", out.transient, false);
  r.boolean("replayed", out.replayed, false);
  r.optional<Label>("label", out.label, detail::read_label);
  if (const auto* spent = r.field("spent", false)) {
    detail::JsonReader sr(*spent, "tool result.spent");
    sr.integer("steps", out.spent.steps, false);
    sr.integer("tool_calls", out.spent.tool_calls, false);
    sr.integer("tokens", out.spent.tokens, false);
    sr.number("cost", out.spent.cost, false);
    if (!sr.ok()) return sr.status().error();
  }
  if (!r.ok()) return r.status().error();
  return out;
}

std::chrono::nanoseconds RetryPolicy::backoff_before(int next_attempt, double unit_random) const {
  if (next_attempt < 2) return std::chrono::nanoseconds::zero();
  const double base_ns = static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(initial_backoff).count());
  const double cap_ns = static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(max_backoff).count());
  double wait = base_ns * std::pow(multiplier, next_attempt - 2);
  wait = std::min(wait, cap_ns);
  // Spread retries of many agents apart: scale by a factor in [1 - jitter, 1 + jitter).
  wait *= 1.0 + jitter * (2.0 * unit_random - 1.0);
  wait = std::clamp(wait, 0.0, cap_ns);
  return std::chrono::nanoseconds(static_cast<std::int64_t>(wait));
}

}  // namespace rein
