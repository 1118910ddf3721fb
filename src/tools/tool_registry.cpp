#include "rein/tool_registry.hpp"

#include "rein/delegation.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <shared_mutex>
#include <unordered_map>

#include "core/host_call.hpp"
#include "core/log.hpp"
#include "tools/registry_internals.hpp"

namespace rein {

using nlohmann::json;

namespace {

bool valid_tool_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  bool part_start = true;
  for (char c : name) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    if (part_start) {
      if (!alpha) return false;
      part_start = false;
    } else if (c == '.') {
      part_start = true;
    } else if (!alpha && !digit && c != '_' && c != '-') {
      return false;
    }
  }
  return !part_start;
}

Status check_spec(const ToolSpec& spec) {
  auto bad = [&](const std::string& what) {
    return Error(ErrorCode::invalid_argument, "tool '" + spec.name + "': " + what);
  };
  if (!valid_tool_name(spec.name)) {
    return Error(ErrorCode::invalid_argument,
                 "tool name '" + spec.name +
                     "' is invalid: use dotted parts of letters, digits, '_' or '-', each "
                     "starting with a letter, at most 64 characters (e.g. billing.mrr)");
  }
  if (spec.description.empty()) return bad("description is required (models read it)");
  if (!spec.input_schema.is_object() || !spec.input_schema.contains("type") ||
      spec.input_schema["type"] != "object") {
    return bad("input_schema must be an object schema with \"type\": \"object\"");
  }
  if (spec.version.empty()) return bad("version must not be empty");
  if (spec.timeout.count() < 0) return bad("timeout must not be negative");
  const auto& r = spec.retry;
  if (r.max_attempts < 1) return bad("retry.max_attempts must be at least 1");
  if (r.initial_backoff.count() < 0 || r.max_backoff.count() < 0) {
    return bad("retry backoffs must not be negative");
  }
  if (!(r.multiplier >= 1.0)) return bad("retry.multiplier must be at least 1");
  if (!(r.jitter >= 0.0 && r.jitter <= 1.0)) return bad("retry.jitter must be within [0, 1]");
  const auto& cb = spec.circuit_breaker;
  if (cb.failure_threshold < 0)
    return bad("circuit_breaker.failure_threshold must not be negative");
  if (cb.half_open_probes < 1) return bad("circuit_breaker.half_open_probes must be at least 1");
  if (cb.open_duration.count() < 0)
    return bad("circuit_breaker.open_duration must not be negative");
  if (!spec.side_effects &&
      (spec.idempotency.key_required || !spec.idempotency.key_pointer.empty())) {
    return bad("idempotency options apply only to tools with side_effects");
  }
  for (const auto& p : spec.permissions) {
    if (p.empty()) return bad("permissions must not contain an empty string");
  }
  return {};
}

// The ledger may be the host's own code: whatever it throws becomes an error value.
Result<ToolResult> guarded_find(IdempotencyStore& store, std::string_view tool,
                                std::string_view key) {
  return detail::call_host(
      "idempotency store", [&] { return store.find(tool, key); }, ErrorCode::unavailable);
}

Status guarded_record(IdempotencyStore& store, std::string_view tool, std::string_view key,
                      const ToolResult& result) {
  return detail::call_host(
      "idempotency store", [&] { return store.record(tool, key, result); }, ErrorCode::unavailable);
}

// What a timed call shares with the runner thread that executes it.
struct CallState {
  json args;
  std::string key;
  std::shared_ptr<const CallerRun> caller;
  std::mutex mutex;
  bool completed = false;
  bool threw = false;
  ToolResult result;
  Env::TimePoint completed_at{};
};

}  // namespace

namespace detail {

ToolResult make_result(ToolStatus status, std::string message, bool transient) {
  ToolResult r;
  r.status = status;
  r.errors.push_back(std::move(message));
  r.transient = transient;
  return r;
}

}  // namespace detail

