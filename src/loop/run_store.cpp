#include "rein/run_store.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/not_found.hpp"
#include "core/sha256.hpp"

namespace rein {

namespace {
std::string outcome_key(std::string_view step_id, int attempt) {
  std::string key(step_id);
  key.push_back('\0');
  key += std::to_string(attempt);
  return key;
}

// An audit entry as the store keeps it. A run's chain is most of what an in-flight run holds
// here, so the parts that the map key and the chain already say are not kept twice: the run id
// (the key), the previous hash (the entry before's hash) and the hash itself as 32 bytes
// rather than 64 hex digits. Anything that does not fit that shape (entries a host wrote by
// hand) is kept as it came.
struct StoredEntry {
  std::int64_t seq = 0;
  std::int64_t step = 0;
  std::int64_t time_millis = 0;
  std::string kind{};
  std::string payload{};
  Sha256::Digest digest{};
  struct AsGiven {
    std::string run_id{};
    std::string prev_hash{};
    std::string hash{};
  };
  std::unique_ptr<AsGiven> as_given{};  // set when the compact form would lose something
};

// Lower-case hex digits only (what Sha256::hex writes), so that the text read back is the same.
constexpr auto kNibble = [] {
  std::array<std::int8_t, 256> t{};
  t.fill(-1);
  for (int c = '0'; c <= '9'; ++c)
    t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c)
    t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'a' + 10);
  return t;
}();

bool from_hex(std::string_view hex, Sha256::Digest& out) {
  if (hex.size() != 2 * out.size()) return false;
  int bad = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = kNibble[static_cast<unsigned char>(hex[2 * i])];
    const int lo = kNibble[static_cast<unsigned char>(hex[2 * i + 1])];
    bad |= hi | lo;  // negative when either is not a digit
    out[i] = static_cast<std::uint8_t>((hi & 0xf) << 4 | (lo & 0xf));
  }
  return bad >= 0;
}

// Everything but the kind and payload. `run_id` and `previous` are what the entry must carry
// to be kept compactly: its batch's run and the hash of the entry before; a batch's first entry
// (run_id null) has both recorded with its batch.
StoredEntry stored_shape(const AuditEntry& e, const std::string* run_id,
                         std::string_view previous) {
  StoredEntry s;
  s.seq = e.seq;
  s.step = e.step;
  s.time_millis = e.time_millis;
  const bool chained = run_id == nullptr || (e.run_id == *run_id && e.prev_hash == previous);
  if (!chained || !from_hex(e.hash, s.digest)) {
    s.as_given =
        std::make_unique<StoredEntry::AsGiven>(StoredEntry::AsGiven{e.run_id, e.prev_hash, e.hash});
  }
  return s;
}

StoredEntry stored(const AuditEntry& e, const std::string* run_id, std::string_view previous) {
  StoredEntry s = stored_shape(e, run_id, previous);
  s.kind = e.kind;
  s.payload = e.payload;
  return s;
}

StoredEntry stored(AuditEntry&& e, const std::string* run_id, std::string_view previous) {
  StoredEntry s = stored_shape(e, run_id, previous);
  s.kind = std::move(e.kind);
  s.payload = std::move(e.payload);
  return s;
}

std::string hash_of(const StoredEntry& s) {
  return s.as_given ? s.as_given->hash : Sha256::hex(s.digest);
}

// `first`: the entry starts its batch, whose run and previous hash are `run_id` and `previous`
// whatever else was kept.
AuditEntry expanded(const StoredEntry& s, bool first, const std::string& run_id,
                    std::string previous) {
  AuditEntry e{run_id, s.seq, s.step, s.kind, s.payload, s.time_millis, std::move(previous), {}};
  if (!s.as_given) {
    e.hash = Sha256::hex(s.digest);
    return e;
  }
  if (!first) {
    e.run_id = s.as_given->run_id;
    e.prev_hash = s.as_given->prev_hash;
  }
  e.hash = s.as_given->hash;
  return e;
}

}  // namespace

std::vector<PendingApproval> pending_approvals_of(const AgentState& state) {
  std::vector<PendingApproval> out;
  for (const auto& s : state.steps) {
    if (s.status == StepStatus::awaiting_approval && s.approval &&
        s.approval->status == "pending") {
      out.push_back({state.run_id, s.step.id, s.step.tool, s.step.args, *s.approval,
                     state.delegation ? state.delegation->chain() : std::vector<std::string>{}});
    }
  }
  return out;
}

