#include "rein/tool.hpp"

#include <algorithm>
#include "enum_names.hpp"
#include <cmath>

namespace rein {
namespace {
constexpr auto kStatusNames = detail::enum_names<ToolStatus>(
    std::pair{ToolStatus::ok, std::string_view("ok")}, std::pair{ToolStatus::error, std::string_view("error")},
    std::pair{ToolStatus::denied, std::string_view("denied")},
    std::pair{ToolStatus::timeout, std::string_view("timeout")},
    std::pair{ToolStatus::invalid_input, std::string_view("invalid_input")});
}  // namespace

std::string_view to_string(ToolStatus status) noexcept { return kStatusNames.name(status); }

std::optional<ToolStatus> tool_status_from_string(std::string_view name) noexcept { return kStatusNames.parse(name); }

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
  nlohmann::json evidence_json = nlohmann::json::array();
  for (const auto& e : evidence) {
    nlohmann::json item = {{"type", e.type}, {"uri", e.uri}};
    if (!e.excerpt.empty()) item["excerpt"] = e.excerpt;
    evidence_json.push_back(std::move(item));
  }
  return {{"status", to_string(status)},
          {"data", data},
          {"errors", errors},
          {"evidence", std::move(evidence_json)},
          {"idempotency_key", idempotency_key},
          {"tool_version", tool_version},
          {"duration_us", duration.count()},
          {"attempts", attempts},
          {"transient", transient},
          {"replayed", replayed}};
}

Result<ToolResult> ToolResult::from_json(const nlohmann::json& j) {
  auto bad = [](const std::string& field, const char* what) {
    return Error(ErrorCode::invalid_argument, "tool result: field '" + field + "' " + what);
  };
  if (!j.is_object()) return Error(ErrorCode::invalid_argument, "tool result: not an object");
  ToolResult r;
  const auto status_it = j.find("status");
  if (status_it == j.end() || !status_it->is_string()) return bad("status", "must be a string");
  auto status = tool_status_from_string(status_it->get<std::string>());
  if (!status) return bad("status", "is not a known status");
  r.status = *status;
  if (auto it = j.find("data"); it != j.end()) r.data = *it;
  if (auto it = j.find("errors"); it != j.end()) {
    if (!it->is_array()) return bad("errors", "must be an array of strings");
    for (const auto& e : *it) {
      if (!e.is_string()) return bad("errors", "must be an array of strings");
      r.errors.push_back(e.get<std::string>());
    }
  }
  if (auto it = j.find("evidence"); it != j.end()) {
    if (!it->is_array()) return bad("evidence", "must be an array");
    for (const auto& e : *it) {
      if (!e.is_object() || !e.contains("uri") || !e["uri"].is_string()) {
        return bad("evidence", "items need a string 'uri'");
      }
      Evidence ev;
      ev.uri = e["uri"].get<std::string>();
      if (auto t = e.find("type"); t != e.end() && t->is_string()) ev.type = t->get<std::string>();
      if (auto x = e.find("excerpt"); x != e.end() && x->is_string()) {
        ev.excerpt = x->get<std::string>();
      }
      r.evidence.push_back(std::move(ev));
    }
  }
  auto read_string = [&](const char* field, std::string& out) -> Status {
    if (auto it = j.find(field); it != j.end()) {
      if (!it->is_string()) return bad(field, "must be a string");
      out = it->get<std::string>();
    }
    return {};
  };
  if (auto s = read_string("idempotency_key", r.idempotency_key); !s) return std::move(s).error();
  if (auto s = read_string("tool_version", r.tool_version); !s) return std::move(s).error();
  if (auto it = j.find("duration_us"); it != j.end()) {
    if (!it->is_number_integer()) return bad("duration_us", "must be an integer");
    r.duration = std::chrono::microseconds(it->get<std::int64_t>());
  }
  if (auto it = j.find("attempts"); it != j.end()) {
    if (!it->is_number_integer()) return bad("attempts", "must be an integer");
    r.attempts = it->get<int>();
  }
  for (auto [field, slot] : {std::pair{"transient", &r.transient}, {"replayed", &r.replayed}}) {
    if (auto it = j.find(field); it != j.end()) {
      if (!it->is_boolean()) return bad(field, "must be a boolean");
      *slot = it->get<bool>();
    }
  }
  return r;
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
