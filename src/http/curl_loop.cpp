#include "http/curl_loop.hpp"

#include <algorithm>
#include <system_error>

#include "core/log.hpp"

namespace rein::detail {

namespace {

// How often transfers are checked for idleness, and the longest the thread sleeps while any
// are in flight (libcurl only wakes it for sockets and its own timers).
constexpr auto kSweepEvery = std::chrono::milliseconds(250);

// Owners' callbacks (a caller's completion among them) must not end the I/O thread.
template <typename Fn>
void guarded(const char* what, Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    detail::logger()->error("rein: HTTP I/O thread: {} threw: {}", what, e.what());
  } catch (...) {
    detail::logger()->error("rein: HTTP I/O thread: {} threw a non-standard exception", what);
  }
}

}  // namespace

CurlLoop::~CurlLoop() {
  shutdown();
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
}

void CurlLoop::ensure_running() {
  if (thread_.joinable() || stopping_) return;
  multi_ = curl_multi_init();
  if (multi_ == nullptr) return;
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(max_idle_));
  std::shared_ptr<CurlLoop> self = shared_from_this();  // the thread keeps the loop alive
  try {
    thread_ = std::thread([self] { self->run(); });
    thread_id_ = thread_.get_id();
  } catch (const std::system_error& e) {
    detail::logger()->error("rein: cannot start the HTTP I/O thread: {}", e.what());
    curl_multi_cleanup(multi_);
    multi_ = nullptr;
  }
}

void CurlLoop::start(std::shared_ptr<Transfer> transfer) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;  // dropped: its owner learns it was abandoned
  ensure_running();
  if (multi_ == nullptr) return;
  incoming_.push_back(std::move(transfer));
  curl_multi_wakeup(multi_);
}

void CurlLoop::after(std::chrono::nanoseconds delay, std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  ensure_running();
  if (multi_ == nullptr) return;
  timers_.push_back({Clock::now() + delay, timer_seq_++, std::move(fn)});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
  curl_multi_wakeup(multi_);
}

void CurlLoop::shutdown() {
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    if (multi_ != nullptr) curl_multi_wakeup(multi_);
    thread = std::move(thread_);
  }
  if (!thread.joinable()) return;
  if (thread.get_id() == std::this_thread::get_id())
    thread.detach();  // called from a completion: the loop ends after it returns
  else
    thread.join();
}

CURL* CurlLoop::acquire() {
  if (idle_handles_.empty()) return curl_easy_init();
  CURL* h = idle_handles_.back();
  idle_handles_.pop_back();
  curl_easy_reset(h);  // options cleared; the multi handle keeps the connections
  return h;
}

void CurlLoop::add(std::shared_ptr<Transfer> transfer) {
  CURL* h = acquire();
  if (h == nullptr) {
    guarded("a transfer's end", [&] { transfer->finished(nullptr, CURLE_FAILED_INIT, false); });
    return;
  }
  transfer->prepare(h);
  transfer->last_activity_ = Clock::now();
  if (CURLMcode m = curl_multi_add_handle(multi_, h); m != CURLM_OK) {
    detail::logger()->warn("rein: curl_multi_add_handle failed: {}", curl_multi_strerror(m));
    guarded("a transfer's end", [&] { transfer->finished(h, CURLE_FAILED_INIT, false); });
    idle_handles_.push_back(h);
    return;
  }
  in_flight_.emplace(h, std::move(transfer));
}

void CurlLoop::end(CURL* handle, CURLcode code, bool idle_timed_out) {
  auto it = in_flight_.find(handle);
  if (it == in_flight_.end()) return;
  std::shared_ptr<Transfer> transfer = std::move(it->second);
  in_flight_.erase(it);
  curl_multi_remove_handle(multi_, handle);
  guarded("a transfer's end", [&] { transfer->finished(handle, code, idle_timed_out); });
  idle_handles_.push_back(handle);
}

void set_post_options(CURL* h, const PostOptions& o) {
  curl_easy_setopt(h, CURLOPT_URL, o.url->c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, o.body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(o.body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, o.headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(h, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, o.verify_tls ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, o.verify_tls ? 2L : 0L);
  if (o.ca_file != nullptr && !o.ca_file->empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, o.ca_file->c_str());
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, o.on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, o.user);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, o.on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, o.user);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, o.error_buffer);
}

void CurlLoop::reap() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg == CURLMSG_DONE) end(msg->easy_handle, msg->data.result, false);
  }
}

void CurlLoop::sweep_idle(Clock::time_point now) {
  std::vector<CURL*> stalled;
  for (const auto& [handle, transfer] : in_flight_) {
    if (transfer->idle_timeout_.count() > 0 &&
        now - transfer->last_activity_ > transfer->idle_timeout_)
      stalled.push_back(handle);
  }
  for (CURL* h : stalled)
    end(h, CURLE_OPERATION_TIMEDOUT, true);
}

void CurlLoop::run() {
  std::vector<std::shared_ptr<Transfer>> arrived;
  std::vector<std::function<void()>> due;
  for (;;) {
    Clock::time_point next_timer = Clock::time_point::max();
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      arrived.swap(incoming_);
      const auto now = Clock::now();
      while (!timers_.empty() && timers_.front().due <= now) {
        std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
        due.push_back(std::move(timers_.back().fn));
        timers_.pop_back();
      }
      if (!timers_.empty()) next_timer = timers_.front().due;
    }
    for (auto& t : arrived)
      add(std::move(t));
    arrived.clear();
    for (auto& fn : due)
      guarded("a timer", fn);
    due.clear();

    int running = 0;
    curl_multi_perform(multi_, &running);
    reap();
    const auto now = Clock::now();
    if (!in_flight_.empty() && now >= next_sweep_) {
      sweep_idle(now);
      next_sweep_ = now + kSweepEvery;
    }

    long curl_wait = -1;
    curl_multi_timeout(multi_, &curl_wait);
    auto wait = std::chrono::milliseconds(curl_wait < 0 ? 60'000 : curl_wait);
    if (!in_flight_.empty()) wait = std::min<std::chrono::milliseconds>(wait, kSweepEvery);
    if (next_timer != Clock::time_point::max()) {
      const auto until = std::chrono::ceil<std::chrono::milliseconds>(next_timer - now);
      wait = std::min(wait, std::max(until, std::chrono::milliseconds(0)));
    }
    curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait.count()), nullptr);
  }

  // Stopping: what is in flight or waiting is dropped; its owners' destructors tell whoever
  // waits on it.
  for (auto& [handle, transfer] : in_flight_) {
    curl_multi_remove_handle(multi_, handle);
    curl_easy_cleanup(handle);
  }
  in_flight_.clear();
  for (CURL* h : idle_handles_)
    curl_easy_cleanup(h);
  idle_handles_.clear();
  std::vector<std::shared_ptr<Transfer>> never_started;
  std::vector<Timer> never_due;
  {
    std::lock_guard lock(mutex_);
    never_started.swap(incoming_);
    never_due.swap(timers_);
  }
}

}  // namespace rein::detail
