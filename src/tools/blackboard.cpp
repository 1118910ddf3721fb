// The blackboard of an orchestration (blackboard.hpp): entries in memory or in SQLite, and the
// two tools agents reach it through.
#include "rein/blackboard.hpp"

#include <map>
#include <mutex>

#include "core/json_text.hpp"
#include "rein/delegation.hpp"
#include "rein/tool_registry.hpp"
#include "sqlite/database.hpp"

namespace rein {

using nlohmann::json;

json BlackboardEntry::to_json() const {
  return {{"key", key},       {"value", value},     {"agent", agent},
          {"run_id", run_id}, {"step_id", step_id}, {"at_millis", at_millis}};
}

struct Blackboard::Impl {
  BlackboardOptions options;
  mutable std::mutex mutex;
  // In memory: scope → key → entry.
  std::map<std::string, std::map<std::string, BlackboardEntry>, std::less<>> scopes;
  // In SQLite, when open() made it.
  sqlite::Database db;
  mutable sqlite::Statement upsert, exists, count, select, erase;

  Status prepare() {
    if (auto s = db.exec(R"(CREATE TABLE IF NOT EXISTS blackboard(
          scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, agent TEXT NOT NULL,
          run_id TEXT NOT NULL, step_id TEXT NOT NULL, at_millis INTEGER NOT NULL,
          label TEXT NOT NULL, PRIMARY KEY(scope, key)))",
                         "creating the blackboard table");
        !s) {
      return s;
    }
    const std::pair<sqlite::Statement*, const char*> statements[] = {
        {&upsert,
         "INSERT INTO blackboard(scope, key, value, agent, run_id, step_id, at_millis, label) "
         "VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(scope, key) DO UPDATE SET "
         "value=excluded.value, agent=excluded.agent, run_id=excluded.run_id, "
         "step_id=excluded.step_id, at_millis=excluded.at_millis, label=excluded.label"},
        {&exists, "SELECT 1 FROM blackboard WHERE scope=?1 AND key=?2"},
        {&count, "SELECT count(*) FROM blackboard WHERE scope=?1"},
        {&select,
         "SELECT key, value, agent, run_id, step_id, at_millis, label FROM blackboard "
         "WHERE scope=?1 AND substr(key, 1, length(?2))=?2 ORDER BY key"},
        {&erase, "DELETE FROM blackboard WHERE scope=?1"}};
    for (auto [statement, sql] : statements) {
      if (auto s = statement->prepare(db, sql); !s) return s;
    }
    return {};
  }

  Result<bool> has_key(std::string_view scope, const std::string& key) const {
    if (!db) {
      auto it = scopes.find(scope);
      return it != scopes.end() && it->second.count(key) != 0;
    }
    sqlite::ResetOnExit reset(exists);
    return exists.bind(1, scope).bind(2, key).step();
  }

  Result<std::size_t> size(std::string_view scope) const {
    if (!db) {
      auto it = scopes.find(scope);
      return it == scopes.end() ? 0 : it->second.size();
    }
    sqlite::ResetOnExit reset(count);
    auto row = count.bind(1, scope).step();
    if (!row) return std::move(row).error();
    return static_cast<std::size_t>(count.integer(0));
  }
};

Blackboard::Blackboard(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Blackboard::~Blackboard() = default;

std::shared_ptr<Blackboard> Blackboard::in_memory(BlackboardOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  return std::shared_ptr<Blackboard>(new Blackboard(std::move(impl)));
}

Result<std::shared_ptr<Blackboard>> Blackboard::open(const std::filesystem::path& path,
                                                     BlackboardOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto db =
      sqlite::Database::open(path, {.synchronous = "NORMAL"}, "blackboard '" + path.string() + "'");
  if (!db) return std::move(db).error();
  impl->db = std::move(*db);
  if (auto s = impl->prepare(); !s) return std::move(s).error();
  return std::shared_ptr<Blackboard>(new Blackboard(std::move(impl)));
}

const BlackboardOptions& Blackboard::options() const noexcept {
  return impl_->options;
}

Status Blackboard::write(std::string_view scope, BlackboardEntry entry) {
  Impl& m = *impl_;
  if (entry.key.empty()) return Error(ErrorCode::invalid_argument, "blackboard: the key is empty");
  const std::string value = detail::json_text(entry.value);
  if (value.size() > m.options.max_value_bytes) {
    return Error(ErrorCode::invalid_argument,
                 "blackboard: the value of '" + entry.key + "' is " + std::to_string(value.size()) +
                     " bytes, over the limit of " + std::to_string(m.options.max_value_bytes));
  }
  std::lock_guard lock(m.mutex);
  auto known = m.has_key(scope, entry.key);
  if (!known) return std::move(known).error();
  if (!*known) {
    auto n = m.size(scope);
    if (!n) return std::move(n).error();
    if (*n >= m.options.max_entries) {
      return Error(ErrorCode::budget_exhausted, "blackboard: the orchestration '" +
                                                    std::string(scope) + "' holds " +
                                                    std::to_string(*n) + " entries, its limit");
    }
  }
  if (!m.db) {
    auto& entries = m.scopes[std::string(scope)];
    std::string key = entry.key;
    entries.insert_or_assign(std::move(key), std::move(entry));
    return {};
  }
  return m.upsert.bind(1, scope)
      .bind(2, entry.key)
      .bind(3, value)
      .bind(4, entry.agent)
      .bind(5, entry.run_id)
      .bind(6, entry.step_id)
      .bind(7, entry.at_millis)
      .bind(8, detail::json_text(entry.label.to_json()))
      .run();
}

Result<std::vector<BlackboardEntry>> Blackboard::read(std::string_view scope,
                                                      std::string_view prefix) const {
  const Impl& m = *impl_;
  std::vector<BlackboardEntry> out;
  std::lock_guard lock(m.mutex);
  if (!m.db) {
    auto it = m.scopes.find(scope);
    if (it == m.scopes.end()) return out;
    for (auto e = it->second.lower_bound(std::string(prefix));
         e != it->second.end() && e->first.compare(0, prefix.size(), prefix) == 0; ++e)
      out.push_back(e->second);
    return out;
  }
  sqlite::ResetOnExit reset(m.select);
  m.select.bind(1, scope).bind(2, prefix);
  for (;;) {
    auto row = m.select.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    BlackboardEntry e;
    e.key = m.select.text(0);
    e.value = json::parse(m.select.text(1), nullptr, false);
    e.agent = m.select.text(2);
    e.run_id = m.select.text(3);
    e.step_id = m.select.text(4);
    e.at_millis = m.select.integer(5);
    auto label = Label::from_json(json::parse(m.select.text(6), nullptr, false));
    if (e.value.is_discarded() || !label) {
      return Error(ErrorCode::data_loss, "blackboard: the entry '" + e.key + "' of '" +
                                             std::string(scope) + "' is corrupt");
    }
    e.label = std::move(*label);
    out.push_back(std::move(e));
  }
  return out;
}

Status Blackboard::clear(std::string_view scope) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  if (!m.db) {
    if (auto it = m.scopes.find(scope); it != m.scopes.end()) m.scopes.erase(it);
    return {};
  }
  return m.erase.bind(1, scope).run();
}

