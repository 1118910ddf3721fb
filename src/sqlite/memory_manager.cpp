#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "core/json_text.hpp"
#include "core/sha256.hpp"
#include "memory/memory_support.hpp"
#include "memory/vector_index.hpp"
#include "rein/memory_manager.hpp"
#include "sqlite/database.hpp"

namespace rein {

using nlohmann::json;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS memory_items(
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, ns TEXT NOT NULL, content TEXT NOT NULL,
  metadata TEXT NOT NULL, source TEXT NOT NULL, confidence REAL NOT NULL, created INTEGER NOT NULL,
  expires INTEGER, hash TEXT NOT NULL, trusted INTEGER NOT NULL DEFAULT 1,
  level TEXT NOT NULL DEFAULT '', UNIQUE(ns, kind, hash));
CREATE INDEX IF NOT EXISTS memory_items_ns_created ON memory_items(ns, created);
CREATE INDEX IF NOT EXISTS memory_items_expires ON memory_items(expires) WHERE expires IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS memory_fts USING fts5(content, content='memory_items', content_rowid='id');
CREATE TABLE IF NOT EXISTS memory_vectors(id INTEGER PRIMARY KEY, dim INTEGER NOT NULL, vec BLOB NOT NULL);
CREATE TRIGGER IF NOT EXISTS memory_items_ai AFTER INSERT ON memory_items BEGIN
  INSERT INTO memory_fts(rowid, content) VALUES (new.id, new.content); END;
CREATE TRIGGER IF NOT EXISTS memory_items_ad AFTER DELETE ON memory_items BEGIN
  INSERT INTO memory_fts(memory_fts, rowid, content) VALUES ('delete', old.id, old.content);
  DELETE FROM memory_vectors WHERE id = old.id; END;
CREATE TABLE IF NOT EXISTS memory_outcomes(
  id INTEGER PRIMARY KEY, ns TEXT NOT NULL, kind TEXT NOT NULL, signature TEXT NOT NULL,
  parameters TEXT NOT NULL, effectiveness REAL NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS memory_outcomes_kind ON memory_outcomes(kind, signature);
)sql";

constexpr std::chrono::milliseconds kBusyTimeout{5000};

constexpr const char* kItemColumns =
    "id, kind, ns, content, metadata, source, confidence, created, expires, hash, trusted, level";

// What estimate_tokens (message.hpp) counts for a message holding just this text.
std::int64_t tokens_of(const std::string& content) {
  return 4 + static_cast<std::int64_t>((content.size() + 3) / 4);
}

std::string in_list(std::size_t n, int first) {
  std::string out = "(";
  for (std::size_t i = 0; i < n; ++i)
    out += (i ? ",?" : "?") + std::to_string(first + static_cast<int>(i));
  return out + ")";
}

std::string age_text(std::int64_t millis) {
  char buffer[32];
  const double hours = static_cast<double>(std::max<std::int64_t>(0, millis)) / 3.6e6;
  if (hours < 48) {
    std::snprintf(buffer, sizeof buffer, "%.1f h old", hours);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.1f d old", hours / 24);
  }
  return buffer;
}

}  // namespace

struct MemoryManager::Impl {
  MemoryOptions options;
  Env* env = nullptr;
  sqlite::Database db;
  std::mutex mutex;
  detail::VectorIndex vectors;
  std::unordered_map<std::int64_t, std::pair<std::string, MemoryKind>>
      vector_meta;  // ns, kind of indexed rows

  // Memories written before items had labels gain the columns (trusted, public: what
  // recall made of them then, before MemoryRecall::trusted).
  Status add_label_columns(const std::string& what) {
    sqlite::Statement columns;
    if (auto st = columns.prepare(db, "SELECT name FROM pragma_table_info('memory_items')"); !st)
      return st;
    bool has_trusted = false, has_level = false;
    while (true) {
      auto row = columns.step();
      if (!row) return row.error();
      if (!*row) break;
      has_trusted = has_trusted || columns.text(0) == "trusted";
      has_level = has_level || columns.text(0) == "level";
    }
    if (!has_trusted) {
      if (auto s = db.exec("ALTER TABLE memory_items ADD COLUMN trusted INTEGER NOT NULL DEFAULT 1",
                           what);
          !s)
        return s;
    }
    if (!has_level) {
      if (auto s =
              db.exec("ALTER TABLE memory_items ADD COLUMN level TEXT NOT NULL DEFAULT ''", what);
          !s)
        return s;
    }
    return {};
  }

