// What a test or a benchmark scenario reads of its own process: threads now, and the peak
// resident set (Linux: /proc/self).
#pragma once

#include <dirent.h>
#include <cstddef>
#include <fstream>
#include <string>

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

}  // namespace rein::testing
