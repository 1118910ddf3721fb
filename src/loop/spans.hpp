// Internal: spans of a run's turns, recorded only when the runtime has a tracer.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "rein/agent_state.hpp"
#include "rein/env.hpp"
#include "rein/tracing.hpp"

namespace rein::detail {

std::string new_span_id(Env& env);

// A run's trace: its own, or its root's when it was delegated, so that a tree of runs is one
// trace (delegation.hpp).
inline std::string trace_id_of(const AgentState& s) {
  const bool child = s.delegation && !s.delegation->ancestors.empty();
  return Tracer::trace_id_for(child ? s.delegation->ancestors.front().run_id : s.run_id);
}

// The span a run's own spans hang under when nothing of this process encloses them: for a
// delegated run, its parent's call.
inline const std::string& outer_span_of(const AgentState& s) {
  static const std::string none;
  return s.delegation ? s.delegation->parent_span_id : none;
}

// Wall-clock nanoseconds for spans: one wall reading, then the monotonic clock, so that span
// durations are exact even though Env's wall clock has millisecond resolution.
struct SpanClock {
  SpanClock(Env& e, bool needed)
      : env(e),
        wall0(needed ? e.unix_millis() * 1'000'000 : 0),
        steady0(needed ? e.now() : Env::TimePoint{}) {}
  std::int64_t now_nanos() const {
    return wall0 +
           std::chrono::duration_cast<std::chrono::nanoseconds>(env.now() - steady0).count();
  }
  Env& env;
  std::int64_t wall0;
  Env::TimePoint steady0;
};

// One span; costs nothing when there is no tracer.
class SpanRecorder {
 public:
  SpanRecorder(Tracer* tracer, const SpanClock& clock, const std::string& trace_id,
               const std::string& parent, std::string name)
      : tracer_(tracer), clock_(clock) {
    if (tracer_ == nullptr) return;
    span_ = std::make_unique<Span>();
    span_->trace_id = trace_id;
    span_->parent_span_id = parent;
    span_->name = std::move(name);
    span_->span_id = new_span_id(clock_.env);
    span_->start_unix_nanos = clock_.now_nanos();
  }
  ~SpanRecorder() { end(); }
  SpanRecorder(const SpanRecorder&) = delete;
  SpanRecorder& operator=(const SpanRecorder&) = delete;

  template <typename T>
  void set(const char* key, T&& value) {
    if (tracer_ != nullptr) span_->attributes[key] = std::forward<T>(value);
  }
  void fail(std::string message) {
    if (tracer_ == nullptr) return;
    span_->error = true;
    span_->status_message = std::move(message);
  }
  const std::string& id() const {
    static const std::string none;
    return span_ ? span_->span_id : none;
  }
  void end() {
    if (tracer_ == nullptr) return;
    span_->end_unix_nanos = clock_.now_nanos();
    tracer_->record(std::move(*span_));
    tracer_ = nullptr;
  }

 private:
  Tracer* tracer_;
  const SpanClock& clock_;
  // Only when tracing; on the heap, because recorders live in the coroutine frames of waiting
  // runs, where an empty Span inline would cost 200 bytes a frame.
  std::unique_ptr<Span> span_;
};

}  // namespace rein::detail