  Result<MemoryItem> read_item(sqlite::Statement& s) {
    MemoryItem item;
    item.id = s.integer(0);
    item.kind = memory_kind_from_string(s.text(1)).value_or(MemoryKind::semantic);
    item.ns = s.text(2);
    item.content = s.text(3);
    item.metadata = json::parse(s.text(4), nullptr, false);
    if (item.metadata.is_discarded())
      return Error(ErrorCode::data_loss,
                   "memory item " + std::to_string(item.id) + ": metadata is not JSON");
    item.source = s.text(5);
    item.confidence = s.real(6);
    item.created_millis = s.integer(7);
    if (!s.is_null(8)) item.expires_millis = s.integer(8);
    item.content_hash = s.text(9);
    item.trusted = s.integer(10) != 0;
    item.level = s.text(11);
    return item;
  }

  Result<std::vector<MemoryItem>> items_by_id(const std::vector<std::int64_t>& ids) {
    std::vector<MemoryItem> out;
    if (ids.empty()) return out;
    sqlite::Statement s;
    if (auto st = s.prepare(db, std::string("SELECT ") + kItemColumns +
                                    " FROM memory_items WHERE id IN " + in_list(ids.size(), 1));
        !st) {
      return st.error();
    }
    for (std::size_t i = 0; i < ids.size(); ++i)
      s.bind(static_cast<int>(i + 1), ids[i]);
    while (true) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      auto item = read_item(s);
      if (!item) return item.error();
      out.push_back(std::move(*item));
    }
    return out;
  }

  // Deletes rows chosen by `where` (bound by `bind`), keeping the vector index in step.
  Result<std::size_t> delete_where(const std::string& where,
                                   const std::function<void(sqlite::Statement&)>& bind) {
    sqlite::Statement s;
    if (auto st = s.prepare(db, "DELETE FROM memory_items WHERE " + where + " RETURNING id"); !st)
      return st.error();
    bind(s);
    std::size_t n = 0;
    while (true) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      vectors.remove(s.integer(0));
      vector_meta.erase(s.integer(0));
      ++n;
    }
    return n;
  }

  Status load_vectors() {
    sqlite::Statement s;
    if (auto st = s.prepare(db,
                            "SELECT v.id, v.dim, v.vec, m.ns, m.kind FROM memory_vectors v JOIN "
                            "memory_items m ON m.id = v.id");
        !st) {
      return st.error();
    }
    while (true) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      const auto dim = static_cast<std::size_t>(s.integer(1));
      if (dim == 0 || s.bytes(2) != dim * sizeof(float)) {
        return Error(ErrorCode::data_loss,
                     "memory: the vector of item " + std::to_string(s.integer(0)) + " is corrupt");
      }
      std::vector<float> v(dim);
      std::memcpy(v.data(), s.blob(2), dim * sizeof(float));
      if (vectors.add(s.integer(0), v.data(), dim)) {
        vector_meta[s.integer(0)] = {
            s.text(3), memory_kind_from_string(s.text(4)).value_or(MemoryKind::semantic)};
      }
    }
    return {};
  }
};

