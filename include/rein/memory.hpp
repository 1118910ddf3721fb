// rein::Memory: long-term memory as the runtime and planners see it, and the values it deals in.
//
// Three kinds of items, as the memory chapter of the design describes them:
//   episodic    run summaries and their outcomes;
//   semantic    facts and documents;
//   procedural  playbooks, templates, few-shot examples.
// Each item lives in a namespace ("app", "principal:ana", "run:r-12", ... any string) and
// carries metadata, a source, a confidence and an optional expiry. A recall ranks items for a
// query and packs the best into a token budget, each saying where it came from and why it was
// picked.
//
// rein's implementation is MemoryManager (memory_manager.hpp: SQLite, FTS5 keyword search,
// optional embeddings, outcome learning). A host with its own store (a vector database, a
// service) implements Memory and hands it to RuntimeOptions::memory; planners reach it through
// PlanRequest::memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"

namespace rein {

enum class MemoryKind { episodic, semantic, procedural };
std::string_view to_string(MemoryKind kind) noexcept;
std::optional<MemoryKind> memory_kind_from_string(std::string_view name) noexcept;

// Text to a vector (any fixed dimension); called on insert and on recall.
using EmbedFn = std::function<Result<std::vector<float>>(std::string_view text)>;

struct MemoryRecord {
  MemoryKind kind = MemoryKind::semantic;
  std::string ns = "default";
  std::string content{};
  nlohmann::json metadata = nlohmann::json::object();
  std::string source{};                            // where it came from (a tool, a document, a run)
  double confidence = 1.0;                         // 0..1
  std::optional<std::chrono::milliseconds> ttl{};  // nullopt: MemoryOptions::default_ttl
  // Its label (labels.hpp): false for anything an attacker may have written (a web page, an
  // email); the confidentiality level ("" public). Recall carries both into the run. The
  // same content remembered again stays untrusted if either time was, and keeps its first
  // level.
  bool trusted = true;
  std::string level{};
};

struct MemoryItem {
  std::int64_t id = 0;
  MemoryKind kind = MemoryKind::semantic;
  std::string ns{};
  std::string content{};
  nlohmann::json metadata{};
  std::string source{};
  double confidence = 1.0;
  std::int64_t created_millis = 0;
  std::optional<std::int64_t> expires_millis{};
  std::string content_hash{};  // SHA-256 of the content
  bool trusted = true;         // see MemoryRecord
  std::string level{};
};

struct RankWeights {
  double keyword = 0.45;
  double similarity = 0.35;
  double recency = 0.10;
  double confidence = 0.10;
};

struct RecallQuery {
  std::string text{};
  std::vector<std::string> namespaces{};  // empty: every namespace
  std::vector<MemoryKind> kinds{};        // empty: every kind
  std::size_t candidates = 50;            // from each search (at most 1000)
  std::size_t top_k = 10;                 // at most this many recalled
  std::int64_t budget_tokens = 2000;      // what the recalled items may take together
  RankWeights weights{};
  std::chrono::milliseconds recency_half_life = std::chrono::hours(24 * 7);
};

struct RecalledItem {
  MemoryItem item{};
  double score = 0;       // the hybrid score
  double keyword = 0;     // 0..1 (BM25, normalised within the candidates)
  double similarity = 0;  // cosine, clamped to 0..1
  double recency = 0;     // 0..1
  std::int64_t tokens = 0;
  std::string why{};  // e.g. "keyword 0.82, similarity 0.61, 3 d old, confidence 0.90"
};

struct Recall {
  std::vector<RecalledItem> items{};  // best first
  std::int64_t tokens = 0;            // used of the budget
  std::size_t skipped = 0;            // ranked high enough but did not fit the budget
};

// Greedy packing, exposed for hosts with their own ranking: takes items in order while they
// fit (skipping those that do not), up to top_k.
Recall pack_into_budget(std::vector<RecalledItem> ranked, std::int64_t budget_tokens,
                        std::size_t top_k);

struct ActionOutcome {
  std::string action_kind{};    // e.g. "send_alert"
  nlohmann::json parameters{};  // grouped by `signature`
  std::string signature{};      // "" → the canonical JSON of `parameters`
  double effectiveness = 0.0;   // 0..1
  std::string ns = "default";
};

struct ActionStats {
  std::string action_kind{};
  std::string signature{};
  std::int64_t samples = 0;
  double mean = 0.0;
  double ci95_low = 0.0,
         ci95_high = 0.0;  // mean ± t(0.975, n−1)·s/√n, clamped to 0..1; n = 1: 0..1

  nlohmann::json to_json() const;
};

// The interface the runtime and planners use. Implementations must allow every member to be
// called from any number of threads at once.
class Memory {
 public:
  virtual ~Memory() = default;
  // Stores one item; returns its id. invalid_argument names the field at fault.
  virtual Result<std::int64_t> remember(const MemoryRecord& record) = 0;
  // The best items for `query` within its budget, best first.
  virtual Result<Recall> recall(const RecallQuery& query) = 0;
  // One item by id; not_found when there is none.
  virtual Result<MemoryItem> get(std::int64_t id) = 0;
  // Deletes one item; returns how many were deleted (0 or 1).
  virtual Result<std::size_t> forget(std::int64_t id) = 0;

  // Outcome learning (seed 002): how effective an action was (0..1), and per action kind and
  // parameter signature the mean effectiveness with its sample count and 95% interval, best
  // mean first (every kind when `action_kind` is empty).
  virtual Status record_outcome(const ActionOutcome& outcome) = 0;
  virtual Result<std::vector<ActionStats>> action_stats(std::string_view action_kind = {},
                                                        std::string_view ns = {}) = 0;
};

}  // namespace rein
