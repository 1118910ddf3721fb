// CurlLoop: one I/O thread driving every HTTP transfer of its owner through libcurl's multi
// interface, so a thousand requests in flight cost one thread and their sockets, not a
// thousand blocked threads.
//
// A Transfer is configured and finished on the I/O thread; its callbacks (libcurl's write and
// header functions, and whatever finished() calls, such as a caller's completion) run there
// too and must not block. Easy handles are pooled and reset between transfers; the multi
// handle's connection cache keeps connections alive and reuses them across transfers.
// Timers (retry backoff, Retry-After) run on the same thread.
//
// shutdown() stops the thread; transfers still in flight and timers not yet due are dropped
// (their owners' destructors run, which is how a pending completion learns it was
// abandoned). shutdown() may be called from the I/O thread itself (a completion that drops
// the last reference to the owner); the thread then ends on its own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <curl/curl.h>

namespace rein::detail {

// What every JSON POST of rein's sets on its easy handle.
struct PostOptions {
  const std::string* url = nullptr;
  std::string_view body{};  // must outlive the transfer
  curl_slist* headers = nullptr;
  std::chrono::milliseconds connect_timeout{10'000};
  bool verify_tls = true;
  const std::string* ca_file = nullptr;  // nullptr or "": the system's
  curl_write_callback on_body = nullptr;
  curl_write_callback on_header = nullptr;
  void* user = nullptr;          // given to both callbacks
  char* error_buffer = nullptr;  // CURL_ERROR_SIZE bytes
};
// The URL, the body and headers, no signals (safe in threaded hosts), HTTP(S) only, no
// redirects, the connect timeout, TLS checks and the callbacks.
void set_post_options(CURL* handle, const PostOptions& o);

class CurlLoop : public std::enable_shared_from_this<CurlLoop> {
 public:
  using Clock = std::chrono::steady_clock;

  class Transfer {
   public:
    virtual ~Transfer() = default;
    // Sets the transfer's options on a fresh (or reset) easy handle.
    virtual void prepare(CURL* handle) = 0;
    // The transfer ended with `code` (CURLE_OPERATION_TIMEDOUT also when nothing arrived for
    // idle_timeout). The handle goes back to the pool after this returns.
    virtual void finished(CURL* handle, CURLcode code, bool idle_timed_out) = 0;

    // Called from the transfer's write and header functions: it is alive.
    void touch() { last_activity_ = Clock::now(); }

   protected:
    // Nothing received for this long ends the transfer; zero: no limit.
    std::chrono::nanoseconds idle_timeout_{0};

   private:
    friend class CurlLoop;
    Clock::time_point last_activity_{};
  };

  // Keeps up to `max_idle_connections` connections open for reuse.
  explicit CurlLoop(std::size_t max_idle_connections) : max_idle_(max_idle_connections) {}
  ~CurlLoop();
  CurlLoop(const CurlLoop&) = delete;
  CurlLoop& operator=(const CurlLoop&) = delete;

  // Both thread-safe; the thread starts with the first call. After shutdown() they drop what
  // they are given.
  void start(std::shared_ptr<Transfer> transfer);
  void after(std::chrono::nanoseconds delay, std::function<void()> fn);

  bool on_io_thread() const { return std::this_thread::get_id() == thread_id_.load(); }
  void shutdown();

 private:
  struct Timer {
    Clock::time_point due;
    std::uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Timer& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };

  void ensure_running();  // mutex_ held
  void run();
  void add(std::shared_ptr<Transfer> transfer);
  void reap();
  void sweep_idle(Clock::time_point now);
  void end(CURL* handle, CURLcode code, bool idle_timed_out);
  CURL* acquire();

  const std::size_t max_idle_;
  std::mutex mutex_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<Transfer>> incoming_;
  std::vector<Timer> timers_;  // a min-heap on (due, seq)
  std::uint64_t timer_seq_ = 0;
  CURLM* multi_ = nullptr;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};

  // I/O thread only.
  std::unordered_map<CURL*, std::shared_ptr<Transfer>> in_flight_;
  std::vector<CURL*> idle_handles_;
  Clock::time_point next_sweep_{};
};

}  // namespace rein::detail
