// Internal: what the synchronous and the asynchronous invoke of ToolRegistry share — the
// entries, the claims that keep concurrent calls with one idempotency key apart, and each
// guard of ToolRegistry::invoke as a function both paths call in the same order.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "rein/tool_registry.hpp"
#include "tools/tool_runner.hpp"

namespace rein {

namespace detail {

// A registered tool: its spec, callback and what registration compiled from the spec.
struct ToolEntry {
  ToolSpec spec;
  ToolFn fn;  // exactly one of fn and async_fn is set
  AsyncToolFn async_fn;
  JsonSchema input;
  std::optional<JsonSchema> output;
  std::optional<nlohmann::json::json_pointer> key_pointer;
  std::string wire_name;
  mutable CircuitBreaker breaker;
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// A side-effecting call in progress, so concurrent calls with its key wait for it.
struct Claim {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
};

ToolResult make_result(ToolStatus status, std::string message, bool transient = false);

}  // namespace detail

struct ToolRegistry::Impl {
  using Entry = detail::ToolEntry;

  Impl(Env& e, std::size_t max_threads) : env(e), runner(max_threads) {}

  // A call after the guards that need no waiting: either its result already (unknown tool,
  // invalid arguments, a missing key) or the entry and the idempotency key ("" when none) to
  // run it under.
  struct PreparedCall {
    std::shared_ptr<const Entry> entry;
    std::string key;
    std::optional<ToolResult> early;
  };

  // What a run of attempts ended with, and whether another attempt may follow.
  static bool retryable(const ToolResult& r, const RetryPolicy& retry);

  // The circuit breaker's refusal of attempt `attempt`.
  static ToolResult circuit_open(const Entry& e, Env& env, int attempt);

  // Records one attempt's outcome in the breaker.
  static void record_health(const Entry& e, Env& env, const ToolResult& r, bool counts_as_failure,
                            const CancellationToken& cancel);

  // The output-schema check of a finished attempt (a violation is a permanent error).
  static void check_output(const Entry& e, ToolResult& r);

  // Checks and compiles a spec, then registers it (register_tool, register_async_tool).
  Status add(ToolSpec spec, ToolFn fn, AsyncToolFn async_fn);
  // The entry named `name`, or nullptr.
  std::shared_ptr<const Entry> entry(std::string_view name) const;

  // The blocking path (tool_registry.cpp): every attempt of a call, with retries and backoff ...
  ToolResult run_attempts(const std::shared_ptr<const Entry>& e, const nlohmann::json& args,
                          const std::string& key, const InvokeOptions& options);
  // ... and one attempt of a synchronous tool, on the calling thread or, with a timeout, on a
  // runner thread. `counts_as_failure` is set when the attempt counts against the breaker.
  ToolResult run_once(const std::shared_ptr<const Entry>& e, const nlohmann::json& args,
                      const std::string& key, int attempt, const InvokeOptions& options,
                      bool& counts_as_failure);
  // invoke() of an asynchronous tool: drives a private executor on the calling thread.
  static ToolResult invoke_async_here(ToolRegistry& self, std::string_view name,
                                      const nlohmann::json& args, const InvokeOptions& options);

  Env& env;
  mutable std::shared_mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<const Entry>, detail::StringHash, std::equal_to<>>
      tools;
  std::unordered_map<std::string, std::string, detail::StringHash, std::equal_to<>> by_wire_name;
  std::shared_ptr<IdempotencyStore> store;
  JsonSchemaOptions schema_options;
  std::shared_ptr<const nlohmann::json> catalog;  // openai_catalog(), until the next registration

  std::mutex claims_mutex;
  std::unordered_map<std::string, std::shared_ptr<detail::Claim>> claims;

  detail::ToolRunner runner;
  bool memory_ledger = false;  // the built-in in-memory ledger: no need for the blocking pool
  // Shared with calls that may outlive the registry (a host holding a ToolCall).
  std::shared_ptr<std::atomic<std::uint64_t>> late_completions =
      std::make_shared<std::atomic<std::uint64_t>>(0);

