// What a test or a benchmark scenario reads of its own process: threads now, and the peak
// resident set (Linux: /proc/self).
#pragma once

#include <dirent.h>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <string>
#include <thread>

namespace rein::testing {

inline std::size_t threads_now() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d))
      n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

inline double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

// The most threads the process had while it lived (not counting its own), sampled every 5 ms.
class PeakThreads {
 public:
  PeakThreads()
      : peak_(threads_now()), sampler_([this] {
          while (sampling_) {
            const std::size_t n = threads_now() - 1;  // not counting the sampler itself
            if (n > peak_) peak_ = n;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }) {}
  ~PeakThreads() { stop(); }
  PeakThreads(const PeakThreads&) = delete;
  PeakThreads& operator=(const PeakThreads&) = delete;
  // Stops sampling and returns the peak.
  std::size_t stop() {
    sampling_ = false;
    if (sampler_.joinable()) sampler_.join();
    return peak_;
  }

 private:
  std::atomic<bool> sampling_{true};
  std::atomic<std::size_t> peak_;
  std::thread sampler_;
};

}  // namespace rein::testing