using detail::make_result;

bool ToolRegistry::Impl::retryable(const ToolResult& r, const RetryPolicy& retry) {
  return (r.status == ToolStatus::error && r.transient) ||
         (r.status == ToolStatus::timeout && retry.retry_on_timeout);
}

ToolResult ToolRegistry::Impl::circuit_open(const Entry& e, Env& env, int attempt) {
  const auto wait = e.breaker.retry_after(env);
  ToolResult r = make_result(ToolStatus::denied,
                             "circuit open for tool '" + e.spec.name + "': retry after " +
                                 std::to_string(wait.count()) + " ms",
                             /*transient=*/true);
  r.attempts = attempt - 1;
  return r;
}

void ToolRegistry::Impl::record_health(const Entry& e, Env& env, const ToolResult& r,
                                       bool counts_as_failure, const CancellationToken& cancel) {
  if (counts_as_failure) {
    e.breaker.record_failure(env);
  } else if (cancel.cancelled() && !r.ok()) {
    e.breaker.record_abandoned();  // says nothing about the tool's health
  } else {
    e.breaker.record_success();
  }
}

void ToolRegistry::Impl::check_output(const Entry& e, ToolResult& r) {
  if (r.ok() && e.output && !e.output->accepts(r.data)) {
    std::string detail = describe(e.output->validate(r.data));
    r = make_result(ToolStatus::error, "tool '" + e.spec.name +
                                           "' returned output that violates its schema: " + detail);
  }
}

ToolRegistry::Impl::PreparedCall ToolRegistry::Impl::prepare(std::string_view name,
                                                             const json& args,
                                                             const InvokeOptions& options) const {
  Impl::PreparedCall call;
  {
    std::shared_lock lock(mutex);
    auto it = tools.find(name);
    if (it != tools.end()) call.entry = it->second;
  }
  const Entry* e = call.entry.get();
  if (e == nullptr) {
    call.early = make_result(ToolStatus::invalid_input, "unknown tool '" + std::string(name) + "'");
    return call;
  }
  if (!e->input.accepts(args)) {
    ToolResult r;
    r.status = ToolStatus::invalid_input;
    for (auto& v : e->input.validate(args)) {
      r.errors.push_back((v.pointer.empty() ? std::string("(root)") : v.pointer) + ": " +
                         v.message);
    }
    call.early = std::move(r);
    return call;
  }
  if (!e->spec.side_effects) return call;
  // Side effects: find the key; the call then runs at most once per (tool, key).
  call.key = options.idempotency_key;
  if (e->key_pointer) {
    call.key.clear();
    if (args.contains(*e->key_pointer)) {
      const json& k = args.at(*e->key_pointer);
      if (k.is_string()) {
        call.key = k.get<std::string>();
      } else if (k.is_number_integer()) {
        call.key = k.dump();  // numbers always dump cleanly
      }
    }
  }
  if (call.key.empty() && e->spec.idempotency.key_required) {
    std::string where = e->key_pointer ? "argument " + e->spec.idempotency.key_pointer
                                       : std::string("InvokeOptions::idempotency_key");
    call.early =
        make_result(ToolStatus::denied,
                    "tool '" + e->spec.name + "' requires an idempotency key (" + where + ")");
  }
  return call;
}

std::shared_ptr<detail::Claim> ToolRegistry::Impl::try_claim(
    const std::string& slot, std::shared_ptr<detail::Claim>& running) {
  std::lock_guard lock(claims_mutex);
  auto [it, inserted] = claims.try_emplace(slot);
  if (inserted) return it->second = std::make_shared<detail::Claim>();
  running = it->second;
  return nullptr;
}

void ToolRegistry::Impl::release(const std::string& slot,
                                 const std::shared_ptr<detail::Claim>& claim) {
  {
    std::lock_guard lock(claims_mutex);
    claims.erase(slot);
  }
  {
    std::lock_guard lock(claim->mutex);
    claim->done = true;
  }
  claim->cv.notify_all();
}

