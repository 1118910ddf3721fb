#include "rein/tracing.hpp"

#include <fstream>

#include "core/json_text.hpp"
#include "core/sha256.hpp"
#include "rein/version.hpp"

namespace rein {

using nlohmann::json;

namespace {

json otlp_value(const json& v) {
  if (v.is_boolean()) return {{"boolValue", v.get<bool>()}};
  if (v.is_number_integer()) return {{"intValue", std::to_string(v.get<std::int64_t>())}};
  if (v.is_number()) return {{"doubleValue", v.get<double>()}};
  if (v.is_string()) return {{"stringValue", v.get<std::string>()}};
  return {{"stringValue", detail::json_text(v)}};
}

json otlp_attributes(const json& attributes) {
  json out = json::array();
  for (const auto& [key, value] : attributes.items())
    out.push_back({{"key", key}, {"value", otlp_value(value)}});
  return out;
}

}  // namespace

Tracer::Tracer(std::string service_name, std::size_t max_spans)
    : service_name_(std::move(service_name)), max_spans_(max_spans == 0 ? 1 : max_spans) {}

void Tracer::record(Span span) {
  std::lock_guard lock(mutex_);
  if (spans_.size() < max_spans_) {
    spans_.push_back(std::move(span));
    return;
  }
  spans_[start_] = std::move(span);
  start_ = (start_ + 1) % max_spans_;
  ++dropped_;
}

std::vector<Span> Tracer::spans() const {
  std::lock_guard lock(mutex_);
  std::vector<Span> out;
  out.reserve(spans_.size());
  for (std::size_t i = 0; i < spans_.size(); ++i)
    out.push_back(spans_[(start_ + i) % spans_.size()]);
  return out;
}

std::size_t Tracer::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void Tracer::clear() {
  std::lock_guard lock(mutex_);
  spans_.clear();
  start_ = 0;
}

json Tracer::to_otlp_json() const {
  json spans = json::array();
  for (const auto& s : this->spans()) {
    json span = {
        {"traceId", s.trace_id},
        {"spanId", s.span_id},
        {"name", s.name},
        {"kind", 1},  // SPAN_KIND_INTERNAL
        {"startTimeUnixNano", std::to_string(s.start_unix_nanos)},
        {"endTimeUnixNano", std::to_string(s.end_unix_nanos)},
        {"attributes", otlp_attributes(s.attributes)},
        {"status", s.error ? json{{"code", 2}, {"message", s.status_message}} : json{{"code", 1}}}};
    if (!s.parent_span_id.empty()) span["parentSpanId"] = s.parent_span_id;
    spans.push_back(std::move(span));
  }
  json resource = {{"attributes", otlp_attributes({{"service.name", service_name_}})}};
  json scope = {{"name", "rein"}, {"version", version()}};
  return {{"resourceSpans",
           {{{"resource", std::move(resource)},
             {"scopeSpans", {{{"scope", std::move(scope)}, {"spans", std::move(spans)}}}}}}}};
}

Status Tracer::export_otlp_json(const std::filesystem::path& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Error(ErrorCode::unavailable, "cannot write trace file '" + path.string() + "'");
  out << detail::json_text(to_otlp_json()) << '\n';
  if (!out)
    return Error(ErrorCode::unavailable, "writing trace file '" + path.string() + "' failed");
  return {};
}

std::string Tracer::trace_id_for(const std::string& run_id) {
  return sha256_hex(run_id).substr(0, 32);
}

}  // namespace rein
