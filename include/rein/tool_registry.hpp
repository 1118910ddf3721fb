// rein::ToolRegistry: the tools an agent may call, and the one way to call them.
//
// register_tool() checks a spec (name, schemas, options) and compiles its schemas once.
// invoke() runs a call through every guard in order:
//   1. the tool exists, and the arguments satisfy its input schema (else invalid_input, with
//      every violation and its JSON pointer);
//   2. for side-effecting tools, the idempotency key (from the arguments or the caller): a key
//      already recorded returns the recorded result (replayed = true) without running the tool;
//      concurrent calls with one key run the tool once;
//   3. the tool's circuit breaker (open: denied at once, transient);
//   4. the callback, on the caller's thread when the spec has no timeout, else on a runner
//      thread with a deadline: an overrun cancels the call's token and returns timeout
//      without waiting for the callback any longer (an asynchronous tool is started and
//      waited for under the same deadline);
//   5. the output schema, if the spec has one (a violation is a permanent error);
//   6. retries of transient errors and timeouts with exponential backoff and jitter, never of
//      permanent errors, and for side-effecting tools only under an idempotency key.
// The result always comes back as a ToolResult; nothing throws.
//
// Policy (who may call what) is not the registry's job: PolicyEngine decides before invoke.
//
// Thread safety: register_tool, find, invoke and the rest may all be called concurrently.
// A registered tool stays registered (and find()'s pointer valid) for the registry's life.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/cancellation.hpp"
#include "rein/circuit_breaker.hpp"
#include "rein/env.hpp"
#include "rein/error.hpp"
#include "rein/executor.hpp"
#include "rein/idempotency.hpp"
#include "rein/json_schema.hpp"
#include "rein/task.hpp"
#include "rein/tool.hpp"

namespace rein {

struct ToolRegistryOptions {
  Env* env = nullptr;  // clock, sleep and randomness; nullptr means Env::system()
  std::shared_ptr<IdempotencyStore> idempotency_store{};  // nullptr: a private in-memory store
  // Upper bound on runner threads for tools with a timeout. Threads are started on demand; a
  // thread stuck in an abandoned call is replaced while the bound allows. Beyond the bound,
  // calls queue for a free thread, and one that waits past its deadline times out.
  std::size_t max_runner_threads = 64;
  // How tools' input and output schemas are compiled: the default draft when a schema names
  // none, format assertion, and whether unknown keywords (vendor extensions such as "x-...")
  // are refused (the default) or ignored. A resolver here serves every tool's remote $refs.
  JsonSchemaOptions schema_options{};
};

struct InvokeOptions {
  // For side-effecting tools whose spec has no key_pointer; ignored when the spec reads the
  // key from the arguments.
  std::string idempotency_key{};
  CancellationToken cancellation{};  // the caller's cancel: stops waiting, retries and the call
  // The run making the call, handed to the tool as ToolContext::caller() (the runtime sets it).
  std::shared_ptr<const CallerRun> caller{};
};

class ToolRegistry {
 public:
  explicit ToolRegistry(ToolRegistryOptions options = {});
  ~ToolRegistry();
  ToolRegistry(const ToolRegistry&) = delete;
  ToolRegistry& operator=(const ToolRegistry&) = delete;

  // Fails with invalid_argument (naming the field) for a bad spec or a null callback, and
  // with already_exists for a duplicate name or a name whose wire form collides.
  Status register_tool(ToolSpec spec, ToolFn fn);

  // The same for an asynchronous tool (see AsyncToolCall). Both kinds share every guard.
  Status register_async_tool(ToolSpec spec, AsyncToolFn fn);
  // nullptr when unknown.
  const ToolSpec* find(std::string_view name) const;
  // True when `name` is registered with an AsyncToolFn.
  bool is_async(std::string_view name) const;
  // The spec whose wire_name() is `wire`; nullptr when unknown.
  const ToolSpec* find_by_wire_name(std::string_view wire) const;
  std::vector<std::string> names() const;  // sorted
  std::size_t size() const;

  // Checks arguments against the input schema without running anything: not_found for an
  // unknown tool, invalid_argument listing every violation.
  Status check_arguments(std::string_view name, const nlohmann::json& args) const;

  // Blocks the calling thread until the call ends (an asynchronous tool is waited for).
  ToolResult invoke(std::string_view name, const nlohmann::json& args,
                    const InvokeOptions& options = {});
  // The same guards without blocking a thread: an asynchronous tool parks the task until it
  // completes, times out or is cancelled; retry backoff waits on `executor`'s timers; a
  // synchronous tool runs on `executor`'s blocking pool. Resumes on `executor`'s run threads.
  // The tool is looked up and the arguments checked when this is called; the call itself
  // starts when the task is first awaited.
  Task<ToolResult> invoke_async(std::string name, nlohmann::json args, InvokeOptions options,
                                Executor& executor);
  // Completions of asynchronous tools that arrived after their call had ended (timed out or
  // cancelled) and were ignored.
  std::uint64_t late_completions() const noexcept;

  // The catalog in the OpenAI chat-completions "tools" format:
  // [{"type": "function", "function": {"name", "description", "parameters"}}, ...], sorted by
  // name. Function names are wire names, since OpenAI allows no dots.
  nlohmann::json openai_catalog() const;
  // A tool's name as sent to models: '.' becomes "__" ("billing.mrr" -> "billing__mrr").
  static std::string wire_name(std::string_view name);

  // The circuit state of a tool (closed for unknown tools).
  CircuitState circuit_state(std::string_view name) const;

  Env& env() const noexcept { return *env_; }

 private:
  struct Impl;  // src/tools/registry_internals.hpp: the entries and every guard

  Env* env_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rein
