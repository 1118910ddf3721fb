#include "rein/run_worker.hpp"

#include <condition_variable>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "core/host_call.hpp"
#include "core/log.hpp"
#include "rein/runtime.hpp"

namespace rein {

struct RunWorker::Impl : std::enable_shared_from_this<Impl> {
  Impl(Runtime& r, std::shared_ptr<RunLeases> l, RunWorkerOptions o)
      : runtime(r), leases(std::move(l)), options(std::move(o)) {}

  void loop();
  void heartbeat();
  void claim_more();
  void stopped(const std::string& run_id, const Result<AgentState>& result);

  Runtime& runtime;
  std::shared_ptr<RunLeases> leases;
  RunWorkerOptions options;
  std::thread thread;
  mutable std::mutex mutex;  // guards what follows
  std::condition_variable wake;
  bool draining = false;  // stop() was called: claim no more
  bool stopping = false;  // the loop ends
  bool room = false;      // a run stopped while the worker was full: claim again at once
  bool finished = false;  // stop() returned
  std::set<std::string> driving;
  Stats stats;
};

Result<std::unique_ptr<RunWorker>> RunWorker::start(Runtime& runtime,
                                                    std::shared_ptr<RunLeases> leases,
                                                    RunWorkerOptions options) {
  if (!leases) return Error(ErrorCode::invalid_argument, "RunWorker needs the store's leases");
  if (dynamic_cast<RunLeases*>(&runtime.store()) != leases.get()) {
    return Error(ErrorCode::invalid_argument,
                 "RunWorker: the runtime's store must be the store whose leases it takes");
  }
  if (options.max_runs == 0) {
    return Error(ErrorCode::invalid_argument, "RunWorkerOptions::max_runs must be positive");
  }
  if (options.heartbeat_interval.count() <= 0) {
    options.heartbeat_interval =
        std::max(leases->lease_duration() / 3, std::chrono::milliseconds(1));
  }
  if (options.heartbeat_interval >= leases->lease_duration()) {
    return Error(ErrorCode::invalid_argument,
                 "RunWorkerOptions::heartbeat_interval must be shorter than the lease");
  }
  auto impl = std::make_shared<Impl>(runtime, std::move(leases), std::move(options));
  try {
    impl->thread = std::thread([impl = impl.get()] { impl->loop(); });
  } catch (const std::system_error& e) {
    return Error(ErrorCode::unavailable,
                 std::string("cannot start the worker thread: ") + e.what());
  }
  return std::unique_ptr<RunWorker>(new RunWorker(std::move(impl)));
}

RunWorker::RunWorker(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

RunWorker::~RunWorker() {
  stop();
}

void RunWorker::stop(std::chrono::milliseconds grace) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mutex);
  if (!m.thread.joinable()) return;
  m.draining = true;
  // Heartbeats go on meanwhile: the runs being driven keep their leases.
  m.wake.wait_for(lock, grace, [&] { return m.driving.empty(); });
  const std::set<std::string> left = m.driving;
  m.stopping = true;
  lock.unlock();
  m.wake.notify_all();
  m.thread.join();
  // Whatever is still driven here is handed over: another worker claims it now, and this
  // one's further commits to it are refused by the fence.
  for (const auto& id : left)
    (void)m.leases->release(id);
  std::lock_guard done(m.mutex);
  m.finished = true;  // the runtime may go now: later stops must not touch it
}

RunWorker::Stats RunWorker::stats() const {
  std::lock_guard lock(impl_->mutex);
  Stats out = impl_->stats;
  out.driving = impl_->driving.size();
  return out;
}

