// rein::RunWorker: one process's share of runs kept in a store that many processes share.
//
// Several host processes, on one machine or many, point their Runtimes at one shared store
// (PostgresStore). Each runs a RunWorker, which:
//   1. claims runs that are ready to step and that nobody holds, up to max_runs at once
//      (a lease with an expiry, taken with SKIP LOCKED so workers never wait on each other);
//   2. drives each on the Runtime (run_async's event-driven loop: a waiting run holds no
//      thread);
//   3. keeps its leases alive with heartbeats while it drives them, and lets go of each run
//      when it ends or suspends for a person;
//   4. stops driving a run whose lease it lost (it was presumed dead and the run taken over).
// A worker that dies simply stops renewing: when its leases expire, other workers claim its
// runs and resume them from their last commit, exactly as after a crash (the outcome journal
// and the idempotency ledger keep effects exactly-once). Every claim advances the run's fence,
// and the store refuses any commit made under an older one, so a worker that was presumed
// dead but was only slow cannot overwrite the new owner's progress.
//
// Runs carry the agent version of the store that created them; a worker claims only runs of
// its own version and reports the others it leaves (ClaimedRuns::left_for_other_versions).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rein/agent_state.hpp"
#include "rein/error.hpp"

namespace rein {

class Runtime;

struct ClaimedRuns {
  std::vector<std::string> runs;  // leased to this worker now
  // Runs ready to step that this worker left because their agent version is not its own:
  // version -> how many.
  std::map<std::string, std::size_t> left_for_other_versions;
};

// What a store offers for runs shared between processes. Leases are kept by the database's
// clock, so the workers' clocks need not agree.
class RunLeases {
 public:
  virtual ~RunLeases() = default;
  // Leases up to `max_runs` runs that are ready to step (running, or suspended with their
  // approvals decided or their question answered) and that no live lease holds.
  virtual Result<ClaimedRuns> claim(std::size_t max_runs) = 0;
  // Extends every lease this worker holds; returns the runs it still holds.
  virtual Result<std::vector<std::string>> renew() = 0;
  // Gives up the lease on a run (nothing when this worker does not hold it).
  virtual Status release(std::string_view run_id) = 0;
  // How long a lease lasts without renewal.
  virtual std::chrono::milliseconds lease_duration() const = 0;
};

struct RunWorkerOptions {
  std::size_t max_runs = 256;                       // runs driven at once
  std::chrono::milliseconds poll_interval{200};     // between claims when idle
  std::chrono::milliseconds heartbeat_interval{0};  // 0: a third of the lease
  // Told each time a driven run stops (as RunCallback, with its id), on an executor thread.
  std::function<void(const std::string& run_id, const Result<AgentState>& stopped)> on_stop{};
};

class RunWorker {
 public:
  // Starts claiming at once, on a thread of its own. `runtime` must use `leases` as its store
  // (the same object: the store remembers which commits this process may make) and outlive
  // the worker.
  static Result<std::unique_ptr<RunWorker>> start(Runtime& runtime,
                                                  std::shared_ptr<RunLeases> leases,
                                                  RunWorkerOptions options = {});
  // stop().
  ~RunWorker();
  RunWorker(const RunWorker&) = delete;
  RunWorker& operator=(const RunWorker&) = delete;

  // Stops claiming, cancels nothing: waits until the runs it drives stop or suspend (or, after
  // `grace`, gives up their leases so other workers take them over), then returns. After it
  // returns, on_stop is not called again and the runtime may be destroyed.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(30));

  struct Stats {
    std::size_t driving = 0;         // runs driven now
    std::uint64_t claimed = 0;       // claims made
    std::uint64_t stopped = 0;       // runs that ended or suspended here
    std::uint64_t lost = 0;          // leases lost (taken over, or refused at commit)
    std::uint64_t store_errors = 0;  // claims and renewals that failed
    std::map<std::string, std::size_t> left_for_other_versions;  // at the last claim
  };
  Stats stats() const;

 private:
  struct Impl;
  explicit RunWorker(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace rein