std::optional<ToolResult> ToolRegistry::Impl::replay(const Entry& e, const std::string& key) {
  auto recorded = guarded_find(*store, e.spec.name, key);
  if (is_not_found(recorded)) return std::nullopt;
  if (!recorded) {
    return make_result(ToolStatus::error,
                       "idempotency ledger unavailable: " + recorded.error().message(),
                       /*transient=*/true);
  }
  ToolResult r = std::move(*recorded);
  r.replayed = true;
  r.attempts = 0;
  r.idempotency_key = key;
  return r;
}

void ToolRegistry::Impl::remember(const Entry& e, const std::string& key, const ToolResult& r) {
  if (auto s = guarded_record(*store, e.spec.name, key, r); !s) {
    detail::logger()->warn("rein: could not record idempotency key '{}' of tool '{}': {}", key,
                           e.spec.name, s.error().message());
  }
}

ToolRegistry::ToolRegistry(ToolRegistryOptions options)
    : env_(options.env != nullptr ? options.env : &Env::system()),
      impl_(std::make_unique<Impl>(*env_, options.max_runner_threads)) {
  impl_->store = options.idempotency_store != nullptr
                     ? std::move(options.idempotency_store)
                     : std::make_shared<InMemoryIdempotencyStore>();
  impl_->memory_ledger = dynamic_cast<InMemoryIdempotencyStore*>(impl_->store.get()) != nullptr;
  impl_->schema_options = std::move(options.schema_options);
}

ToolRegistry::~ToolRegistry() = default;

std::string ToolRegistry::wire_name(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 4);
  for (char c : name) {
    if (c == '.') {
      out += "__";
    } else {
      out += c;
    }
  }
  return out;
}

Status ToolRegistry::register_tool(ToolSpec spec, ToolFn fn) {
  if (!fn) return Error(ErrorCode::invalid_argument, "tool '" + spec.name + "': callback is empty");
  return impl_->add(std::move(spec), std::move(fn), nullptr);
}

Status ToolRegistry::register_async_tool(ToolSpec spec, AsyncToolFn fn) {
  if (!fn) return Error(ErrorCode::invalid_argument, "tool '" + spec.name + "': callback is empty");
  return impl_->add(std::move(spec), nullptr, std::move(fn));
}

Status ToolRegistry::Impl::add(ToolSpec spec, ToolFn fn, AsyncToolFn async_fn) {
  if (auto s = check_spec(spec); !s) return s;
  auto input = JsonSchema::compile(spec.input_schema, schema_options);
  if (!input) {
    return Error(ErrorCode::invalid_argument,
                 "tool '" + spec.name + "': input_schema: " + input.error().message());
  }
  std::optional<JsonSchema> output;
  if (!spec.output_schema.is_null()) {
    auto compiled = JsonSchema::compile(spec.output_schema, schema_options);
    if (!compiled) {
      return Error(ErrorCode::invalid_argument,
                   "tool '" + spec.name + "': output_schema: " + compiled.error().message());
    }
    output = std::move(*compiled);
  }
  std::optional<json::json_pointer> key_pointer;
  if (!spec.idempotency.key_pointer.empty()) {
    try {
      key_pointer = json::json_pointer(spec.idempotency.key_pointer);
    } catch (const json::exception&) {
      return Error(ErrorCode::invalid_argument,
                   "tool '" + spec.name + "': idempotency.key_pointer '" +
                       spec.idempotency.key_pointer + "' is not a JSON pointer");
    }
  }
  const CircuitBreakerOptions breaker_options = spec.circuit_breaker;
  std::string wire = ToolRegistry::wire_name(spec.name);
  std::shared_ptr<Entry> entry(new Entry{.spec = std::move(spec),
                                         .fn = std::move(fn),
                                         .async_fn = std::move(async_fn),
                                         .input = std::move(*input),
                                         .output = std::move(output),
                                         .key_pointer = std::move(key_pointer),
                                         .wire_name = std::move(wire),
                                         .breaker = CircuitBreaker(breaker_options)});
  if (entry->wire_name.size() > 64) {
    return Error(ErrorCode::invalid_argument, "tool '" + entry->spec.name + "': wire name '" +
                                                  entry->wire_name +
                                                  "' is longer than 64 characters");
  }

  std::unique_lock lock(mutex);
  if (tools.count(entry->spec.name) != 0) {
    return Error(ErrorCode::already_exists,
                 "tool '" + entry->spec.name + "' is already registered");
  }
  if (auto it = by_wire_name.find(entry->wire_name); it != by_wire_name.end()) {
    return Error(ErrorCode::already_exists, "tool '" + entry->spec.name + "' has wire name '" +
                                                entry->wire_name + "', already used by '" +
                                                it->second + "'");
  }
  by_wire_name.emplace(entry->wire_name, entry->spec.name);
  catalog.reset();
  std::string name = entry->spec.name;
  tools.emplace(std::move(name), std::move(entry));
  return {};
}

