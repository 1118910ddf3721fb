// Tools: what a tool is (ToolSpec), what it returns (ToolResult), what it is given (ToolContext).
//
// A tool is data plus one callback. The spec says what the tool accepts and returns (JSON
// Schema), which permissions it needs, whether it has side effects and how it is made
// idempotent, and how it is run (timeout, retries, circuit breaker). ToolRegistry enforces all
// of it; the callback only does the work.
//
// Thread safety: ToolSpec, ToolResult and Evidence are plain values. A ToolFn may be called
// concurrently from several threads (by concurrent invokes) and must be safe for that.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/budget.hpp"
#include "rein/cancellation.hpp"
#include "rein/circuit_breaker.hpp"
#include "rein/env.hpp"
#include "rein/error.hpp"
#include "rein/labels.hpp"

namespace rein {

// How a tool call ended.
enum class ToolStatus {
  ok,             // the tool succeeded; `data` holds its output
  error,          // the tool failed (see `errors`, `transient`)
  denied,         // refused before running (policy, circuit breaker, missing idempotency key)
  timeout,        // the tool overran its deadline and was abandoned
  invalid_input,  // unknown tool or arguments that violate the input schema
};

std::string_view to_string(ToolStatus status) noexcept;
std::optional<ToolStatus> tool_status_from_string(std::string_view name) noexcept;

// Where a value came from: a citation the critic and the reader can check.
struct Evidence {
  std::string type{};     // e.g. "source", "artifact", "document"
  std::string uri{};      // e.g. "billing://mrr/A100"
  std::string excerpt{};  // optional quoted text ("" when none)

  // Named factories: three strings in a row are easy to swap by position.
  static Evidence source(std::string uri, std::string excerpt = {}) {
    return {.type = "source", .uri = std::move(uri), .excerpt = std::move(excerpt)};
  }
  static Evidence artifact(std::string uri) { return {.type = "artifact", .uri = std::move(uri)}; }
  static Evidence document(std::string uri, std::string excerpt = {}) {
    return {.type = "document", .uri = std::move(uri), .excerpt = std::move(excerpt)};
  }

  friend bool operator==(const Evidence&, const Evidence&) = default;
};

// The envelope every tool call returns, whatever happened.
struct ToolResult {
  ToolStatus status = ToolStatus::ok;
  nlohmann::json data{};                  // the output (null when none)
  std::vector<std::string> errors{};      // readable reasons when status != ok
  std::vector<Evidence> evidence{};       // citations for the output
  std::string idempotency_key{};          // the key the call ran under ("" when none)
  std::string tool_version{};             // ToolSpec::version of the tool that ran
  std::chrono::microseconds duration{0};  // wall time across all attempts
  int attempts = 0;                       // how many times the callback ran (0: never ran)
  bool transient = false;                 // an error that may succeed if retried later
  bool replayed = false;                  // served from the idempotency ledger, tool not run
  // Where this output came from, when the tool knows better than its spec (an email from the
  // user's own address, a file in a secret folder). nullopt: ToolSpec::trusted_output and
  // output_level decide.
  std::optional<Label> label{};
  // What the call spent against the caller's budgets (a child run's usage, see
  // delegation.hpp); the runtime adds it to the calling run's usage.
  Spend spent{};

  bool ok() const noexcept { return status == ToolStatus::ok; }

  // A successful result with `data` and optional citations.
  static ToolResult success(nlohmann::json data, std::vector<Evidence> evidence = {});
  // A failed result. Transient failures are retried by the registry; permanent ones never.
  static ToolResult failure(std::string message, bool transient = false);

  // Exact JSON round trip (used by journals, audit and replay).
  nlohmann::json to_json() const;
  static Result<ToolResult> from_json(const nlohmann::json& j);

  friend bool operator==(const ToolResult&, const ToolResult&) = default;
};

// When and how a failed call is tried again. Only transient errors and timeouts are retried;
// a side-effecting tool is retried only when the call carries an idempotency key.
struct RetryPolicy {
  int max_attempts = 3;                            // total tries, including the first
  std::chrono::milliseconds initial_backoff{100};  // wait before the second try
  double multiplier = 2.0;                         // growth per further try
  std::chrono::milliseconds max_backoff{5'000};    // cap on a single wait
  double jitter = 0.2;                             // +/- fraction of randomness per wait
  bool retry_on_timeout = true;

  // The wait before attempt `next_attempt` (2, 3, ...), with `unit_random` in [0, 1).
  std::chrono::nanoseconds backoff_before(int next_attempt, double unit_random) const;
};

// What the callback is given besides its arguments.
struct CallerRun;  // delegation.hpp

class ToolContext {
 public:
  ToolContext(Env& env, CancellationToken cancel, std::string_view idempotency_key, int attempt,
              Env::TimePoint deadline, std::shared_ptr<const CallerRun> caller = nullptr)
      : env_(env),
        cancel_(std::move(cancel)),
        idempotency_key_(idempotency_key),
        attempt_(attempt),
        deadline_(deadline),
        caller_(std::move(caller)) {}