MemoryManager::MemoryManager(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MemoryManager::~MemoryManager() = default;

Result<std::shared_ptr<MemoryManager>> MemoryManager::open(const std::filesystem::path& path,
                                                           MemoryOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->env = options.env != nullptr ? options.env : &Env::system();
  impl->options = std::move(options);
  const std::string what = "memory '" + path.string() + "'";
  auto db = sqlite::Database::open(path, {.create = true, .busy_timeout = kBusyTimeout}, what);
  if (!db) return std::move(db).error();
  impl->db = std::move(*db);
  if (auto s = impl->db.exec(kSchema, what + " is not a usable SQLite database (FTS5 is needed)");
      !s) {
    return s.error();
  }
  if (auto s = impl->add_label_columns(what); !s) return s.error();
  if (auto s = impl->load_vectors(); !s) return s.error();
  return std::shared_ptr<MemoryManager>(new MemoryManager(std::move(impl)));
}

namespace {

Status check_record(const MemoryRecord& r) {
  if (r.content.empty())
    return Error(ErrorCode::invalid_argument, "MemoryRecord.content must not be empty");
  if (!(r.confidence >= 0.0 && r.confidence <= 1.0)) {
    return Error(ErrorCode::invalid_argument, "MemoryRecord.confidence must be within 0..1");
  }
  if (r.ns.empty()) return Error(ErrorCode::invalid_argument, "MemoryRecord.ns must not be empty");
  if (!r.metadata.is_object())
    return Error(ErrorCode::invalid_argument, "MemoryRecord.metadata must be a JSON object");
  return {};
}

}  // namespace

Result<std::int64_t> MemoryManager::remember(const MemoryRecord& record) {
  auto ids = remember_all({record});
  if (!ids) return ids.error();
  return ids->front();
}

Result<std::vector<std::int64_t>> MemoryManager::remember_all(
    const std::vector<MemoryRecord>& records) {
  Impl& impl = *impl_;
  const std::size_t n = records.size();
  auto at = [&](std::size_t i, const Error& e) {
    return n == 1 ? e : Error(e.code(), "records[" + std::to_string(i) + "]: " + e.message());
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (auto s = check_record(records[i]); !s) return at(i, s.error());
  }
  std::vector<std::string> hashes(n);
  for (std::size_t i = 0; i < n; ++i)
    hashes[i] = sha256_hex(records[i].content);
  std::vector<bool> exists(n, false);
  std::size_t dim = 0;  // of the index; fixed by the first vector when still empty
  {
    std::lock_guard lock(impl.mutex);
    dim = impl.vectors.dim();
    sqlite::Statement s;
    if (auto st = s.prepare(impl.db,
                            "SELECT 1 FROM memory_items WHERE ns = ?1 AND kind = ?2 AND hash = ?3");
        !st) {
      return st.error();
    }
    for (std::size_t i = 0; i < n; ++i) {
      sqlite::ResetOnExit reset(s);
      s.bind(1, records[i].ns).bind(2, to_string(records[i].kind)).bind(3, hashes[i]);
      auto row = s.step();
      if (!row) return row.error();
      exists[i] = *row;
    }
  }
  // Embedded outside the lock (the callback may be slow), and only for new items.
  std::vector<std::vector<float>> vectors(n);
  if (impl.options.embed) {
    for (std::size_t i = 0; i < n; ++i) {
      if (exists[i]) continue;
      auto embedded = impl.options.embed(records[i].content);
      if (!embedded)
        return at(i, Error(embedded.error().code(),
                           "embedding the memory item: " + embedded.error().message()));
      vectors[i] = std::move(*embedded);
      if (dim == 0) dim = vectors[i].size();
      if (vectors[i].size() != dim) {
        return at(i, Error(ErrorCode::invalid_argument,
                           "the embedding has " + std::to_string(vectors[i].size()) +
                               " dimensions, the memory " + std::to_string(dim)));
      }
      if (!detail::VectorIndex::normalise(vectors[i])) {
        return at(
            i, Error(ErrorCode::invalid_argument, "the embedding is a zero or non-finite vector"));
      }
    }
  }

  const std::int64_t now = impl.env->unix_millis();
  std::lock_guard lock(impl.mutex);
  sqlite::Transaction transaction(impl.db);  // all records or none
  if (auto s = transaction.begin(); !s) return s.error();
  sqlite::Statement insert, vector_insert;
  if (auto st = insert.prepare(
          impl.db,
          "INSERT INTO memory_items(kind, ns, content, metadata, source, confidence, created, "
          "expires, hash, trusted, level) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(ns, kind, hash) DO "
          "UPDATE SET metadata = excluded.metadata, source = excluded.source, confidence = "
          "excluded.confidence, expires = excluded.expires, "
          // The same text remembered again stays as untrusted as its worst origin.
          "trusted = trusted AND excluded.trusted, "
          "level = CASE WHEN level = '' THEN excluded.level ELSE level END RETURNING id");
      !st) {
    return st.error();
  }
  if (auto st = vector_insert.prepare(
          impl.db, "INSERT OR REPLACE INTO memory_vectors(id, dim, vec) VALUES (?1, ?2, ?3)");
      !st) {
    return st.error();
  }
  std::vector<std::int64_t> ids(n);
  std::vector<std::string> namespaces;
  for (std::size_t i = 0; i < n; ++i) {
    const MemoryRecord& r = records[i];
    const auto ttl = r.ttl ? r.ttl : impl.options.default_ttl;
    insert.bind(1, to_string(r.kind))
        .bind(2, r.ns)
        .bind(3, r.content)
        .bind(4, detail::json_text(r.metadata))
        .bind(5, r.source);
    insert.bind_real(6, r.confidence).bind(7, now).bind(9, hashes[i]);
    insert.bind(10, static_cast<std::int64_t>(r.trusted ? 1 : 0)).bind(11, r.level);
    if (ttl) {
      insert.bind(8, now + ttl->count());
    } else {
      insert.bind_null(8);
    }
    auto row = insert.step();
    if (!row) return at(i, row.error());
    if (!*row) return Error(ErrorCode::internal, "memory: the insert returned no id");
    ids[i] = insert.integer(0);
    insert.reset();
    if (!vectors[i].empty()) {
      vector_insert.bind(1, ids[i]).bind(2, static_cast<std::int64_t>(vectors[i].size()));
      vector_insert.bind_blob(3, vectors[i].data(), vectors[i].size() * sizeof(float));
      if (auto st = vector_insert.run(); !st) return at(i, st.error());
    }
    if (std::find(namespaces.begin(), namespaces.end(), r.ns) == namespaces.end())
      namespaces.push_back(r.ns);
  }
  if (impl.options.max_items_per_namespace > 0) {
    for (const auto& ns : namespaces) {
      auto removed = impl.delete_where(
          "ns = ?1 AND id NOT IN (SELECT id FROM memory_items WHERE ns = ?1 ORDER BY created DESC, "
          "id DESC LIMIT ?2)",
          [&](sqlite::Statement& s) {
            s.bind(1, ns).bind(2, static_cast<std::int64_t>(impl.options.max_items_per_namespace));
          });
      if (!removed) return removed.error();
    }
  }
  if (auto s = transaction.commit(); !s) return s.error();
  for (std::size_t i = 0; i < n; ++i) {
    if (!vectors[i].empty() && impl.vectors.add(ids[i], vectors[i].data(), vectors[i].size())) {
      impl.vector_meta[ids[i]] = {records[i].ns, records[i].kind};
    }
  }
  return ids;
}

Result<std::vector<std::int64_t>> MemoryManager::remember_document(MemoryRecord record) {
  if (record.content.empty())
    return Error(ErrorCode::invalid_argument, "MemoryRecord.content must not be empty");
  const auto chunks =
      detail::chunk_text(record.content, impl_->options.chunk_chars, impl_->options.chunk_overlap);
  const json base = record.metadata.is_object() ? record.metadata : json::object();
  std::vector<MemoryRecord> parts;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    MemoryRecord chunk = record;
    chunk.content = chunks[i];
    chunk.metadata = base;
    chunk.metadata["chunk"] = i;
    chunk.metadata["chunks"] = chunks.size();
    parts.push_back(std::move(chunk));
  }
  return remember_all(parts);  // one transaction: all chunks or none
}