std::shared_ptr<const ToolRegistry::Impl::Entry> ToolRegistry::Impl::entry(
    std::string_view name) const {
  std::shared_lock lock(mutex);
  auto it = tools.find(name);
  return it == tools.end() ? nullptr : it->second;
}

const ToolSpec* ToolRegistry::find(std::string_view name) const {
  // Entries are never removed, so the spec outlives the lock; no shared_ptr copy needed.
  std::shared_lock lock(impl_->mutex);
  auto it = impl_->tools.find(name);
  return it == impl_->tools.end() ? nullptr : &it->second->spec;
}

bool ToolRegistry::is_async(std::string_view name) const {
  std::shared_lock lock(impl_->mutex);
  auto it = impl_->tools.find(name);
  return it != impl_->tools.end() && it->second->async_fn != nullptr;
}

std::uint64_t ToolRegistry::late_completions() const noexcept {
  return impl_->late_completions->load();
}

const ToolSpec* ToolRegistry::find_by_wire_name(std::string_view wire) const {
  std::shared_lock lock(impl_->mutex);
  auto it = impl_->by_wire_name.find(wire);
  if (it == impl_->by_wire_name.end()) return nullptr;
  return &impl_->tools.find(it->second)->second->spec;
}

std::vector<std::string> ToolRegistry::names() const {
  std::vector<std::string> out;
  {
    std::shared_lock lock(impl_->mutex);
    out.reserve(impl_->tools.size());
    for (const auto& [name, _] : impl_->tools)
      out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t ToolRegistry::size() const {
  std::shared_lock lock(impl_->mutex);
  return impl_->tools.size();
}

Status ToolRegistry::check_arguments(std::string_view name, const json& args) const {
  const Impl::Entry* e = nullptr;
  {
    std::shared_lock lock(impl_->mutex);
    auto it = impl_->tools.find(name);
    if (it != impl_->tools.end()) e = it->second.get();  // entries live as long as the registry
  }
  if (e == nullptr) return Error(ErrorCode::not_found, "unknown tool '" + std::string(name) + "'");
  if (e->input.accepts(args)) return {};
  return Error(ErrorCode::invalid_argument,
               "tool '" + e->spec.name + "' arguments: " + describe(e->input.validate(args)));
}

json ToolRegistry::openai_catalog() const {
  {
    // Planners ask for it on every model turn: built once per set of tools.
    std::shared_lock lock(impl_->mutex);
    if (impl_->catalog) return *impl_->catalog;
  }
  std::vector<std::shared_ptr<const Impl::Entry>> entries;
  {
    std::shared_lock lock(impl_->mutex);
    for (const auto& [_, e] : impl_->tools)
      entries.push_back(e);
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a->spec.name < b->spec.name; });
  json tools = json::array();
  for (const auto& e : entries) {
    tools.push_back({{"type", "function"},
                     {"function",
                      {{"name", e->wire_name},
                       {"description", e->spec.description},
                       {"parameters", e->spec.input_schema}}}});
  }
  std::unique_lock lock(impl_->mutex);
  // A tool registered meanwhile left the cache empty: keep this one only if it is complete.
  if (impl_->tools.size() == entries.size()) impl_->catalog = std::make_shared<const json>(tools);
  return tools;
}

CircuitState ToolRegistry::circuit_state(std::string_view name) const {
  auto e = impl_->entry(name);
  return e ? e->breaker.state(*env_) : CircuitState::closed;
}

ToolResult ToolRegistry::invoke(std::string_view name, const json& args,
                                const InvokeOptions& options) {
  Impl::Finish finish{*env_, nullptr};  // the clock starts before validation
  Impl::PreparedCall call = impl_->prepare(name, args, options);
  const Impl::Entry* e = finish.entry = call.entry.get();
  if (call.early) return finish(std::move(*call.early));
  if (e->async_fn) return Impl::invoke_async_here(*this, name, args, options);
  if (call.key.empty()) return finish(impl_->run_attempts(call.entry, args, {}, options));

  const std::string slot = e->spec.name + '\0' + call.key;
  std::shared_ptr<detail::Claim> claim;
  for (;;) {
    std::shared_ptr<detail::Claim> running;
    if ((claim = impl_->try_claim(slot, running))) break;
    // Another call with this key is running: wait for it, then look at the ledger again.
    std::unique_lock wait_lock(running->mutex);
    while (!running->done && !options.cancellation.cancelled()) {
      running->cv.wait_for(wait_lock, std::chrono::milliseconds(5));
    }
    if (options.cancellation.cancelled())
      return finish(make_result(ToolStatus::error, "cancelled by the caller"));
  }
  if (auto replayed = impl_->replay(*e, call.key)) {
    impl_->release(slot, claim);
    return finish(std::move(*replayed));
  }
  ToolResult r = impl_->run_attempts(call.entry, args, call.key, options);
  r.idempotency_key = call.key;
  if (r.ok()) {
    r.tool_version = e->spec.version;
    impl_->remember(*e, call.key, r);
  }
  impl_->release(slot, claim);
  return finish(std::move(r));
}

ToolRegistry::Impl::Attempts::Attempts(const Entry& e, Env& env, const std::string& key,
                                       const CancellationToken& cancel)
    : e_(e),
      env_(env),
      cancel_(cancel),
      // Retrying a side effect without a key could apply it twice.
      max_attempts_((e.spec.side_effects && key.empty()) ? 1 : e.spec.retry.max_attempts) {}

std::optional<ToolResult> ToolRegistry::Impl::Attempts::before(int attempt) const {
  if (cancel_.cancelled()) return cancelled(attempt - 1);
  if (!e_.breaker.allow(env_)) return Impl::circuit_open(e_, env_, attempt);
  return std::nullopt;
}

std::optional<std::chrono::nanoseconds> ToolRegistry::Impl::Attempts::after(
    ToolResult& r, int attempt, bool counts_as_failure) const {
  r.attempts = attempt;
  Impl::record_health(e_, env_, r, counts_as_failure, cancel_);
  if (r.ok() || !Impl::retryable(r, e_.spec.retry) || attempt >= max_attempts_) return std::nullopt;
  detail::logger()->debug("rein: tool '{}' attempt {} failed ({}), retrying", e_.spec.name, attempt,
                          r.errors.empty() ? "no reason" : r.errors.front());
  return e_.spec.retry.backoff_before(attempt + 1, env_.random_unit());
}

ToolResult ToolRegistry::Impl::Attempts::cancelled(int attempts_made) {
  ToolResult r = make_result(ToolStatus::error, "cancelled by the caller");
  r.attempts = attempts_made;
  return r;
}

ToolResult ToolRegistry::Impl::run_attempts(const std::shared_ptr<const Entry>& e, const json& args,
                                            const std::string& key, const InvokeOptions& options) {
  const Attempts attempts(*e, env, key, options.cancellation);
  for (int attempt = 1;; ++attempt) {
    if (auto stop = attempts.before(attempt)) return std::move(*stop);
    bool counts_as_failure = false;
    ToolResult r = run_once(e, args, key, attempt, options, counts_as_failure);
    const auto wait = attempts.after(r, attempt, counts_as_failure);
    if (!wait) return r;
    if (!env.sleep_for(*wait, options.cancellation)) return Attempts::cancelled(attempt);
  }
}

namespace {

ToolResult call_guarded(const ToolFn& fn, const json& args, ToolContext& ctx, bool& threw) {
  auto r = detail::call_host("tool", [&] { return fn(args, ctx); });
  if (r) return std::move(*r);
  threw = true;
  return make_result(ToolStatus::error, r.error().message());
}

}  // namespace

ToolResult ToolRegistry::Impl::run_once(const std::shared_ptr<const Entry>& e, const json& args,
                                        const std::string& key, int attempt,
                                        const InvokeOptions& options, bool& counts_as_failure) {
  const CancellationToken& cancel = options.cancellation;
  const auto timeout = e->spec.timeout;
  ToolResult r;
  bool threw = false;
  if (timeout.count() == 0) {
    ToolContext ctx(env, cancel, key, attempt, Env::TimePoint::max(), options.caller);
    r = call_guarded(e->fn, args, ctx, threw);
  } else {
    const auto deadline = env.now() + timeout;
    auto call_cancel = CancellationSource::linked_to(cancel);
    // `done` fires when the call completes, or when the caller cancels (it is linked).
    auto done = CancellationSource::linked_to(cancel);
    auto state = std::make_shared<CallState>();
    state->args = args;  // the callback may outlive this call if abandoned
    state->key = key;
    state->caller = options.caller;
    const bool submitted = runner.submit(
        [e, state, done, token = call_cancel.token(), attempt, deadline, env = &env]() mutable {
          if (token.cancelled()) {  // abandoned while it waited in the queue: do not start it
            done.cancel();
            return;
          }
          ToolContext ctx(*env, token, state->key, attempt, deadline, state->caller);
          bool threw_here = false;
          ToolResult out = call_guarded(e->fn, state->args, ctx, threw_here);
          {
            std::lock_guard lock(state->mutex);
            state->result = std::move(out);
            state->threw = threw_here;
            state->completed = true;
            state->completed_at = env->now();
          }
          done.cancel();
        });
    if (!submitted) {
      counts_as_failure = true;
      return make_result(ToolStatus::error,
                         "no runner thread could be started for tool '" + e->spec.name + "'",
                         /*transient=*/true);
    }
    env.wait_until(done.token(), deadline);
    bool completed_in_time = false;
    {
      std::lock_guard lock(state->mutex);
      if (state->completed && state->completed_at <= deadline) {
        completed_in_time = true;
        r = std::move(state->result);
        threw = state->threw;
      }
    }
    if (!completed_in_time) {
      call_cancel.cancel();  // ask the callback to stop; we no longer wait for it
      if (cancel.cancelled()) return make_result(ToolStatus::error, "cancelled by the caller");
      counts_as_failure = true;
      return make_result(
          ToolStatus::timeout,
          "tool '" + e->spec.name + "' timed out after " + std::to_string(timeout.count()) + " ms",
          /*transient=*/true);
    }
  }
  counts_as_failure =
      threw || (r.status == ToolStatus::error && r.transient) || r.status == ToolStatus::timeout;
  check_output(*e, r);
  return r;
}

}  // namespace rein