  Env& env() const noexcept { return env_; }
  // Cancelled when the call times out or the caller cancels: stop work and return.
  const CancellationToken& cancellation() const noexcept { return cancel_; }
  bool cancelled() const noexcept { return cancel_.cancelled(); }
  // Sleeps through the Env, waking early on cancellation (returns false then).
  bool sleep_for(std::chrono::nanoseconds d) const { return env_.sleep_for(d, cancel_); }
  // The caller's key for a side-effecting call; tools that reach external systems should
  // pass it on, so that a re-run after an unknown outcome is deduplicated there too.
  std::string_view idempotency_key() const noexcept { return idempotency_key_; }
  int attempt() const noexcept { return attempt_; }               // 1 for the first try
  Env::TimePoint deadline() const noexcept { return deadline_; }  // TimePoint::max(): none
  // The run making the call (delegation.hpp); nullptr outside a run. Valid as long as the
  // context is.
  const CallerRun* caller() const noexcept { return caller_.get(); }

 private:
  Env& env_;
  CancellationToken cancel_;
  std::string_view idempotency_key_;
  int attempt_;
  Env::TimePoint deadline_;
  std::shared_ptr<const CallerRun> caller_;
};

// The callback. It may return any ToolResult; the registry fills in the bookkeeping fields
// (idempotency_key, tool_version, duration, attempts). Exceptions it throws are caught and
// become error results.
using ToolFn = std::function<ToolResult(const nlohmann::json& args, ToolContext& ctx)>;

// An asynchronous tool's call: its arguments, its context, and the handle that finishes it.
// The tool starts its work (on the host's own event loop, a thread of its own, a timer) and
// returns at once; later, from any thread, it calls complete() once. The arguments and the
// context stay valid until then, even past the call's deadline. A result that comes after the
// call timed out or was cancelled is ignored (complete() returns false) and counted by
// ToolRegistry::late_completions(); a AsyncToolCall dropped without completing ends the call as a
// permanent error, so a run never waits on a lost handle. Copies share one call.
class AsyncToolCall {
 public:
  struct State;
  explicit AsyncToolCall(std::shared_ptr<State> state) : state_(std::move(state)) {}

  const nlohmann::json& args() const noexcept;
  const ToolContext& context() const noexcept;
  // Finishes the call; false when it had already ended and `result` was ignored.
  bool complete(ToolResult result) const;

 private:
  std::shared_ptr<State> state_;
};

// The callback of an asynchronous tool: start the work and return; finish through `call`.
// Exceptions it throws (before returning) are caught and become error results.
using AsyncToolFn = std::function<void(AsyncToolCall call)>;

// How a side-effecting tool's calls are deduplicated.
struct IdempotencyOptions {
  // JSON pointer into the arguments where the key is found (e.g. "/deck_spec/idem"). When
  // empty, the caller supplies the key in InvokeOptions.
  std::string key_pointer{};
  // Refuse calls that arrive without a key (status denied).
  bool key_required = false;
};

struct ToolSpec {
  std::string name{};  // dotted, e.g. "billing.mrr": [A-Za-z][A-Za-z0-9_-]* parts joined by '.'
  std::string description{};                           // for the model and for people; required
  nlohmann::json input_schema = {{"type", "object"}};  // must describe an object
  nlohmann::json output_schema{};                      // null: output is not checked
  std::vector<std::string> permissions{};  // what a principal needs (checked by policy rules)
  bool side_effects = false;
  // The label of the tool's outputs (labels.hpp): untrusted unless the host vouches for what
  // the tool returns (its own database, a computation over trusted inputs); output_level is
  // the confidentiality level of what it returns ("" public). A result may carry its own.
  bool trusted_output = false;
  std::string output_level{};
  IdempotencyOptions idempotency{};
  std::string version = "v1";
  // Per attempt. For a synchronous tool, zero means no deadline: the callback runs on the
  // caller's thread (cheapest; use for tools that cannot hang). Otherwise it runs on a runner
  // thread and is abandoned, with status timeout, when it overruns. An asynchronous tool is
  // timed out the same way (zero: it may take as long as it likes), its call's cancellation
  // token fired, and a later completion ignored.
  std::chrono::milliseconds timeout{30'000};
  RetryPolicy retry{};
  CircuitBreakerOptions circuit_breaker{};
  // The runtime tells this tool's calls which run makes them (ToolContext::caller()). Off by
  // default: it costs a copy of the run's identity per call. Agent tools (agent_tool.hpp) set it.
  bool wants_caller = false;
};

}  // namespace rein
