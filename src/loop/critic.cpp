#include "rein/critic.hpp"

#include "core/glob.hpp"
#include "core/json_pointer.hpp"

namespace rein {

using nlohmann::json;

namespace {

// A check on the value at `pointer`; an unusable pointer fails loudly rather than passing.
template <typename Fn>
auto at_pointer(const std::string& pointer, Fn fn) {
  auto tokens = detail::parse_json_pointer(pointer);
  return [pointer, tokens, fn](const json& data) -> std::optional<std::string> {
    if (!tokens) return "critic rule has an invalid JSON pointer: '" + pointer + "'";
    return fn(detail::resolve_json_pointer(data, *tokens));
  };
}

auto range_check(const std::string& pointer, std::optional<double> min, std::optional<double> max) {
  return at_pointer(pointer, [pointer, min, max](const json* v) -> std::optional<std::string> {
    if (v == nullptr) return "missing field: " + pointer;
    if (!v->is_number()) return pointer + " is not a number";
    const double d = v->get<double>();
    if (min && d < *min)
      return pointer + " is " + v->dump() + ", below the minimum " + json(*min).dump();
    if (max && d > *max)
      return pointer + " is " + v->dump() + ", above the maximum " + json(*max).dump();
    return std::nullopt;
  });
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out.empty() ? "no reason given" : out;
}

}  // namespace

RuleCritic::RuleCritic(Options options) : options_(options) {
  if (options_.env == nullptr) options_.env = &Env::system();
}

void RuleCritic::note_pointer(std::string_view rule, const std::string& pointer) {
  if (detail::parse_json_pointer(pointer)) return;
  configuration_errors_.push_back(std::string(rule) + ": '" + pointer +
                                  "' is not a JSON pointer (RFC 6901)");
}

Status RuleCritic::validate() const {
  if (configuration_errors_.empty()) return {};
  return Error(ErrorCode::invalid_argument, "RuleCritic: " + joined(configuration_errors_));
}

RuleCritic& RuleCritic::check(std::string tool_glob, StepCheck check, VerdictKind on_fail) {
  rules_.push_back({std::move(tool_glob), std::move(check), on_fail});
  return *this;
}

RuleCritic& RuleCritic::require_fields(std::string tool_glob, std::vector<std::string> pointers,
                                       VerdictKind on_fail) {
  for (auto& pointer : pointers) {
    note_pointer("require_fields(\"" + tool_glob + "\")", pointer);
    auto present = at_pointer(pointer, [pointer](const json* v) -> std::optional<std::string> {
      if (v == nullptr) return "missing field: " + pointer;
      return std::nullopt;
    });
    check(
        tool_glob,
        [present](const StepState&, const ToolResult& r, const AgentState&) {
          return present(r.data);
        },
        on_fail);
  }
  return *this;
}

RuleCritic& RuleCritic::require_range(std::string tool_glob, std::string pointer,
                                      std::optional<double> min, std::optional<double> max,
                                      VerdictKind on_fail) {
  note_pointer("require_range(\"" + tool_glob + "\")", pointer);
  auto in_range = range_check(pointer, min, max);
  return check(
      std::move(tool_glob),
      [in_range](const StepState&, const ToolResult& r, const AgentState&) {
        return in_range(r.data);
      },
      on_fail);
}

RuleCritic& RuleCritic::require_evidence(std::string tool_glob, VerdictKind on_fail) {
  return check(
      std::move(tool_glob),
      [](const StepState&, const ToolResult& r, const AgentState&) -> std::optional<std::string> {
        if (r.evidence.empty()) return "missing citations: the result carries no evidence";
        for (const auto& e : r.evidence) {
          if (e.uri.empty()) return "a citation has no URI";
        }
        return std::nullopt;
      },
      on_fail);
}

RuleCritic& RuleCritic::require_fresh(std::string tool_glob, std::string pointer,
                                      std::chrono::milliseconds max_age, VerdictKind on_fail) {
  note_pointer("require_fresh(\"" + tool_glob + "\")", pointer);
  Env* env = options_.env;
  auto fresh =
      at_pointer(pointer, [pointer, max_age, env](const json* v) -> std::optional<std::string> {
        if (v == nullptr) return "missing timestamp: " + pointer;
        if (!v->is_number()) return pointer + " is not a timestamp in milliseconds";
        const auto age = env->unix_millis() - v->get<std::int64_t>();
        if (age > max_age.count()) {
          return "stale data: " + pointer + " is " + std::to_string(age) + " ms old (limit " +
                 std::to_string(max_age.count()) + " ms)";
        }
        return std::nullopt;
      });
  return check(
      std::move(tool_glob),
      [fresh](const StepState&, const ToolResult& r, const AgentState&) { return fresh(r.data); },
      on_fail);
}

RuleCritic& RuleCritic::reject_stale(std::string tool_glob, StepCheck is_stale,
                                     VerdictKind on_fail) {
  return check(std::move(tool_glob), std::move(is_stale), on_fail);
}

RuleCritic& RuleCritic::require_output_fields(std::vector<std::string> pointers,
                                              VerdictKind on_fail) {
  for (auto& pointer : pointers) {
    note_pointer("require_output_fields", pointer);
    auto present = at_pointer(pointer, [pointer](const json* v) -> std::optional<std::string> {
      if (v == nullptr) return "answer is missing field: " + pointer;
      return std::nullopt;
    });
    check_output([present](const json& answer, const AgentState&) { return present(answer); },
                 on_fail);
  }
  return *this;
}

RuleCritic& RuleCritic::require_output_range(std::string pointer, std::optional<double> min,
                                             std::optional<double> max, VerdictKind on_fail) {
  note_pointer("require_output_range", pointer);
  auto in_range = range_check(pointer, min, max);
  return check_output(
      [in_range](const json& answer, const AgentState&) { return in_range(answer); }, on_fail);
}

RuleCritic& RuleCritic::check_output(OutputCheck check, VerdictKind on_fail) {
  output_rules_.push_back({std::move(check), on_fail});
  return *this;
}

Verdict RuleCritic::review_step(const StepState& step, const ToolResult& result,
                                const AgentState& state) {
  if (!result.ok()) {
    VerdictKind kind = options_.on_permanent_error;
    if (result.status == ToolStatus::invalid_input) {
      kind = options_.on_invalid_input;
    } else if (result.status == ToolStatus::timeout || result.transient) {
      kind = options_.on_transient_error;
    }
    return {kind, {"tool " + std::string(to_string(result.status)) + ": " + joined(result.errors)}};
  }
  Verdict verdict;
  for (const auto& rule : rules_) {
    if (!detail::glob_match(rule.tool_glob, step.step.tool)) continue;
    if (auto reason = rule.check(step, result, state))
      verdict.merge({rule.on_fail, {std::move(*reason)}});
  }
  return verdict;
}

Verdict RuleCritic::review_output(const json& answer, const AgentState& state) {
  Verdict verdict;
  for (const auto& rule : output_rules_) {
    if (auto reason = rule.check(answer, state))
      verdict.merge({rule.on_fail, {std::move(*reason)}});
  }
  return verdict;
}

}  // namespace rein

namespace rein {

Task<Verdict> Critic::review_step_async(const StepState& step, const ToolResult& result,
                                        const AgentState& state) {
  co_return review_step(step, result, state);
}

Task<Verdict> Critic::review_output_async(const nlohmann::json& answer, const AgentState& state) {
  co_return review_output(answer, state);
}

}  // namespace rein
