#include "store/commit_queue.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

namespace rein::detail {

namespace {

// A queued commit with how its writer learns the result: a commit() waits on `cv`; an
// asynchronous one is owned by the queue and told through `on_done`.
struct Writer : QueuedCommit {
  bool done = false;
  std::condition_variable cv;
  bool asynchronous = false;
  Completion<Status> on_done;
};

}  // namespace

struct CommitQueue::Impl {
  Impl(WriteGroup write, std::size_t max) : write_group(std::move(write)), max_group(max) {}

  // With `mutex` held by `lock` and a group's leader at the front: writes the group, tells its
  // waiting writers, wakes the next leader; returns the asynchronous writers of the group, to
  // be completed (and freed) after the lock is let go.
  std::vector<Writer*> lead(std::unique_lock<std::mutex>& lock);
  void hand_over();  // wakes the writer (or the writer thread) now at the front
  static void complete(const std::vector<Writer*>& finished);
  void async_writer_loop();

  WriteGroup write_group;
  std::size_t max_group;
  mutable std::mutex mutex;  // guards what follows
  std::deque<Writer*> writers;
  std::size_t async_queued = 0;      // asynchronous writers in writers
  bool stopping = false;             // the destructor runs: the writer thread drains and ends
  std::condition_variable async_cv;  // the writer thread: an asynchronous writer leads
  std::thread async_writer;
  Stats stats;
};

CommitQueue::CommitQueue(WriteGroup write_group, std::size_t max_group)
    : impl_(std::make_unique<Impl>(std::move(write_group), std::max<std::size_t>(max_group, 1))) {}

CommitQueue::~CommitQueue() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->async_cv.notify_one();
  if (impl_->async_writer.joinable()) impl_->async_writer.join();  // after it wrote the queue
}

Status CommitQueue::commit(const AgentState& state, std::span<const AuditEntry> entries) {
  Impl& m = *impl_;
  Writer w{{state, state.to_json_text(), entries}};
  std::unique_lock lock(m.mutex);
  m.writers.push_back(&w);
  w.cv.wait(lock, [&] { return w.done || m.writers.front() == &w; });
  if (w.done) return std::move(w.result);
  const auto finished = m.lead(lock);
  lock.unlock();
  Impl::complete(finished);
  return std::move(w.result);
}

void CommitQueue::commit_async(const AgentState& state, std::span<const AuditEntry> entries,
                               Completion<Status> done) {
  Impl& m = *impl_;
  std::unique_ptr<Writer> w(new Writer{{state, state.to_json_text(), entries}});
  w->asynchronous = true;
  w->on_done = std::move(done);
  std::unique_lock lock(m.mutex);
  if (m.stopping) {
    lock.unlock();
    w->on_done(Status(Error(ErrorCode::unavailable, "the store is closing")));
    return;
  }
  if (!m.async_writer.joinable()) {
    try {
      m.async_writer = std::thread([&m] { m.async_writer_loop(); });
    } catch (const std::system_error& e) {
      lock.unlock();
      w->on_done(Status(Error(ErrorCode::unavailable,
                              std::string("cannot start the store's writer thread: ") + e.what())));
      return;
    }
  }
  m.writers.push_back(w.release());
  ++m.async_queued;
  if (m.writers.size() == 1) m.async_cv.notify_one();  // it leads: nobody else is writing
}

CommitQueue::Stats CommitQueue::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

std::vector<Writer*> CommitQueue::Impl::lead(std::unique_lock<std::mutex>& lock) {
  // The front writer leads: it writes everyone queued now in one group, and the others wait
  // for it.
  const std::size_t n = std::min(writers.size(), max_group);
  std::vector<Writer*> group(writers.begin(), writers.begin() + static_cast<std::ptrdiff_t>(n));
  lock.unlock();
  write_group(std::vector<QueuedCommit*>(group.begin(), group.end()));
  lock.lock();
  writers.erase(writers.begin(), writers.begin() + static_cast<std::ptrdiff_t>(n));
  const auto written = static_cast<std::uint64_t>(
      std::count_if(group.begin(), group.end(), [](const Writer* w) { return w->result.ok(); }));
  stats.commits += written;
  if (written > 0) ++stats.groups;
  std::vector<Writer*> finished;
  for (Writer* w : group) {
    if (w->asynchronous) {
      finished.push_back(w);
      --async_queued;
    } else {
      w->done = true;
      w->cv.notify_one();  // under the lock: it cannot return (and go) before we let go
    }
  }
  hand_over();
  return finished;
}

void CommitQueue::Impl::hand_over() {
  if (writers.empty()) {
    if (stopping) async_cv.notify_one();
    return;
  }
  if (writers.front()->asynchronous) {
    async_cv.notify_one();
  } else {
    writers.front()->cv.notify_one();
  }
}

void CommitQueue::Impl::complete(const std::vector<Writer*>& finished) {
  for (Writer* w : finished) {
    std::unique_ptr<Writer> owned(w);
    Completion<Status> done = std::move(owned->on_done);
    Status result = std::move(owned->result);
    owned.reset();
    done(std::move(result));
  }
}

void CommitQueue::Impl::async_writer_loop() {
  std::unique_lock lock(mutex);
  for (;;) {
    async_cv.wait(lock, [&] {
      return (!writers.empty() && writers.front()->asynchronous) || (stopping && async_queued == 0);
    });
    if (writers.empty() || !writers.front()->asynchronous) return;  // stopping, all written
    const auto finished = lead(lock);
    lock.unlock();
    complete(finished);
    lock.lock();
  }
}

}  // namespace rein::detail