  // Stamps a finished call's result with its tool's version and the call's wall time.
  struct Finish {
    // A constructor, not an aggregate: GCC 12 fails on an aggregate whose member initializer
    // reads another member when one is made inside a coroutine.
    Finish(Env& e, const Entry* en) : env(e), entry(en), started(e.now()) {}
    Env& env;
    const Entry* entry;
    Env::TimePoint started;
    ToolResult operator()(ToolResult r) const {
      if (entry != nullptr) r.tool_version = entry->spec.version;
      r.duration = std::chrono::duration_cast<std::chrono::microseconds>(env.now() - started);
      return r;
    }
  };

  // The retry loop's decisions, shared by the blocking and the asynchronous loop: before an
  // attempt, whether it may run; after it, whether and how long to wait for the next.
  class Attempts {
   public:
    Attempts(const Entry& e, Env& env, const std::string& key, const CancellationToken& cancel);
    // A result that ends the call before attempt `attempt` runs (cancelled, circuit open).
    std::optional<ToolResult> before(int attempt) const;
    // Records attempt `attempt`'s outcome; the wait before the next one, or nullopt to stop.
    std::optional<std::chrono::nanoseconds> after(ToolResult& r, int attempt,
                                                  bool counts_as_failure) const;
    // The result when the wait before the next attempt was cancelled.
    static ToolResult cancelled(int attempts_made);

   private:
    const Entry& e_;
    Env& env_;
    const CancellationToken& cancel_;
    int max_attempts_;
  };

  PreparedCall prepare(std::string_view name, const nlohmann::json& args,
                       const InvokeOptions& options) const;
  // Takes the claim of `slot`, or returns nullptr and sets `running` to the call holding it.
  std::shared_ptr<detail::Claim> try_claim(const std::string& slot,
                                           std::shared_ptr<detail::Claim>& running);
  void release(const std::string& slot, const std::shared_ptr<detail::Claim>& claim);
  // The ledger's answer for a key: a replayed result, an error result, or nullopt (run it).
  std::optional<ToolResult> replay(const Entry& e, const std::string& key);
  // Records a successful keyed result in the ledger.
  void remember(const Entry& e, const std::string& key, const ToolResult& r);

  // Parts of ToolRegistry::invoke_async, each a coroutine of its own so that the frames a
  // call keeps while it waits hold only what its path needs (tool_registry_async.cpp):
  // a call with an idempotency key (claim, ledger, attempts, ledger) ...
  static Task<ToolResult> keyed_async(ToolRegistry& self, PreparedCall call, nlohmann::json args,
                                      InvokeOptions options, Executor& executor);
  // ... every attempt of a call, with retries waiting on timers, its result stamped by
  // `finish` ...
  Task<ToolResult> attempts_async(std::shared_ptr<const Entry> e, nlohmann::json args,
                                  std::string key, InvokeOptions options, Executor& executor,
                                  Finish finish);
  // A call that ended before it began; a call's result stamped when it ends.
  static Task<ToolResult> ready(ToolResult r);
  static Task<ToolResult> finished(Finish finish, Task<ToolResult> work);
  // ... one attempt of a synchronous tool, on the blocking pool ...
  Task<ToolResult> blocking_once(std::shared_ptr<const Entry> e, const nlohmann::json& args,
                                 std::string key, int attempt, const InvokeOptions& options,
                                 Executor& executor, bool& counts_as_failure);
  // ... and one attempt of an asynchronous tool, parked until it completes or times out.
  Task<ToolResult> once_async(std::shared_ptr<const Entry> e, const nlohmann::json& args,
                              std::string key, int attempt, const InvokeOptions& options,
                              Executor& executor, bool& counts_as_failure);
};

}  // namespace rein