Result<MemoryItem> MemoryManager::get(std::int64_t id) {
  std::lock_guard lock(impl_->mutex);
  auto items = impl_->items_by_id({id});
  if (!items) return items.error();
  if (items->empty()) return Error(ErrorCode::not_found, "no memory item " + std::to_string(id));
  return std::move(items->front());
}

Result<Recall> MemoryManager::recall(const RecallQuery& q) {
  Impl& impl = *impl_;
  if (q.budget_tokens < 0)
    return Error(ErrorCode::invalid_argument, "RecallQuery.budget_tokens must not be negative");
  std::vector<float> query_vector;
  if (impl.options.embed && !q.text.empty() && q.weights.similarity > 0) {
    auto embedded = impl.options.embed(q.text);
    if (!embedded)
      return Error(embedded.error().code(), "embedding the query: " + embedded.error().message());
    query_vector = std::move(*embedded);
  }
  const std::int64_t now = impl.env->unix_millis();
  std::lock_guard lock(impl.mutex);

  // Keyword candidates: BM25 (FTS5's bm25() is lower-is-better; negated here).
  std::unordered_map<std::int64_t, double> keyword, similarity;
  const std::string match = detail::fts_query(q.text);
  const std::size_t candidates =
      std::min<std::size_t>(q.candidates, 1000);  // bounds the IN list below
  if (!match.empty() && candidates > 0) {
    std::string sql =
        "SELECT m.id, -bm25(memory_fts) FROM memory_fts JOIN memory_items m ON m.id = "
        "memory_fts.rowid "
        "WHERE memory_fts MATCH ?1 AND (m.expires IS NULL OR m.expires > ?2)";
    int next = 4;
    if (!q.namespaces.empty()) {
      sql += " AND m.ns IN " + in_list(q.namespaces.size(), next);
      next += static_cast<int>(q.namespaces.size());
    }
    if (!q.kinds.empty()) sql += " AND m.kind IN " + in_list(q.kinds.size(), next);
    sql += " ORDER BY bm25(memory_fts) LIMIT ?3";
    sqlite::Statement s;
    if (auto st = s.prepare(impl.db, sql); !st) return st.error();
    s.bind(1, match).bind(2, now).bind(3, static_cast<std::int64_t>(candidates));
    int at = 4;
    for (const auto& ns : q.namespaces)
      s.bind(at++, ns);
    for (auto k : q.kinds)
      s.bind(at++, to_string(k));
    while (true) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      keyword[s.integer(0)] = s.real(1);
    }
  }
  // Similarity candidates: exact cosine over the index, filtered by namespace and kind.
  if (!query_vector.empty() && candidates > 0) {
    if (impl.vectors.size() > 0 && query_vector.size() != impl.vectors.dim()) {
      return Error(ErrorCode::invalid_argument,
                   "the query embedding has " + std::to_string(query_vector.size()) +
                       " dimensions, the memory " + std::to_string(impl.vectors.dim()));
    }
    auto keep = [&](std::int64_t id) {
      const auto& [ns, kind] = impl.vector_meta[id];
      if (!q.namespaces.empty() &&
          std::find(q.namespaces.begin(), q.namespaces.end(), ns) == q.namespaces.end())
        return false;
      return q.kinds.empty() || std::find(q.kinds.begin(), q.kinds.end(), kind) != q.kinds.end();
    };
    for (const auto& [id, cosine] :
         impl.vectors.top_k(query_vector.data(), query_vector.size(), candidates, keep)) {
      similarity[id] = std::clamp(static_cast<double>(cosine), 0.0, 1.0);
    }
  }
  std::vector<std::int64_t> ids;
  for (const auto& [id, score] : keyword)
    ids.push_back(id);
  for (const auto& [id, score] : similarity) {
    if (keyword.count(id) == 0) ids.push_back(id);
  }
  auto items = impl.items_by_id(ids);
  if (!items) return items.error();

  double best_keyword = 0;
  for (const auto& [id, score] : keyword)
    best_keyword = std::max(best_keyword, score);
  std::vector<RecalledItem> ranked;
  const double half_life =
      static_cast<double>(std::max<std::int64_t>(1, q.recency_half_life.count()));
  for (auto& item : *items) {
    if (item.expires_millis && *item.expires_millis <= now)
      continue;  // expired (vector candidates)
    RecalledItem r;
    if (auto it = keyword.find(item.id); it != keyword.end() && best_keyword > 0)
      r.keyword = it->second / best_keyword;
    if (auto it = similarity.find(item.id); it != similarity.end()) r.similarity = it->second;
    const std::int64_t age = now - item.created_millis;
    r.recency = std::pow(0.5, static_cast<double>(std::max<std::int64_t>(0, age)) / half_life);
    r.score = q.weights.keyword * r.keyword + q.weights.similarity * r.similarity +
              q.weights.recency * r.recency + q.weights.confidence * item.confidence;
    r.tokens = tokens_of(item.content);
    char why[160];
    std::snprintf(why, sizeof why, "keyword %.2f, similarity %.2f, %s, confidence %.2f", r.keyword,
                  r.similarity, age_text(age).c_str(), item.confidence);
    r.why = std::string(to_string(item.kind)) + " memory from " +
            (item.source.empty() ? std::string("(no source)") : item.source) + " in '" + item.ns +
            "': " + why;
    r.item = std::move(item);
    ranked.push_back(std::move(r));
  }
  std::sort(ranked.begin(), ranked.end(), [](const RecalledItem& a, const RecalledItem& b) {
    return a.score != b.score ? a.score > b.score : a.item.id > b.item.id;
  });
  return pack_into_budget(std::move(ranked), q.budget_tokens, q.top_k);
}

