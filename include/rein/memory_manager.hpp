// rein::MemoryManager: rein's Memory (memory.hpp), in SQLite, and what the agent learned about
// which actions work.
//
// Three kinds of items, as the memory chapter of the design describes them:
//   episodic    run summaries and their outcomes;
//   semantic    facts and documents (remember_document() splits long text into chunks);
//   procedural  playbooks, templates, few-shot examples.
// Each item lives in a namespace ("app", "principal:ana", "run:r-12", ... any string) and
// carries metadata, a source, a confidence and an optional expiry. Storing the same content
// again in the same namespace and kind is deduplicated by its SHA-256: the existing item is
// returned (its metadata, confidence and expiry refreshed).
//
// Recall ranks candidates from two searches: FTS5 keyword search (BM25) and, when the host
// gives an embedding callback, exact cosine similarity over float32 vectors. The hybrid score
// is a weighted sum of keyword score and similarity (each normalised to 0..1 within the
// candidates), recency (halving every recency_half_life) and confidence. The best are packed
// greedily into the token budget: an item that does not fit is skipped and smaller ones after
// it are still tried. Each recalled item says where it came from and why it was picked.
//
// Outcome learning (seed 002): record_outcome() stores how effective an action was (0..1);
// action_stats() reports, per action kind and parameter signature, the mean effectiveness
// with its sample count and a 95% confidence interval (Student's t).
//
// Query text is never SQL or FTS5 syntax: it is split into words, each quoted. Expired items
// are never recalled; purge_expired() deletes them, and max_items_per_namespace (retention)
// deletes the oldest items of a namespace beyond the limit.
//
// Stored data that cannot be read (a corrupt vector at open, corrupt metadata at recall) is a
// data_loss error naming the item; nothing is silently skipped.
//
// Thread safety: every member may be called from any number of threads at once. Database and
// vector-index work is serialised under one lock; the embedding callback runs outside it, so it
// must itself be safe to call concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/env.hpp"
#include "rein/error.hpp"
#include "rein/memory.hpp"

namespace rein {

struct MemoryOptions {
  Env* env = nullptr;  // clock for recency and expiry; nullptr: Env::system()
  EmbedFn embed{};     // nullptr: keyword recall only
  std::optional<std::chrono::milliseconds> default_ttl{};  // for items that set none
  std::size_t max_items_per_namespace = 0;                 // retention; 0: unlimited
  std::size_t chunk_chars = 1200;                          // remember_document chunk size
  std::size_t chunk_overlap = 150;
};

class MemoryManager final : public Memory {
 public:
  // Opens (creating when missing) the memory tables in `path`; ":memory:" for a private
  // in-memory database. A file that is not a usable database is data_loss.
  static Result<std::shared_ptr<MemoryManager>> open(const std::filesystem::path& path,
                                                     MemoryOptions options = {});
  ~MemoryManager();
  MemoryManager(const MemoryManager&) = delete;
  MemoryManager& operator=(const MemoryManager&) = delete;

  // Stores one item (deduplicated); returns its id. invalid_argument for empty content, a
  // confidence outside 0..1, or an embedding of the wrong dimension.
  Result<std::int64_t> remember(const MemoryRecord& record) override;
  // Many items in one transaction (all or none), ids in order; errors name the record.
  Result<std::vector<std::int64_t>> remember_all(const std::vector<MemoryRecord>& records);
  // Splits `text` into overlapping chunks (at paragraph, sentence or word boundaries), each a
  // semantic item with metadata {"chunk": i, "chunks": n} added; returns their ids.
  Result<std::vector<std::int64_t>> remember_document(MemoryRecord record);

  Result<MemoryItem> get(std::int64_t id) override;
  Result<Recall> recall(const RecallQuery& query) override;

  Result<std::size_t> forget(std::int64_t id) override;
  Result<std::size_t> forget_namespace(std::string_view ns);
  Result<std::size_t> purge_expired();
  Result<std::size_t> count(std::string_view ns = {});

  Status record_outcome(const ActionOutcome& outcome) override;
  // Every signature of `action_kind` (all kinds when empty), best mean first.
  Result<std::vector<ActionStats>> action_stats(std::string_view action_kind = {},
                                                std::string_view ns = {}) override;

 private:
  struct Impl;
  explicit MemoryManager(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rein