void RunWorker::Impl::loop() {
  auto next_heartbeat = std::chrono::steady_clock::now() + options.heartbeat_interval;
  std::unique_lock lock(mutex);
  while (!stopping) {
    const bool claim = !draining && driving.size() < options.max_runs;
    lock.unlock();
    if (std::chrono::steady_clock::now() >= next_heartbeat) {
      heartbeat();
      next_heartbeat = std::chrono::steady_clock::now() + options.heartbeat_interval;
    }
    if (claim) claim_more();
    lock.lock();
    const auto until =
        std::min(next_heartbeat, std::chrono::steady_clock::now() + options.poll_interval);
    // Woken early when a run stops and makes room, or by stop().
    wake.wait_until(lock, until, [&] { return stopping || (room && !draining); });
    room = false;
  }
}

void RunWorker::Impl::heartbeat() {
  auto held = leases->renew();
  std::lock_guard lock(mutex);
  if (!held) {
    ++stats.store_errors;
    detail::logger()->warn("rein: RunWorker could not renew its leases: {}",
                           held.error().message());
    return;
  }
  // A run driven here whose lease is gone was taken over (this worker was presumed dead): its
  // next commit here is refused by the fence, which stops it.
  const std::set<std::string> renewed(held->begin(), held->end());
  for (const auto& id : driving) {
    if (renewed.count(id) == 0) {
      detail::logger()->debug(
          "rein: RunWorker no longer holds a lease on run '{}' (ended, or taken over)", id);
    }
  }
}

void RunWorker::Impl::claim_more() {
  std::size_t room_left;
  {
    std::lock_guard lock(mutex);
    room_left = options.max_runs - driving.size();
  }
  auto claimed = leases->claim(room_left);
  if (!claimed) {
    std::lock_guard lock(mutex);
    ++stats.store_errors;
    detail::logger()->warn("rein: RunWorker could not claim runs: {}", claimed.error().message());
    return;
  }
  {
    std::lock_guard lock(mutex);
    stats.claimed += claimed->runs.size();
    if (claimed->left_for_other_versions != stats.left_for_other_versions) {
      for (const auto& [version, n] : claimed->left_for_other_versions) {
        detail::logger()->info(
            "rein: RunWorker leaves {} run(s) of agent version '{}' to workers that have it", n,
            version);
      }
    }
    stats.left_for_other_versions = claimed->left_for_other_versions;
  }
  auto self = shared_from_this();
  for (const auto& id : claimed->runs) {
    {
      std::lock_guard lock(mutex);
      driving.insert(id);  // before resume: its callback may come at once
    }
    // What this runtime held of the run may be older than the store's (another process
    // stepped or decided it since): start from the store.
    Status s = runtime.unload(id);
    if (s) {
      s = runtime.resume_async(
          id, [self, id](const Result<AgentState>& stopped) { self->stopped(id, stopped); });
    }
    if (!s) {
      detail::logger()->warn("rein: RunWorker could not drive run '{}': {}", id,
                             s.error().message());
      (void)leases->release(id);
      std::lock_guard lock(mutex);
      driving.erase(id);
      ++stats.store_errors;
    }
  }
}

void RunWorker::Impl::stopped(const std::string& run_id, const Result<AgentState>& result) {
  {
    std::lock_guard lock(mutex);
    if (finished) return;  // handed over by stop(); the runtime may be gone
  }
  const bool suspended = result && is_suspended(result->status);
  if (!result) {
    // The store refused or failed: give the run back for a worker (maybe this one) to resume
    // from the store.
    (void)leases->release(run_id);
  }
  if (!result || suspended) {
    // Its next move may be decided in another process: let go of the copy here. (A run that
    // ended is let go by the runtime itself.)
    (void)runtime.unload(run_id);
  }
  {
    std::lock_guard lock(mutex);
    if (driving.size() == options.max_runs) room = true;
    driving.erase(run_id);
    if (!result && result.error().code() == ErrorCode::aborted) {
      ++stats.lost;
    } else {
      ++stats.stopped;
    }
  }
  wake.notify_all();
  if (options.on_stop) {
    (void)detail::call_host("RunWorker's on_stop", [&] { options.on_stop(run_id, result); });
  }
}

}  // namespace rein
