#include <mutex>

#include "core/json_text.hpp"
#include "core/log.hpp"
#include "rein/llm_cache.hpp"
#include "sqlite/database.hpp"
#include "store/stored_values.hpp"

namespace rein {

namespace {
constexpr std::chrono::milliseconds kBusyTimeout{2000};
}  // namespace

struct SqliteLlmCache::State {
  sqlite::Database db;  // declared first: closed after the statements are finalized
  std::mutex mutex;
  sqlite::Statement get, put, erase, count, evict;
};

SqliteLlmCache::SqliteLlmCache(std::unique_ptr<State> state) : state_(std::move(state)) {}
SqliteLlmCache::~SqliteLlmCache() = default;

Result<std::shared_ptr<SqliteLlmCache>> SqliteLlmCache::open(const std::filesystem::path& path) {
  auto state = std::make_unique<State>();
  const std::string what = "LLM cache '" + path.string() + "'";
  auto db = sqlite::Database::open(path, {.create = true, .busy_timeout = kBusyTimeout}, what);
  if (!db) return std::move(db).error();
  state->db = std::move(*db);
  const char* setup =
      "CREATE TABLE IF NOT EXISTS llm_cache(key TEXT PRIMARY KEY, response TEXT NOT NULL, "
      "expires_at INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS llm_cache_expiry ON llm_cache(expires_at);";
  if (auto st = state->db.exec(setup, what + " is not a usable SQLite database"); !st)
    return st.error();
  State& s = *state;
  for (auto [stmt, sql] :
       {std::pair{&s.get, "SELECT response, expires_at FROM llm_cache WHERE key = ?1"},
        std::pair{
            &s.put,
            "INSERT OR REPLACE INTO llm_cache(key, response, expires_at) VALUES (?1, ?2, ?3)"},
        std::pair{&s.erase, "DELETE FROM llm_cache WHERE key = ?1"},
        std::pair{&s.count, "SELECT count(*) FROM llm_cache"},
        std::pair{&s.evict, "DELETE FROM llm_cache WHERE expires_at <= ?1"}}) {
    if (auto st = stmt->prepare(s.db, sql); !st) return st.error();
  }
  return std::shared_ptr<SqliteLlmCache>(new SqliteLlmCache(std::move(state)));
}

std::optional<LlmResponse> SqliteLlmCache::get(const std::string& key, std::int64_t now_millis) {
  std::lock_guard lock(state_->mutex);
  State& s = *state_;
  std::optional<LlmResponse> found;
  bool drop = false;
  {
    sqlite::ResetOnExit reset(s.get);
    s.get.bind(1, key);
    auto row = s.get.step();
    if (!row || !*row) return std::nullopt;
    if (s.get.integer(1) <= now_millis) {
      drop = true;
    } else {
      found = detail::parse_cached_response(s.get.text(0));
      drop = !found;
    }
  }
  if (drop) {
    s.erase.bind(1, key);
    (void)s.erase.run();
  }
  return found;
}

void SqliteLlmCache::put(const std::string& key, const LlmResponse& response,
                         std::int64_t expires_at_millis) {
  std::lock_guard lock(state_->mutex);
  State& s = *state_;
  s.put.bind(1, key).bind(2, detail::json_text(to_json(response))).bind(3, expires_at_millis);
  if (auto st = s.put.run(); !st)
    detail::logger()->warn("rein: LLM cache write failed: {}", st.error().message());
}

std::size_t SqliteLlmCache::size() {
  std::lock_guard lock(state_->mutex);
  sqlite::ResetOnExit reset(state_->count);
  auto row = state_->count.step();
  return row && *row ? static_cast<std::size_t>(state_->count.integer(0)) : 0;
}

std::size_t SqliteLlmCache::evict_expired(std::int64_t now_millis) {
  std::lock_guard lock(state_->mutex);
  state_->evict.bind(1, now_millis);
  if (!state_->evict.run()) return 0;
  return static_cast<std::size_t>(state_->db.changes());
}

}  // namespace rein