void RunStore::commit_async(const AgentState& state, std::span<const AuditEntry> entries,
                            Completion<Status> done) {
  done(commit(state, entries));
}

struct MemoryRunStore::Impl {
  // One commit's (or append's) entries of one run, as they arrived; entry i has order
  // first_sequence + i across runs. Entries after the first chain to the one before.
  struct AuditBatch {
    std::uint64_t first_sequence = 0;
    std::string run_id{};
    std::string first_prev_hash{};
    std::vector<StoredEntry> entries{};
  };
  struct Run {
    std::optional<AgentState> state{};  // none while only audit or outcomes arrived
    std::vector<AuditBatch> audit{};
    std::map<std::string, ToolResult, std::less<>> outcomes{};  // by step and attempt
    bool ended = false;
  };
  using Runs = std::map<std::string, Run, std::less<>>;

  explicit Impl(MemoryRunStoreOptions o) : options(o) {}

  // What one commit or append brings: almost always one run's entries (`first`).
  struct Batches {
    AuditBatch first{};
    std::vector<AuditBatch> more{};  // entries of further runs, in order
  };

  // Converts entries (copied, or moved when `Entries` is an rvalue vector) into batches of one
  // run each, outside the lock.
  template <typename Entries>
  static Batches batches_of(Entries&& entries) {
    constexpr bool given_up = std::is_rvalue_reference_v<Entries&&>;
    Batches out;
    AuditBatch* batch = nullptr;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      auto& e = entries[i];
      if (batch == nullptr || batch->run_id != e.run_id) {
        if (batch != nullptr) batch = &out.more.emplace_back();
        if (batch == nullptr) batch = &out.first;
        // The batch records where the chain starts and whose it is; its first entry need not.
        if constexpr (given_up) {
          batch->run_id = std::move(e.run_id);
          batch->first_prev_hash = std::move(e.prev_hash);
        } else {
          batch->run_id = e.run_id;
          batch->first_prev_hash = e.prev_hash;
        }
        batch->entries.reserve(entries.size() - i);
        if constexpr (given_up) {
          batch->entries.push_back(stored(std::move(e), nullptr, {}));
        } else {
          batch->entries.push_back(stored(e, nullptr, {}));
        }
        continue;
      }
      const std::string_view previous = entries[i - 1].hash;
      if constexpr (given_up) {
        batch->entries.push_back(stored(std::move(e), &batch->run_id, previous));
      } else {
        batch->entries.push_back(stored(e, &batch->run_id, previous));
      }
    }
    return out;
  }

  Run& run_of(std::string_view run_id) {  // call with mutex held
    auto it = runs.find(run_id);
    if (it == runs.end()) it = runs.emplace(std::string(run_id), Run{}).first;
    return it->second;
  }

  // Call with mutex held.
  void add(AuditBatch&& batch) {
    if (batch.entries.empty()) return;
    batch.first_sequence = next_sequence;
    next_sequence += batch.entries.size();
    Run& run = run_of(batch.run_id);
    batch.run_id.clear();  // the map's key says it
    run.audit.push_back(std::move(batch));
  }
  void add(Batches&& batches) {
    add(std::move(batches.first));
    for (auto& batch : batches.more)
      add(std::move(batch));
  }

  // Takes the runs beyond the retention limit out of the map; the caller frees them after
  // unlocking. Call with mutex held.
  void forget_oldest_ended(std::vector<Runs::node_type>& forgotten) {
    while (ended.size() > options.max_ended_runs) {
      forgotten.push_back(runs.extract(ended.front()));
      ended.pop_front();
    }
  }

  // Appends the run's entries, expanded, to `out`.
  static void expand(const std::string& run_id, const Run& run, std::vector<AuditEntry>& out) {
    for (const auto& batch : run.audit) {
      for (std::size_t i = 0; i < batch.entries.size(); ++i) {
        out.push_back(expanded(batch.entries[i], i == 0, run_id,
                               i == 0 ? batch.first_prev_hash : hash_of(batch.entries[i - 1])));
      }
    }
  }

  MemoryRunStoreOptions options;
  std::mutex mutex;
  Runs runs;
  std::deque<std::string> ended;  // ended runs, oldest first
  std::uint64_t next_sequence = 0;
};

