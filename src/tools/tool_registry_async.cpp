// ToolRegistry::invoke_async: the guards of invoke (tool_registry.hpp) without blocking a
// thread. Backoff and claims wait on timers; asynchronous tools park the task; synchronous
// ones run on the executor's blocking pool.
#include <string>

#include "core/host_call.hpp"
#include "core/log.hpp"
#include "exec/park.hpp"
#include "tools/registry_internals.hpp"

namespace rein {

using detail::make_result;
using nlohmann::json;

namespace {

// What the waiting call and the tool's AsyncToolCall share. The waiting side holds only this:
// the Completion lives with the AsyncToolCall alone, so a tool that drops its call drops the
// Completion too, and the call ends at once.
struct CallControl {
  explicit CallControl(CancellationSource c) : cancel(std::move(c)) {}
  CancellationSource cancel;  // fired on the deadline, or when the caller cancels
  std::atomic<bool> threw{false};
};

// What an asynchronous tool's attempt came to, however its wait ended. Plain code, kept out of
// the attempt's coroutine so that a call in flight holds none of it.
// `check_output` is the registry's check of a result against the tool's output schema.
ToolResult attempt_result(const detail::ToolEntry& e, detail::Parked<ToolResult>&& parked,
                          CallControl& control, bool& counts_as_failure,
                          void (*check_output)(const detail::ToolEntry&, ToolResult&)) {
  switch (parked.end) {
    case detail::ParkEnd::completed: {
      ToolResult r = std::move(*parked.value);
      counts_as_failure = control.threw || (r.status == ToolStatus::error && r.transient) ||
                          r.status == ToolStatus::timeout;
      check_output(e, r);
      return r;
    }
    case detail::ParkEnd::deadline:
      control.cancel.cancel();  // ask the tool to stop; its result no longer counts
      counts_as_failure = true;
      return make_result(ToolStatus::timeout,
                         "tool '" + e.spec.name + "' timed out after " +
                             std::to_string(e.spec.timeout.count()) + " ms",
                         /*transient=*/true);
    case detail::ParkEnd::cancelled:
      control.cancel.cancel();
      return make_result(ToolStatus::error, "cancelled by the caller");
  }
  return make_result(ToolStatus::error, "the call ended without a result");
}

}  // namespace

struct AsyncToolCall::State {
  State(json a, std::string k, Env& env, std::shared_ptr<CallControl> c, int attempt,
        Env::TimePoint deadline, std::shared_ptr<const CallerRun> caller)
      : args(std::move(a)),
        key(std::move(k)),
        control(std::move(c)),
        context(env, control->cancel.token(), key, attempt, deadline, std::move(caller)) {}
  json args;
  std::string key;
  std::shared_ptr<CallControl> control;
  ToolContext context;
  Completion<ToolResult> done;
};

const json& AsyncToolCall::args() const noexcept {
  return state_->args;
}
const ToolContext& AsyncToolCall::context() const noexcept {
  return state_->context;
}
bool AsyncToolCall::complete(ToolResult result) const {
  return state_->done.complete(std::move(result));
}

Task<ToolResult> ToolRegistry::invoke_async(std::string name, json args, InvokeOptions options,
                                            Executor& executor) {
  // Not a coroutine itself: the lookup and the argument check happen here, and the task
  // returned is the call's own, so a run waiting on a tool holds one frame fewer.
  Impl::Finish finish{*env_, nullptr};  // the clock starts before validation
  Impl::PreparedCall call = impl_->prepare(name, args, options);
  finish.entry = call.entry.get();
  if (call.early) return Impl::ready(finish(std::move(*call.early)));
  if (call.key.empty()) {
    return impl_->attempts_async(call.entry, std::move(args), {}, std::move(options), executor,
                                 finish);
  }
  return Impl::finished(finish, Impl::keyed_async(*this, std::move(call), std::move(args),
                                                  std::move(options), executor));
}

Task<ToolResult> ToolRegistry::Impl::ready(ToolResult r) {
  co_return r;
}

Task<ToolResult> ToolRegistry::Impl::finished(Finish finish, Task<ToolResult> work) {
  co_return finish(co_await std::move(work));
}

Task<ToolResult> ToolRegistry::Impl::keyed_async(ToolRegistry& self, PreparedCall call, json args,
                                                 InvokeOptions options, Executor& executor) {
  Impl& impl = *self.impl_;
  const Entry* e = call.entry.get();
  const std::string slot = e->spec.name + '\0' + call.key;
  std::shared_ptr<detail::Claim> claim;
  for (;;) {
    std::shared_ptr<detail::Claim> running;
    if ((claim = impl.try_claim(slot, running))) break;
    // Another call with this key is running: look again shortly, on a timer.
    for (;;) {
      {
        std::lock_guard lock(running->mutex);
        if (running->done) break;
      }
      if (!co_await executor.sleep_until(impl.env.now() + std::chrono::milliseconds(5),
                                         options.cancellation)) {
        co_return make_result(ToolStatus::error, "cancelled by the caller");
      }
    }
  }
  std::optional<ToolResult> replayed;
  if (impl.memory_ledger) {
    replayed = impl.replay(*e, call.key);
  } else {
    replayed = co_await executor.blocking([&] { return impl.replay(*e, call.key); });
  }
  if (replayed) {
    impl.release(slot, claim);
    co_return std::move(*replayed);
  }
  // (finished() stamps the result for the whole call.)
  ToolResult r = co_await impl.attempts_async(call.entry, std::move(args), call.key,
                                              std::move(options), executor, Finish{impl.env, e});
  r.idempotency_key = call.key;
  if (r.ok()) {
    r.tool_version = e->spec.version;
    if (impl.memory_ledger) {
      impl.remember(*e, call.key, r);
    } else {
      co_await executor.blocking([&] { impl.remember(*e, call.key, r); });
    }
  }
  impl.release(slot, claim);
  co_return r;
}

Task<ToolResult> ToolRegistry::Impl::blocking_once(std::shared_ptr<const Entry> e, const json& args,
                                                   std::string key, int attempt,
                                                   const InvokeOptions& options, Executor& executor,
                                                   bool& counts_as_failure) {
  // A synchronous tool blocks a thread of the blocking pool, never a run thread. `options`
  // lives in the frame of attempts_async, which awaits this one.
  co_return co_await executor.blocking(
      [&] { return run_once(e, args, key, attempt, options, counts_as_failure); });
}

Task<ToolResult> ToolRegistry::Impl::attempts_async(std::shared_ptr<const Entry> e, json args,
                                                    std::string key, InvokeOptions options,
                                                    Executor& executor, Finish finish) {
  const Attempts attempts(*e, env, key, options.cancellation);
  for (int attempt = 1;; ++attempt) {
    if (auto stop = attempts.before(attempt)) co_return finish(std::move(*stop));
    bool counts_as_failure = false;
    Task<ToolResult> once =
        e->fn ? blocking_once(e, args, key, attempt, options, executor, counts_as_failure)
              : once_async(e, args, key, attempt, options, executor, counts_as_failure);
    ToolResult r = co_await std::move(once);
    const auto wait = attempts.after(r, attempt, counts_as_failure);
    if (!wait) co_return finish(std::move(r));
    if (!co_await executor.sleep_until(env.now() + *wait, options.cancellation)) {
      co_return finish(Attempts::cancelled(attempt));
    }
  }
}

Task<ToolResult> ToolRegistry::Impl::once_async(std::shared_ptr<const Entry> e, const json& args,
                                                std::string key, int attempt,
                                                const InvokeOptions& options, Executor& executor,
                                                bool& counts_as_failure) {
  // An asynchronous tool's attempt (a synchronous one's is blocking_once). `options` lives in
  // the frame of attempts_async, which awaits this one.
  const CancellationToken cancel = options.cancellation;
  const auto timeout = e->spec.timeout;
  const auto deadline = timeout.count() > 0 ? env.now() + timeout : Env::TimePoint::max();
  auto control = std::make_shared<CallControl>(CancellationSource::linked_to(cancel));
  auto call = std::make_shared<AsyncToolCall::State>(args, key, env, control, attempt, deadline,
                                                     options.caller);
  auto late = [counter = late_completions, name = e->spec.name] {
    counter->fetch_add(1, std::memory_order_relaxed);
    detail::logger()->warn(
        "rein: tool '{}' completed after its call had ended; the result was ignored", name);
  };
  // Starting the tool takes the call out of this frame: after that, the tool's AsyncToolCall
  // copies are all that keep it (and its Completion) alive. The lambda refers to the frame
  // (small enough for std::function to hold without allocating), and takes what it needs
  // from it before the tool starts: a tool that completes at once may have this coroutine
  // resumed, and its frame destroyed, on another thread while its callback is still running.
  // It is named, not a temporary in the co_await operand: GCC 12 destroys such a lambda's
  // captures twice (see task.hpp).
  auto start = [&e, &call](Completion<ToolResult> done) {
    const std::shared_ptr<const Entry> entry = e;  // the callback must outlive the frame
    std::shared_ptr<AsyncToolCall::State> started_call = std::move(call);
    started_call->done = std::move(done);
    auto started = detail::call_host("tool", [&] { entry->async_fn(AsyncToolCall(started_call)); });
    if (!started) {
      started_call->control->threw = true;
      started_call->done.complete(make_result(ToolStatus::error, started.error().message()));
    }
  };
  auto parked = co_await detail::park<ToolResult>(
      executor, std::move(start),
      [] {
        return make_result(ToolStatus::error, "the tool dropped its call without completing it");
      },
      deadline, cancel, late);
  co_return attempt_result(*e, std::move(parked), *control, counts_as_failure, &check_output);
}

ToolResult ToolRegistry::Impl::invoke_async_here(ToolRegistry& self, std::string_view name,
                                                 const json& args, const InvokeOptions& options) {
  // The calling thread drives a private executor until the call ends.
  Executor local(ExecutorOptions{.host_driven = true, .env = self.env_, .blocking_inline = true});
  std::optional<ToolResult> out;
  start_detached(self.invoke_async(std::string(name), args, options, local),
                 [&out](ToolResult r) { out = std::move(r); });
  local.run_until([&out] { return out.has_value(); });
  return std::move(*out);
}

}  // namespace rein