Result<std::size_t> MemoryManager::forget(std::int64_t id) {
  std::lock_guard lock(impl_->mutex);
  return impl_->delete_where("id = ?1", [&](sqlite::Statement& s) { s.bind(1, id); });
}

Result<std::size_t> MemoryManager::forget_namespace(std::string_view ns) {
  std::lock_guard lock(impl_->mutex);
  return impl_->delete_where("ns = ?1", [&](sqlite::Statement& s) { s.bind(1, ns); });
}

Result<std::size_t> MemoryManager::purge_expired() {
  const std::int64_t now = impl_->env->unix_millis();
  std::lock_guard lock(impl_->mutex);
  return impl_->delete_where("expires IS NOT NULL AND expires <= ?1",
                             [&](sqlite::Statement& s) { s.bind(1, now); });
}

Result<std::size_t> MemoryManager::count(std::string_view ns) {
  std::lock_guard lock(impl_->mutex);
  sqlite::Statement s;
  if (auto st =
          s.prepare(impl_->db, ns.empty() ? "SELECT count(*) FROM memory_items"
                                          : "SELECT count(*) FROM memory_items WHERE ns = ?1");
      !st) {
    return st.error();
  }
  if (!ns.empty()) s.bind(1, ns);
  auto row = s.step();
  if (!row) return row.error();
  return static_cast<std::size_t>(s.integer(0));
}

