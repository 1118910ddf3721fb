#include "rein/cancellation.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace rein {
namespace detail {

struct CancelState {
  std::atomic<bool> cancelled{false};
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::weak_ptr<CancelState>> children;  // guarded by mutex

  void cancel() noexcept {
    std::vector<std::weak_ptr<CancelState>> to_cancel;
    {
      std::lock_guard lock(mutex);
      if (cancelled.exchange(true)) return;
      to_cancel.swap(children);
    }
    cv.notify_all();
    for (auto& weak : to_cancel) {
      if (auto child = weak.lock()) child->cancel();
    }
  }
};

}  // namespace detail

bool CancellationToken::cancelled() const noexcept {
  return state_ != nullptr && state_->cancelled.load(std::memory_order_acquire);
}

bool CancellationToken::wait_for(std::chrono::nanoseconds duration) const {
  if (state_ == nullptr) {
    // Nothing can cancel us: a plain sleep that cannot be interrupted.
    std::mutex m;
    std::condition_variable cv;
    std::unique_lock lock(m);
    cv.wait_for(lock, duration, [] { return false; });
    return false;
  }
  std::unique_lock lock(state_->mutex);
  return state_->cv.wait_for(lock, duration, [this] { return state_->cancelled.load(); });
}

CancellationSource::CancellationSource() : state_(std::make_shared<detail::CancelState>()) {}

CancellationSource CancellationSource::linked_to(const CancellationToken& parent) {
  CancellationSource child;
  if (parent.state_ == nullptr) return child;
  bool parent_cancelled = false;
  {
    std::lock_guard lock(parent.state_->mutex);
    parent_cancelled = parent.state_->cancelled.load();
    if (!parent_cancelled) {
      auto& kids = parent.state_->children;
      // Drop children that are gone so a long-lived parent does not grow without bound.
      std::erase_if(kids, [](const std::weak_ptr<detail::CancelState>& w) { return w.expired(); });
      kids.push_back(child.state_);
    }
  }
  if (parent_cancelled) child.cancel();
  return child;
}

void CancellationSource::cancel() noexcept { state_->cancel(); }

bool CancellationSource::cancelled() const noexcept { return state_->cancelled.load(); }

}  // namespace rein