namespace {

// The orchestration a call belongs to: the root run of its caller's tree.
std::string scope_of(const CallerRun& caller) {
  const bool child = caller.delegation && !caller.delegation->ancestors.empty();
  return child ? caller.delegation->ancestors.front().run_id : caller.run_id;
}

ToolResult no_caller(const char* tool) {
  return ToolResult::failure(std::string(tool) + " must be called by a run (its orchestration)");
}

}  // namespace

Status register_blackboard_tools(ToolRegistry& tools, std::shared_ptr<Blackboard> board) {
  if (!board) {
    return Error(ErrorCode::invalid_argument, "register_blackboard_tools: the board is null");
  }
  ToolSpec write;
  write.name = "blackboard.write";
  write.description =
      "Write an entry to the team's shared blackboard (replaces an entry with the same key).";
  write.input_schema = {
      {"type", "object"},
      {"properties", {{"key", {{"type", "string"}, {"minLength", 1}}}, {"value", json::object()}}},
      {"required", {"key", "value"}},
      {"additionalProperties", false}};
  write.side_effects = true;
  write.idempotency.key_required = true;
  write.trusted_output = true;  // it says only what was written, and where
  write.timeout = std::chrono::milliseconds(0);
  write.wants_caller = true;
  if (auto s = tools.register_tool(
          write,
          [board](const json& args, ToolContext& ctx) {
            const CallerRun* caller = ctx.caller();
            if (caller == nullptr) return no_caller("blackboard.write");
            BlackboardEntry e;
            e.key = args.at("key").get<std::string>();
            e.value = args.at("value");
            e.agent = caller->agent;
            e.run_id = caller->run_id;
            e.step_id = caller->step_id;
            e.at_millis = ctx.env().unix_millis();
            e.label = caller->arguments_label;
            const std::string key = e.key;
            if (auto written = board->write(scope_of(*caller), std::move(e)); !written)
              return ToolResult::failure(written.error().message(),
                                         written.error().code() == ErrorCode::unavailable);
            return ToolResult::success({{"written", key}});
          });
      !s) {
    return s;
  }
  ToolSpec read;
  read.name = "blackboard.read";
  read.description =
      "Read the team's shared blackboard: every entry (or those whose keys start with prefix), "
      "with who wrote it and when.";
  read.input_schema = {{"type", "object"},
                       {"properties", {{"prefix", {{"type", "string"}}}}},
                       {"additionalProperties", false}};
  read.timeout = std::chrono::milliseconds(0);
  read.wants_caller = true;
  return tools.register_tool(read, [board](const json& args, ToolContext& ctx) {
    const CallerRun* caller = ctx.caller();
    if (caller == nullptr) return no_caller("blackboard.read");
    auto entries = board->read(scope_of(*caller), args.value("prefix", std::string()));
    if (!entries) {
      return ToolResult::failure(entries.error().message(),
                                 entries.error().code() == ErrorCode::unavailable);
    }
    json list = json::array();
    Label label = board->options().trusted ? Label{} : Label::untrusted("blackboard");
    for (const auto& e : *entries) {
      list.push_back(e.to_json());
      label.join(e.label);
    }
    ToolResult r = ToolResult::success({{"entries", std::move(list)}});
    r.label = std::move(label);
    return r;
  });
}

}  // namespace rein
