// Response caches for LlmGateway: in memory, or in SQLite so answers survive a restart and are
// shared by processes on one machine.
//
// Keys are the gateway's canonical request hashes (LlmGateway::cache_key). A cache is best
// effort: a failed write or an unreadable entry is a miss, never an error of the call. Entries
// carry their expiry time (Unix milliseconds); expired entries are misses and are removed.
//
// Thread safety: both caches may be used from any number of threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "rein/error.hpp"
#include "rein/llm.hpp"

namespace rein {

class LlmCache {
 public:
  virtual ~LlmCache() = default;
  virtual std::optional<LlmResponse> get(const std::string& key, std::int64_t now_millis) = 0;
  virtual void put(const std::string& key, const LlmResponse& response,
                   std::int64_t expires_at_millis) = 0;
  virtual std::size_t size() = 0;  // entries held, expired ones included until evicted
};

// Holds at most max_entries; when full, the oldest entry goes (with the gateway's single TTL,
// also the first to expire).
class MemoryLlmCache final : public LlmCache {
 public:
  explicit MemoryLlmCache(std::size_t max_entries = 10'000);
  ~MemoryLlmCache() override;

  std::optional<LlmResponse> get(const std::string& key, std::int64_t now_millis) override;
  void put(const std::string& key, const LlmResponse& response,
           std::int64_t expires_at_millis) override;
  std::size_t size() override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A table llm_cache(key, response JSON, expires_at) in the given SQLite file (created when
// missing; WAL mode). The file may be the host's SqliteStore file.
class SqliteLlmCache final : public LlmCache {
 public:
  static Result<std::shared_ptr<SqliteLlmCache>> open(const std::filesystem::path& path);
  ~SqliteLlmCache() override;

  std::optional<LlmResponse> get(const std::string& key, std::int64_t now_millis) override;
  void put(const std::string& key, const LlmResponse& response,
           std::int64_t expires_at_millis) override;
  std::size_t size() override;
  // Deletes expired entries; returns how many.
  std::size_t evict_expired(std::int64_t now_millis);

 private:
  struct State;
  explicit SqliteLlmCache(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace rein