Status MemoryManager::record_outcome(const ActionOutcome& o) {
  if (o.action_kind.empty())
    return Error(ErrorCode::invalid_argument, "ActionOutcome.action_kind must not be empty");
  if (!(o.effectiveness >= 0.0 && o.effectiveness <= 1.0)) {
    return Error(ErrorCode::invalid_argument, "ActionOutcome.effectiveness must be within 0..1");
  }
  const std::string parameters = detail::json_text(o.parameters);
  const std::string signature = o.signature.empty() ? parameters : o.signature;
  std::lock_guard lock(impl_->mutex);
  sqlite::Statement s;
  if (auto st = s.prepare(impl_->db,
                          "INSERT INTO memory_outcomes(ns, kind, signature, parameters, "
                          "effectiveness, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
      !st) {
    return st;
  }
  s.bind(1, o.ns)
      .bind(2, o.action_kind)
      .bind(3, signature)
      .bind(4, parameters)
      .bind_real(5, o.effectiveness)
      .bind(6, impl_->env->unix_millis());
  return s.run();
}

Result<std::vector<ActionStats>> MemoryManager::action_stats(std::string_view action_kind,
                                                             std::string_view ns) {
  std::string sql =
      "SELECT kind, signature, count(*), avg(effectiveness), sum(effectiveness * effectiveness) "
      "FROM memory_outcomes WHERE 1";
  if (!action_kind.empty()) sql += " AND kind = ?1";
  if (!ns.empty()) sql += " AND ns = ?2";
  sql += " GROUP BY kind, signature";
  std::lock_guard lock(impl_->mutex);
  sqlite::Statement s;
  if (auto st = s.prepare(impl_->db, sql); !st) return st.error();
  if (!action_kind.empty()) s.bind(1, action_kind);
  if (!ns.empty()) s.bind(2, ns);
  std::vector<ActionStats> out;
  while (true) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) break;
    ActionStats a;
    a.action_kind = s.text(0);
    a.signature = s.text(1);
    a.samples = s.integer(2);
    a.mean = s.real(3);
    if (a.samples < 2) {
      a.ci95_low = 0.0;  // one sample says nothing about the spread
      a.ci95_high = 1.0;
    } else {
      const double n = static_cast<double>(a.samples);
      const double variance = std::max(0.0, (s.real(4) - n * a.mean * a.mean) / (n - 1));
      const double half = detail::t_quantile_975(a.samples - 1) * std::sqrt(variance / n);
      a.ci95_low = std::clamp(a.mean - half, 0.0, 1.0);
      a.ci95_high = std::clamp(a.mean + half, 0.0, 1.0);
    }
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(), [](const ActionStats& a, const ActionStats& b) {
    return a.mean != b.mean ? a.mean > b.mean : a.samples > b.samples;
  });
  return out;
}

}  // namespace rein