MemoryRunStore::MemoryRunStore(MemoryRunStoreOptions options)
    : impl_(std::make_unique<Impl>(options)) {}

MemoryRunStore::~MemoryRunStore() = default;

Status MemoryRunStore::commit(const AgentState& state, std::span<const AuditEntry> entries) {
  // Copied before, and what is replaced or forgotten freed after, the lock: commits of other
  // runs wait only for the bookkeeping.
  std::optional<AgentState> copy = state;
  auto batches = Impl::batches_of(entries);
  std::vector<Impl::Runs::node_type> forgotten;
  std::lock_guard lock(impl_->mutex);
  impl_->add(std::move(batches));
  Impl::Run& run = impl_->run_of(state.run_id);
  run.state.swap(copy);
  if (!run.ended && is_terminal(state.status)) {
    run.ended = true;
    impl_->ended.push_back(state.run_id);
    impl_->forget_oldest_ended(forgotten);
  }
  return {};
}

Status MemoryRunStore::append_audit(std::vector<AuditEntry> entries) {
  auto batches = Impl::batches_of(std::move(entries));
  std::lock_guard lock(impl_->mutex);
  impl_->add(std::move(batches));
  return {};
}

Result<AgentState> MemoryRunStore::load(std::string_view run_id) {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->runs.find(run_id);
  if (it == impl_->runs.end() || !it->second.state) return detail::no_run(run_id);
  return *it->second.state;
}

Result<std::vector<RunSummary>> MemoryRunStore::list_runs() {
  std::lock_guard lock(impl_->mutex);
  std::vector<RunSummary> out;
  for (const auto& [id, run] : impl_->runs) {
    if (run.state) out.push_back({id, run.state->status, run.state->updated_millis});
  }
  return out;
}

Result<std::vector<PendingApproval>> MemoryRunStore::pending_approvals() {
  std::lock_guard lock(impl_->mutex);
  std::vector<PendingApproval> out;
  for (const auto& [id, run] : impl_->runs) {
    if (!run.state) continue;
    auto pending = pending_approvals_of(*run.state);
    out.insert(out.end(), pending.begin(), pending.end());
  }
  return out;
}

Status MemoryRunStore::record_outcome(std::string_view run_id, std::string_view step_id,
                                      int attempt, const ToolResult& result) {
  std::lock_guard lock(impl_->mutex);
  impl_->run_of(run_id).outcomes.insert_or_assign(outcome_key(step_id, attempt), result);
  return {};
}

Result<ToolResult> MemoryRunStore::find_outcome(std::string_view run_id, std::string_view step_id,
                                                int attempt) {
  std::lock_guard lock(impl_->mutex);
  auto run = impl_->runs.find(run_id);
  if (run != impl_->runs.end()) {
    auto it = run->second.outcomes.find(outcome_key(step_id, attempt));
    if (it != run->second.outcomes.end()) return it->second;
  }
  return detail::no_outcome(run_id, step_id, attempt);
}

Result<std::vector<AuditEntry>> MemoryRunStore::read_audit(std::string_view run_id) {
  std::lock_guard lock(impl_->mutex);
  std::vector<AuditEntry> out;
  if (!run_id.empty()) {
    auto it = impl_->runs.find(run_id);
    if (it != impl_->runs.end()) Impl::expand(it->first, it->second, out);
    return out;
  }
  // Every run's entries, in the order they were appended.
  std::vector<std::pair<std::uint64_t, AuditEntry>> all;
  for (const auto& [id, run] : impl_->runs) {
    std::vector<AuditEntry> entries;
    Impl::expand(id, run, entries);
    std::size_t i = 0;
    for (const auto& batch : run.audit) {
      for (std::size_t k = 0; k < batch.entries.size(); ++k)
        all.emplace_back(batch.first_sequence + k, std::move(entries[i++]));
    }
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  out.reserve(all.size());
  for (auto& [sequence, entry] : all)
    out.push_back(std::move(entry));
  return out;
}

}  // namespace rein
