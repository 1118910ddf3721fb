#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>

#include "rein/llm_cache.hpp"

namespace rein {

struct MemoryLlmCache::State {
  struct Entry {
    LlmResponse response;
    std::int64_t expires_at = 0;
    std::list<std::string>::iterator order;
  };
  std::mutex mutex;
  std::size_t max_entries = 0;
  std::list<std::string> order;  // oldest first
  std::unordered_map<std::string, Entry> entries;

  void erase(std::unordered_map<std::string, Entry>::iterator it) {
    order.erase(it->second.order);
    entries.erase(it);
  }
};

MemoryLlmCache::MemoryLlmCache(std::size_t max_entries) : state_(std::make_unique<State>()) {
  state_->max_entries = std::max<std::size_t>(1, max_entries);
}

MemoryLlmCache::~MemoryLlmCache() = default;

std::optional<LlmResponse> MemoryLlmCache::get(const std::string& key, std::int64_t now_millis) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->entries.find(key);
  if (it == state_->entries.end()) return std::nullopt;
  if (it->second.expires_at <= now_millis) {
    state_->erase(it);
    return std::nullopt;
  }
  return it->second.response;
}

void MemoryLlmCache::put(const std::string& key, const LlmResponse& response,
                         std::int64_t expires_at_millis) {
  std::lock_guard lock(state_->mutex);
  auto& s = *state_;
  if (auto it = s.entries.find(key); it != s.entries.end()) s.erase(it);
  // With one TTL for all entries the oldest is also the first to expire.
  while (s.entries.size() >= s.max_entries)
    s.erase(s.entries.find(s.order.front()));
  s.order.push_back(key);
  s.entries.emplace(key, State::Entry{response, expires_at_millis, std::prev(s.order.end())});
}

std::size_t MemoryLlmCache::size() {
  std::lock_guard lock(state_->mutex);
  return state_->entries.size();
}

}  // namespace rein
