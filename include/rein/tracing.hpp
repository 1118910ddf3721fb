// rein's tracing: spans the runtime records, exportable as OTLP-JSON.
//
// The runtime records a span for each run (one per call of Runtime::run), step, plan,
// authorize, tool call, verify and LLM call, with attributes such as rein.tool,
// rein.decision, rein.status, rein.tokens. Spans of one run share a trace id derived from the
// run id, so a resumed run continues the same trace. to_otlp_json() produces the
// OpenTelemetry JSON encoding (resourceSpans / scopeSpans / spans, hex ids, nanosecond times
// as strings) that collectors and viewers read.
//
// Thread safety: Tracer may be shared by every run of a process.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"

namespace rein {

struct Span {
  std::string trace_id{};        // 32 hex digits
  std::string span_id{};         // 16 hex digits
  std::string parent_span_id{};  // "" for a root span
  std::string name{};            // "rein.run", "rein.step", "rein.tool_call", ...
  std::int64_t start_unix_nanos = 0;
  std::int64_t end_unix_nanos = 0;
  nlohmann::json attributes =
      nlohmann::json::object();  // string, integer, number or boolean values
  bool error = false;
  std::string status_message{};
};

class Tracer {
 public:
  // Keeps at most `max_spans` (oldest dropped first) so a long-lived process stays bounded.
  explicit Tracer(std::string service_name = "rein", std::size_t max_spans = 1'000'000);

  void record(Span span);
  std::vector<Span> spans() const;
  std::size_t dropped() const;
  void clear();

  // {"resourceSpans": [...]} in the OTLP JSON encoding.
  nlohmann::json to_otlp_json() const;
  Status export_otlp_json(const std::filesystem::path& path) const;

  // The trace id rein uses for a run: the first 16 bytes of SHA-256(run id), in hex.
  static std::string trace_id_for(const std::string& run_id);

 private:
  std::string service_name_;
  std::size_t max_spans_;
  mutable std::mutex mutex_;
  std::vector<Span> spans_;
  std::size_t start_ = 0;  // ring buffer head once full
  std::size_t dropped_ = 0;
};

}  // namespace rein
