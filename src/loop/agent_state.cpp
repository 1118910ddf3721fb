#include "rein/agent_state.hpp"

#include "core/enum_names.hpp"
#include "core/json_reader.hpp"
#include "core/json_text.hpp"
#include "core/json_writer.hpp"
#include "core/label_json.hpp"
#include "core/value_fields.hpp"
#include "loop/state_text.hpp"

namespace rein {

using detail::JsonReader;
using nlohmann::json;

namespace {

constexpr auto kRunStatusNames = detail::enum_names<RunStatus>(
    std::pair{RunStatus::running, std::string_view("running")},
    std::pair{RunStatus::completed, std::string_view("completed")},
    std::pair{RunStatus::needs_review, std::string_view("needs_review")},
    std::pair{RunStatus::awaiting_approval, std::string_view("awaiting_approval")},
    std::pair{RunStatus::awaiting_input, std::string_view("awaiting_input")},
    std::pair{RunStatus::budget_exhausted, std::string_view("budget_exhausted")},
    std::pair{RunStatus::failed, std::string_view("failed")},
    std::pair{RunStatus::cancelled, std::string_view("cancelled")});

constexpr auto kStepStatusNames = detail::enum_names<StepStatus>(
    std::pair{StepStatus::pending, std::string_view("pending")},
    std::pair{StepStatus::running, std::string_view("running")},
    std::pair{StepStatus::succeeded, std::string_view("succeeded")},
    std::pair{StepStatus::denied, std::string_view("denied")},
    std::pair{StepStatus::awaiting_approval, std::string_view("awaiting_approval")},
    std::pair{StepStatus::needs_review, std::string_view("needs_review")},
    std::pair{StepStatus::failed, std::string_view("failed")},
    std::pair{StepStatus::skipped, std::string_view("skipped")});

template <typename Enum, std::size_t N>
void read_enum(JsonReader& r, const char* field, const detail::EnumNames<Enum, N>& names,
               Enum& out) {
  std::string text;
  r.string(field, text);
  if (!r.ok()) return;
  auto parsed = names.parse(text);
  if (!parsed) return r.fail(field, "has unknown value '" + text + "'");
  out = *parsed;
}

Result<Observation> observation_from_json(const json& j, const std::string& where) {
  JsonReader r(j, where);
  Observation o;
  r.string("source", o.source);
  r.any("content", o.content);
  r.number("confidence", o.confidence);
  r.boolean("trusted", o.trusted);
  r.integer("step", o.step);
  r.integer("at_millis", o.at_millis);
  r.string("level", o.level, false);
  if (!r.ok()) return r.status().error();
  return o;
}

Result<PlanStep> plan_step_from_json(const json& j, const std::string& where) {
  JsonReader r(j, where);
  PlanStep s;
  r.string("id", s.id);
  r.string("tool", s.tool);
  r.any("args", s.args);
  r.strings("depends_on", s.depends_on, false);
  r.string("why", s.why, false);
  if (!r.ok()) return r.status().error();
  return s;
}

Result<PolicyDecision> decision_from_json(const json& j, const std::string& where) {
  JsonReader r(j, where);
  PolicyDecision d;
  std::string name;
  r.string("decision", name);
  r.string("rule", d.rule);
  r.string("reason", d.reason);
  r.boolean("budget_exhausted", d.budget_exhausted, false);
  if (!r.ok()) return r.status().error();
  auto parsed = decision_from_string(name);
  if (!parsed)
    return Error(ErrorCode::invalid_argument, where + ": field 'decision' has unknown value");
  d.decision = *parsed;
  return d;
}

Result<Verdict> verdict_from_json(const json& j, const std::string& where) {
  JsonReader r(j, where);
  Verdict v;
  std::string kind;
  r.string("kind", kind);
  r.strings("reasons", v.reasons);
  if (!r.ok()) return r.status().error();
  auto parsed = verdict_kind_from_string(kind);
  if (!parsed)
    return Error(ErrorCode::invalid_argument, where + ": field 'kind' has unknown value");
  v.kind = *parsed;
  return v;
}

json approval_json(const Approval& a) {
  return {{"id", a.id},
          {"status", a.status},
          {"rule", a.rule},
          {"reason", a.reason},
          {"note", a.note},
          {"requested_millis", a.requested_millis},
          {"decided_millis", a.decided_millis}};
}

Result<Approval> approval_from_json(const json& j, const std::string& where) {
  JsonReader r(j, where);
  Approval a;
  r.string("id", a.id);
  r.string("status", a.status);
  r.string("rule", a.rule, false);
  r.string("reason", a.reason, false);
  r.string("note", a.note, false);
  r.integer("requested_millis", a.requested_millis, false);
  r.integer("decided_millis", a.decided_millis, false);
  if (!r.ok()) return r.status().error();
  if (a.status != "pending" && a.status != "approved" && a.status != "denied") {
    return Error(ErrorCode::invalid_argument,
                 where + ": field 'status' has unknown value '" + a.status + "'");
  }
  return a;
}

// A label that may be left out (plain then).
Result<Label> read_optional_label(JsonReader& r, const char* name) {
  const json* j = r.field(name, false);
  if (!r.ok()) return r.status().error();
  if (j == nullptr) return Label{};
  return detail::read_label(*j, r.where() + "." + name);
}

Result<StepState> step_state_from_json(const json& j, const std::string& where) {
  JsonReader r(j, where);
  StepState s;
  if (const json* step = r.field("step", true)) {
    auto parsed = plan_step_from_json(*step, where + ".step");
    if (!parsed) return std::move(parsed).error();
    s.step = std::move(*parsed);
  }
  read_enum(r, "status", kStepStatusNames, s.status);
  r.integer("round", s.round);
  r.integer("attempts", s.attempts);
  r.integer("retries", s.retries);
  r.string("idempotency_key", s.idempotency_key, false);
  r.optional<PolicyDecision>("decision", s.decision, decision_from_json);
  r.optional<ToolResult>(
      "result", s.result, [](const json& v, const std::string& w) -> Result<ToolResult> {
        auto parsed = ToolResult::from_json(v);
        if (!parsed) return Error(parsed.error().code(), w + ": " + parsed.error().message());
        return parsed;
      });
  r.optional<Verdict>("verdict", s.verdict, verdict_from_json);
  r.optional<Approval>("approval", s.approval, approval_from_json);
  if (const json* labels = r.field("arg_labels", false)) {
    auto parsed = detail::read_value_labels(*labels, where + ".arg_labels");
    if (!parsed) return std::move(parsed).error();
    s.arg_labels = std::move(*parsed);
  }
  if (auto label = read_optional_label(r, "output_label"); !label) {
    return std::move(label).error();
  } else {
    s.output_label = std::move(*label);
  }
  if (!r.ok()) return r.status().error();
  return s;
}

json review_item_json(const ReviewItem& item) {
  return {{"step_id", item.step_id},
          {"source", item.source},
          {"issues", item.issues},
          {"data", item.data}};
}

Result<ReviewItem> review_item_from_json(const json& j, const std::string& where) {
  JsonReader r(j, where);
  ReviewItem item;
  r.string("step_id", item.step_id);
  r.string("source", item.source);
  r.strings("issues", item.issues);
  r.any("data", item.data, false);
  if (!r.ok()) return r.status().error();
  return item;
}

json metrics_json(const RunMetrics& m) {
  return {{"errors_by_tool", m.errors_by_tool},
          {"retries", m.retries},
          {"replans", m.replans},
          {"denials", m.denials},
          {"approvals_requested", m.approvals_requested}};
}

Result<RunMetrics> metrics_from_json(const json& j, const std::string& where) {
  JsonReader r(j, where);
  RunMetrics m;
  if (const json* errors = r.field("errors_by_tool", false)) {
    if (!errors->is_object()) {
      r.fail("errors_by_tool", "must be an object of integers");
    } else {
      for (const auto& [tool, count] : errors->items()) {
        if (!count.is_number_integer()) {
          r.fail("errors_by_tool", "must be an object of integers");
          break;
        }
        m.errors_by_tool[tool] = count.get<std::int64_t>();
      }
    }
  }
  r.integer("retries", m.retries, false);
  r.integer("replans", m.replans, false);
  r.integer("denials", m.denials, false);
  r.integer("approvals_requested", m.approvals_requested, false);
  if (!r.ok()) return r.status().error();
  return m;
}

// The checkpoint's text, written directly: a run's state is serialized on every durable
// commit, and building a json tree first doubled the cost.

// `value`'s fields as a nested object, or null.
template <typename T>
void optional_object(detail::JsonObjectWriter& w, std::string_view key,
                     const std::optional<T>& value) {
  if (value) {
    w.object(key, [&](auto& f) { detail::write_fields(f, *value); });
  } else {
    w.raw(key, "null");
  }
}

// Left out when plain, so that runs without labels keep their documents.
void write_label(detail::JsonObjectWriter& w, std::string_view key, const Label& label) {
  if (!label.is_plain()) w.object(key, [&](auto& f) { detail::write_fields(f, label); });
}

void write_step_state(detail::JsonObjectWriter& w, const StepState& s) {
  w.raw("approval",
        s.approval ? detail::json_text(approval_json(*s.approval)) : std::string("null"));
  if (!s.arg_labels.empty()) {
    // Written directly, like the rest of the checkpoint: parts are sorted by pointer, which is
    // the canonical key order.
    w.object("arg_labels", [&](auto& f) {
      for (const auto& part : s.arg_labels.parts)
        f.object(part.first, [&part](auto& g) { detail::write_fields(g, part.second); });
    });
  }
  w.integer("attempts", s.attempts);
  optional_object(w, "decision", s.decision);
  w.string("idempotency_key", s.idempotency_key);
  write_label(w, "output_label", s.output_label);
  optional_object(w, "result", s.result);
  w.integer("retries", s.retries);
  w.integer("round", s.round);
  w.string("status", kStepStatusNames.name(s.status));
  w.raw("step", detail::plan_step_text(s.step));
  optional_object(w, "verdict", s.verdict);
}

}  // namespace

namespace detail {

std::string plan_step_text(const PlanStep& step) {
  return JsonObjectWriter()
      .value("args", step.args)
      .strings("depends_on", step.depends_on)
      .string("id", step.id)
      .string("tool", step.tool)
      .string("why", step.why)
      .finish();
}

}  // namespace detail

std::string_view to_string(RunStatus status) noexcept {
  return kRunStatusNames.name(status);
}
std::optional<RunStatus> run_status_from_string(std::string_view name) noexcept {
  return kRunStatusNames.parse(name);
}
std::string_view to_string(StepStatus status) noexcept {
  return kStepStatusNames.name(status);
}
std::optional<StepStatus> step_status_from_string(std::string_view name) noexcept {
  return kStepStatusNames.parse(name);
}

bool is_terminal(RunStatus s) noexcept {
  return s == RunStatus::completed || s == RunStatus::needs_review ||
         s == RunStatus::budget_exhausted || s == RunStatus::failed || s == RunStatus::cancelled;
}

bool is_suspended(RunStatus s) noexcept {
  return s == RunStatus::awaiting_approval || s == RunStatus::awaiting_input;
}

json to_json(const Usage& u) {
  json per_tool = json::object();
  for (const auto& [tool, tu] : u.per_tool) {
    per_tool[tool] = {{"calls", tu.calls}, {"recent_call_millis", tu.recent_call_millis}};
  }
  return {{"steps", u.steps},
          {"tool_calls", u.tool_calls},
          {"tokens", u.tokens},
          {"cost", u.cost},
          {"wall_time_ms", u.wall_time.count()},
          {"now_millis", u.now_millis},
          {"per_tool", std::move(per_tool)}};
}

Result<Usage> usage_from_json(const json& j) {
  JsonReader r(j, "usage");
  Usage u;
  r.integer("steps", u.steps);
  r.integer("tool_calls", u.tool_calls);
  r.integer("tokens", u.tokens);
  r.number("cost", u.cost);
  std::int64_t wall = 0;
  r.integer("wall_time_ms", wall);
  u.wall_time = std::chrono::milliseconds(wall);
  r.integer("now_millis", u.now_millis, false);
  if (const json* per_tool = r.field("per_tool", false)) {
    if (!per_tool->is_object())
      return Error(ErrorCode::invalid_argument, "usage: field 'per_tool' must be an object");
    for (const auto& [tool, entry] : per_tool->items()) {
      JsonReader t(entry, "usage.per_tool['" + tool + "']");
      ToolUsage tu;
      t.integer("calls", tu.calls);
      if (const json* recent = t.field("recent_call_millis", false)) {
        if (!recent->is_array()) {
          t.fail("recent_call_millis", "must be an array of integers");
        } else {
          for (const auto& ms : *recent) {
            if (!ms.is_number_integer()) {
              t.fail("recent_call_millis", "must be an array of integers");
              break;
            }
            tu.recent_call_millis.push_back(ms.get<std::int64_t>());
          }
        }
      }
      if (!t.ok()) return t.status().error();
      u.per_tool.emplace(tool, std::move(tu));
    }
  }
  if (!r.ok()) return r.status().error();
  return u;
}

StepState* AgentState::find_step(std::string_view id) {
  for (auto& s : steps) {
    if (s.step.id == id) return &s;
  }
  return nullptr;
}

const StepState* AgentState::find_step(std::string_view id) const {
  return const_cast<AgentState*>(this)->find_step(id);
}

json AgentState::to_json() const {
  // One serializer: the text form (what stores write) is the document; this parses it.
  return json::parse(to_json_text());
}

std::string AgentState::to_json_text() const {
  auto array_of = [](const auto& items, auto to_text) {
    std::string out = "[";
    for (const auto& item : items) {
      if (out.size() > 1) out.push_back(',');
      out += to_text(item);
    }
    out.push_back(']');
    return out;
  };
  auto via_json = [](auto to_json_fn) {
    return [to_json_fn](const auto& item) { return detail::json_text(to_json_fn(item)); };
  };
  detail::JsonObjectWriter w;
  write_label(w, "answer_label", answer_label);
  w.value("answers", answers).integer("audit_count", audit_count).string("audit_head", audit_head);
  write_label(w, "context_label", context_label);
  w.integer("created_millis", created_millis);
  if (delegation) w.raw("delegation", detail::json_text(delegation->to_json()));
  w.value("final_answer", final_answer ? *final_answer : json())
      .integer("format_version", kFormatVersion)
      .string("goal", goal)
      .boolean("has_final_answer", final_answer.has_value())
      .value("input", input)
      .raw("messages",
           array_of(messages, via_json([](const Message& m) { return rein::to_json(m); })))
      .raw("metrics", detail::json_text(metrics_json(metrics)))
      .raw("needs_review", array_of(needs_review, via_json(review_item_json)))
      .objects("observations", observations,
               [](auto& f, const Observation& o) { detail::write_fields(f, o); })
      .value("outputs", outputs)
      .boolean("partial", partial)
      .integer("planning_rounds", planning_rounds)
      .raw("principal", detail::JsonObjectWriter()
                            .string("id", principal.id)
                            .strings("roles", principal.roles)
                            .finish())
      .string("question", question)
      .strings("replan_reasons", replan_reasons)
      .raw("replan_step", replan_step ? detail::json_text(json(*replan_step)) : std::string("null"))
      .string("run_id", run_id)
      .string("status", kRunStatusNames.name(status))
      .string("status_reason", status_reason)
      .integer("step_index", step_index)
      .objects("steps", steps, write_step_state)
      .integer("updated_millis", updated_millis)
      .raw("usage", detail::json_text(rein::to_json(usage)));
  return w.finish();
}

Result<AgentState> AgentState::from_json(const json& j) {
  JsonReader r(j, "agent state");
  if (!r.ok()) return r.status().error();
  int version = 0;
  r.integer("format_version", version);
  if (r.ok() && version != kFormatVersion) {
    return Error(ErrorCode::invalid_argument,
                 "agent state: format_version " + std::to_string(version) +
                     " is not supported (this rein reads " + std::to_string(kFormatVersion) + ")");
  }
  AgentState s;
  r.string("run_id", s.run_id);
  r.string("goal", s.goal);
  if (const json* p = r.field("principal", true)) {
    JsonReader pr(*p, "agent state.principal");
    pr.string("id", s.principal.id);
    pr.strings("roles", s.principal.roles);
    if (!pr.ok()) return pr.status().error();
  }
  r.any("input", s.input, false);
  r.array<Message>("messages", s.messages,
                   [](const json& v, const std::string&) { return message_from_json(v); });
  r.array<Observation>("observations", s.observations, observation_from_json);
  r.array<StepState>("steps", s.steps, step_state_from_json);
  r.integer("step_index", s.step_index);
  r.integer("planning_rounds", s.planning_rounds);
  if (const json* u = r.field("usage", true)) {
    auto usage = usage_from_json(*u);
    if (!usage) return Error(usage.error().code(), "agent state." + usage.error().message());
    s.usage = std::move(*usage);
  }
  if (const json* m = r.field("metrics", false)) {
    auto metrics = metrics_from_json(*m, "agent state.metrics");
    if (!metrics) return std::move(metrics).error();
    s.metrics = std::move(*metrics);
  }
  read_enum(r, "status", kRunStatusNames, s.status);
  r.string("status_reason", s.status_reason, false);
  r.any("outputs", s.outputs);
  bool has_final = false;
  r.boolean("has_final_answer", has_final, false);
  if (has_final) {
    json answer;
    r.any("final_answer", answer);
    s.final_answer = std::move(answer);
  }
  r.boolean("partial", s.partial, false);
  r.array<ReviewItem>("needs_review", s.needs_review, review_item_from_json);
  r.string("question", s.question, false);
  if (const json* a = r.field("answers", false)) {
    if (!a->is_array())
      return Error(ErrorCode::invalid_argument, "agent state: field 'answers' must be an array");
    s.answers = a->get<std::vector<json>>();
  }
  if (const json* rs = r.field("replan_step", false); rs != nullptr && !rs->is_null()) {
    if (!rs->is_string())
      return Error(ErrorCode::invalid_argument,
                   "agent state: field 'replan_step' must be a string");
    s.replan_step = rs->get<std::string>();
  }
  r.strings("replan_reasons", s.replan_reasons, false);
  r.string("audit_head", s.audit_head, false);
  r.integer("audit_count", s.audit_count, false);
  r.integer("created_millis", s.created_millis, false);
  r.integer("updated_millis", s.updated_millis, false);
  if (const json* d = r.field("delegation", false)) {
    auto delegation = Delegation::from_json(*d);
    if (!delegation) {
      return Error(delegation.error().code(), "agent state: " + delegation.error().message());
    }
    s.delegation = std::make_shared<const Delegation>(std::move(*delegation));
  }
  for (auto [name, slot] :
       {std::pair{"context_label", &s.context_label}, std::pair{"answer_label", &s.answer_label}}) {
    auto label = read_optional_label(r, name);
    if (!label) return std::move(label).error();
    *slot = std::move(*label);
  }
  if (!r.ok()) return r.status().error();
  if (!s.outputs.is_object())
    return Error(ErrorCode::invalid_argument, "agent state: field 'outputs' must be an object");
  return s;
}

}  // namespace rein
