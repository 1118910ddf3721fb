// rein::MemoryManager: long-term memory in SQLite, recalled within a token budget, and what the
// agent learned about which actions work.
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
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/env.hpp"
#include "rein/error.hpp"

namespace rein {

enum class MemoryKind { episodic, semantic, procedural };
std::string_view to_string(MemoryKind kind) noexcept;
std::optional<MemoryKind> memory_kind_from_string(std::string_view name) noexcept;

// Text to a vector (any fixed dimension); called on insert and on recall.
using EmbedFn = std::function<Result<std::vector<float>>(std::string_view text)>;

struct MemoryOptions {
  Env* env = nullptr;  // clock for recency and expiry; nullptr: Env::system()
  EmbedFn embed;       // nullptr: keyword recall only
  std::optional<std::chrono::milliseconds> default_ttl;  // for items that set none
  std::size_t max_items_per_namespace = 0;               // retention; 0: unlimited
  std::size_t chunk_chars = 1200;                        // remember_document chunk size
  std::size_t chunk_overlap = 150;
};

struct MemoryRecord {
  MemoryKind kind = MemoryKind::semantic;
  std::string ns = "default";
  std::string content;
  nlohmann::json metadata = nlohmann::json::object();
  std::string source;                            // where it came from (a tool, a document, a run)
  double confidence = 1.0;                       // 0..1
  std::optional<std::chrono::milliseconds> ttl;  // nullopt: MemoryOptions::default_ttl
};

struct MemoryItem {
  std::int64_t id = 0;
  MemoryKind kind = MemoryKind::semantic;
  std::string ns;
  std::string content;
  nlohmann::json metadata;
  std::string source;
  double confidence = 1.0;
  std::int64_t created_millis = 0;
  std::optional<std::int64_t> expires_millis;
  std::string content_hash;  // SHA-256 of the content
};

struct RankWeights {
  double keyword = 0.45;
  double similarity = 0.35;
  double recency = 0.10;
  double confidence = 0.10;
};

struct RecallQuery {
  std::string text;
  std::vector<std::string> namespaces;  // empty: every namespace
  std::vector<MemoryKind> kinds;        // empty: every kind
  std::size_t candidates = 50;          // from each search (at most 1000)
  std::size_t top_k = 10;               // at most this many recalled
  std::int64_t budget_tokens = 2000;    // what the recalled items may take together
  RankWeights weights;
  std::chrono::milliseconds recency_half_life = std::chrono::hours(24 * 7);
};

struct RecalledItem {
  MemoryItem item;
  double score = 0;       // the hybrid score
  double keyword = 0;     // 0..1 (BM25, normalised within the candidates)
  double similarity = 0;  // cosine, clamped to 0..1
  double recency = 0;     // 0..1
  std::int64_t tokens = 0;
  std::string why;  // e.g. "keyword 0.82, similarity 0.61, 3 d old, confidence 0.90"
};

struct Recall {
  std::vector<RecalledItem> items;  // best first
  std::int64_t tokens = 0;          // used of the budget
  std::size_t skipped = 0;          // ranked high enough but did not fit the budget
};

// Greedy packing, exposed for hosts with their own ranking: takes items in order while they
// fit (skipping those that do not), up to top_k.
Recall pack_into_budget(std::vector<RecalledItem> ranked, std::int64_t budget_tokens,
                        std::size_t top_k);

struct ActionOutcome {
  std::string action_kind;     // e.g. "send_alert"
  nlohmann::json parameters;   // grouped by `signature`
  std::string signature;       // "" → the canonical JSON of `parameters`
  double effectiveness = 0.0;  // 0..1
  std::string ns = "default";
};

struct ActionStats {
  std::string action_kind;
  std::string signature;
  std::int64_t samples = 0;
  double mean = 0.0;
  double ci95_low = 0.0,
         ci95_high = 0.0;  // mean ± t(0.975, n−1)·s/√n, clamped to 0..1; n = 1: 0..1

  nlohmann::json to_json() const;
};

class MemoryManager {
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
  Result<std::int64_t> remember(const MemoryRecord& record);
  // Many items in one transaction (all or none), ids in order; errors name the record.
  Result<std::vector<std::int64_t>> remember_all(const std::vector<MemoryRecord>& records);
  // Splits `text` into overlapping chunks (at paragraph, sentence or word boundaries), each a
  // semantic item with metadata {"chunk": i, "chunks": n} added; returns their ids.
  Result<std::vector<std::int64_t>> remember_document(MemoryRecord record);

  Result<std::optional<MemoryItem>> get(std::int64_t id);
  Result<Recall> recall(const RecallQuery& query);

  Result<std::size_t> forget(std::int64_t id);
  Result<std::size_t> forget_namespace(std::string_view ns);
  Result<std::size_t> purge_expired();
  Result<std::size_t> count(std::string_view ns = {});

  Status record_outcome(const ActionOutcome& outcome);
  // Every signature of `action_kind` (all kinds when empty), best mean first.
  Result<std::vector<ActionStats>> action_stats(std::string_view action_kind = {},
                                                std::string_view ns = {});

 private:
  struct Impl;
  explicit MemoryManager(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rein
