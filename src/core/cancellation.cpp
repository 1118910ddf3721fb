#include "rein/cancellation.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace rein {
namespace detail {

struct CancelState {
  std::atomic<bool> cancelled{false};
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::weak_ptr<CancelState>> children;                        // guarded by mutex
  std::vector<std::pair<std::uint64_t, std::function<void()>>> callbacks;  // guarded by mutex
  std::uint64_t next_callback = 1;                                         // guarded by mutex

  void cancel() noexcept {
    std::vector<std::weak_ptr<CancelState>> to_cancel;
    std::vector<std::pair<std::uint64_t, std::function<void()>>> to_call;
    {
      std::lock_guard lock(mutex);
      if (cancelled.exchange(true)) return;
      to_cancel.swap(children);
      to_call.swap(callbacks);
    }
    cv.notify_all();
    for (auto& [_, fn] : to_call)
      fn();
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

CancellationRegistration CancellationToken::on_cancel(std::function<void()> fn) const {
  if (state_ == nullptr) return {};
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->cancelled.load()) {
      const std::uint64_t id = state_->next_callback++;
      state_->callbacks.emplace_back(id, std::move(fn));
      return CancellationRegistration(state_, id);
    }
  }
  fn();  // already cancelled
  return {};
}

CancellationRegistration::CancellationRegistration(CancellationRegistration&& other) noexcept
    : state_(std::move(other.state_)), id_(std::exchange(other.id_, 0)) {}

CancellationRegistration& CancellationRegistration::operator=(
    CancellationRegistration&& other) noexcept {
  if (this != &other) {
    reset();
    state_ = std::move(other.state_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

CancellationRegistration::~CancellationRegistration() {
  reset();
}

void CancellationRegistration::reset() noexcept {
  if (id_ == 0) return;
  if (auto state = state_.lock()) {
    std::function<void()> removed;  // destroyed after the lock: it may own other tokens
    std::lock_guard lock(state->mutex);
    auto& cbs = state->callbacks;
    auto it =
        std::find_if(cbs.begin(), cbs.end(), [this](const auto& c) { return c.first == id_; });
    if (it != cbs.end()) {
      removed = std::move(it->second);
      cbs.erase(it);
    }
  }
  state_.reset();
  id_ = 0;
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

void CancellationSource::cancel() noexcept {
  state_->cancel();
}

bool CancellationSource::cancelled() const noexcept {
  return state_->cancelled.load();
}

}  // namespace rein
