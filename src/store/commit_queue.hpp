// Internal: the writer queue that durable stores share (group commit).
//
// Concurrent commits queue; the one at the front leads: it hands everyone queued then (up to
// max_group) to the store's write function in one go, and the others wait for it, as LevelDB's
// writer queue does. So many runs stepping at once share one transaction and one sync, and
// each commit still returns only once its own changes are durable. commit_async() queues the
// same way without blocking: a thread of the queue's own, started by the first such commit,
// leads the groups that begin with one and tells each through its completion (on that thread).
// The destructor writes what is still queued before it returns.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rein/agent_state.hpp"
#include "rein/audit.hpp"
#include "rein/error.hpp"
#include "rein/task.hpp"

namespace rein::detail {

// One commit as the store's write function sees it: the state (serialised before queueing, so
// concurrent writers do that in parallel) and the audit entries of the step. The function sets
// `result` of each.
struct QueuedCommit {
  const AgentState& state;
  std::string state_text;
  std::span<const AuditEntry> entries;
  Status result{};
};

class CommitQueue {
 public:
  // Writes a group (never empty, never concurrently with another group) and sets each result.
  using WriteGroup = std::function<void(const std::vector<QueuedCommit*>& group)>;

  explicit CommitQueue(WriteGroup write_group, std::size_t max_group = 256);
  ~CommitQueue();
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  Status commit(const AgentState& state, std::span<const AuditEntry> entries);
  // `done` is called once, on the queue's thread (or at once, with unavailable, when the queue
  // is closing or cannot start its thread). It must not block, nor call commit().
  void commit_async(const AgentState& state, std::span<const AuditEntry> entries,
                    Completion<Status> done);

  // Commits written (successfully) so far, and the groups that wrote them.
  struct Stats {
    std::uint64_t commits = 0;
    std::uint64_t groups = 0;
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rein::detail
