// Internal: the one field list of each value type hashed into the audit. Every form of these
// values is written from it — the canonical text of audit payloads and checkpoints (through
// JsonObjectWriter and FieldMerge) and the public to_json() (through JsonTreeWriter) — so a field
// added here appears in all of them. Keys are listed in sorted order; the writers check it (see
// json_writer.hpp), and tests compare every form with nlohmann's canonical dump.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/json_writer.hpp"
#include "rein/agent_state.hpp"
#include "rein/policy.hpp"
#include "rein/tool.hpp"
#include "rein/verdict.hpp"

namespace rein::detail {

// {"excerpt" (only when not empty), "type", "uri"}
template <typename Fields>
void write_fields(Fields& f, const Evidence& e) {
  if (!e.excerpt.empty()) f.string("excerpt", e.excerpt);
  f.string("type", e.type);
  f.string("uri", e.uri);
}

template <typename Fields>
void write_fields(Fields& f, const Verdict& v) {
  f.string("kind", to_string(v.kind));
  f.strings("reasons", v.reasons);
}

template <typename Fields>
void write_fields(Fields& f, const PolicyDecision& d) {
  f.boolean("budget_exhausted", d.budget_exhausted);
  f.string("decision", to_string(d.decision));
  f.string("reason", d.reason);
  f.string("rule", d.rule);
}

// {"levels" (when any), "sources" (when any), "trusted"}
template <typename Fields>
void write_fields(Fields& f, const Label& l) {
  if (!l.levels.empty()) f.strings("levels", l.levels);
  if (!l.sources.empty()) f.strings("sources", l.sources);
  f.boolean("trusted", l.trusted);
}

template <typename Fields>
void write_fields(Fields& f, const ToolResult& r) {
  f.integer("attempts", r.attempts);
  f.value("data", r.data);
  f.integer("duration_us", r.duration.count());
  f.strings("errors", r.errors);
  f.objects("evidence", r.evidence, [](auto& g, const Evidence& e) { write_fields(g, e); });
  f.string("idempotency_key", r.idempotency_key);
  if (r.label) f.object("label", [&r](auto& g) { write_fields(g, *r.label); });
  f.boolean("replayed", r.replayed);
  if (!r.spent.empty()) {
    f.object("spent", [&r](auto& g) {
      g.value("cost", r.spent.cost);
      g.integer("steps", r.spent.steps);
      g.integer("tokens", r.spent.tokens);
      g.integer("tool_calls", r.spent.tool_calls);
    });
  }
  f.string("status", to_string(r.status));
  f.string("tool_version", r.tool_version);
  f.boolean("transient", r.transient);
}

template <typename Fields>
void write_fields(Fields& f, const Observation& o) {
  f.integer("at_millis", o.at_millis);
  f.value("confidence", o.confidence);
  f.value("content", o.content);
  if (!o.level.empty()) f.string("level", o.level);
  f.string("source", o.source);
  f.integer("step", o.step);
  f.boolean("trusted", o.trusted);
}

// The audit's forms that leave fields out. Chains already written carry these exact shapes, so
// they stay: a policy decision in an audit payload (and in PolicyDecision::to_json()) has no
// budget_exhausted; a tool_call entry
// has the result without tool_version and transient; an observation entry has no step or time
// (the entry has its own).
inline constexpr std::string_view kAuditDecisionOmits[] = {"budget_exhausted"};
inline constexpr std::string_view kToolCallResultOmits[] = {"tool_version", "transient"};
inline constexpr std::string_view kAuditObservationOmits[] = {"at_millis", "step"};

// A value's canonical text: what json_text(to_json()) gives, written directly.
template <typename T>
std::string canonical_text(const T& value) {
  JsonObjectWriter w;
  write_fields(w, value);
  return w.finish();
}
// The same without the keys in `omit`, and with `extra` fields merged in by key.
template <typename T>
std::string canonical_text(const T& value, std::span<const std::string_view> omit,
                           std::span<const RawField> extra = {}) {
  JsonObjectWriter w;
  FieldMerge merged(w, omit, extra);
  write_fields(merged, value);
  merged.done();
  return w.finish();
}

// A value as a nlohmann::json tree, from the same field list.
template <typename T>
nlohmann::json canonical_json(const T& value) {
  JsonTreeWriter t;
  write_fields(t, value);
  return t.finish();
}

}  // namespace rein::detail
