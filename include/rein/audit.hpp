// rein's audit log: append-only, hash-chained, verifiable.
//
// Every run keeps its own chain. Entry n of a run has seq n and carries the hash of entry
// n-1 (prev_hash; "" for the first); its own hash is the SHA-256 of its canonical form
// (run, seq, step, kind, time, payload, prev_hash). The payload is kept as canonical JSON
// text (keys sorted, no spaces: what nlohmann::json::dump() gives), hashed and stored exactly
// as written; payload_json() parses it. Changing, deleting or reordering any entry
// breaks the chain at that point; verify_audit() reports the first broken entry. Removing
// entries from the end of a chain is caught against an anchor — the run's last hash and
// count, which the runtime commits with the run's state (SQLite store), or which the host
// keeps.
//
// Kinds written by the runtime: run (started), plan (a round of steps, with arguments),
// tool_call (one per call: the policy decision that allowed it, the result, the critic's
// verdict), decision (a call refused by policy), approval (requested or decided), answer (the
// final answer and its verdict), status, observation, recovery (what resuming did with an
// interrupted step).
//
// A delegated run's first entry (run) names its parent run, the parent's step and the hash of
// the parent's last entry before the call (delegation.hpp); given both chains, verify_audit
// checks that the parent's chain holds that entry, so a tree of runs verifies as a whole.
//
// Thread safety: AuditEntry is a plain value. Sinks must accept concurrent write() calls
// (the ones here do).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"

namespace rein {

struct AuditEntry {
  std::string run_id{};
  std::int64_t seq = 0;   // position in the run's chain, from 0
  std::int64_t step = 0;  // the loop step that wrote it
  std::string kind{};
  std::string payload{};  // canonical JSON text
  std::int64_t time_millis = 0;
  std::string prev_hash{};
  std::string hash{};

  // The payload as a JSON value (null when the text is not JSON).
  nlohmann::json payload_json() const;
  // The entry with its payload as a nested object (the JSONL form).
  nlohmann::json to_json() const;
  static Result<AuditEntry> from_json(const nlohmann::json& j);
};

// The canonical text of a payload.
std::string canonical_payload(const nlohmann::json& payload);

// The hash an entry must carry, computed from its other fields.
std::string audit_hash(const AuditEntry& entry);

// Appends to one run's chain: fills seq, prev_hash and hash. `payload` is canonical JSON text.
AuditEntry make_audit_entry(const std::string& run_id, std::int64_t seq,
                            const std::string& prev_hash, std::int64_t step, std::string kind,
                            std::string payload, std::int64_t time_millis);
inline AuditEntry make_audit_entry(const std::string& run_id, std::int64_t seq,
                                   const std::string& prev_hash, std::int64_t step,
                                   std::string kind, const nlohmann::json& payload,
                                   std::int64_t time_millis) {
  return make_audit_entry(run_id, seq, prev_hash, step, std::move(kind), canonical_payload(payload),
                          time_millis);
}

// The end of a run's chain as recorded elsewhere (the run's checkpoint).
struct AuditAnchor {
  std::int64_t count = 0;
  std::string head{};  // hash of the last entry
};

struct AuditVerification {
  bool ok = true;
  std::int64_t entries = 0;
  std::optional<std::int64_t> first_bad{};  // 0-based position of the first bad entry
  std::string reason{};

  // {"ok": ..., "entries": N, "first_bad": K|null, "reason": ...}
  nlohmann::json to_json() const;
};

// Checks entries in the order given (a file's order); chains of different runs may interleave.
// With `anchors`, each anchored run's chain must also end where its anchor says.
AuditVerification verify_audit(std::span<const AuditEntry> entries,
                               const std::map<std::string, AuditAnchor>* anchors = nullptr);

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual Status write(std::span<const AuditEntry> entries) = 0;
};

class MemoryAuditSink final : public AuditSink {
 public:
  Status write(std::span<const AuditEntry> entries) override;
  std::vector<AuditEntry> entries() const;

 private:
  mutable std::mutex mutex_;
  std::vector<AuditEntry> entries_;
};

// One JSON object per line, appended and flushed on every write.
class JsonlAuditSink final : public AuditSink {
 public:
  static Result<std::shared_ptr<JsonlAuditSink>> open(const std::filesystem::path& path);
  Status write(std::span<const AuditEntry> entries) override;

 private:
  explicit JsonlAuditSink(std::ofstream out) : out_(std::move(out)) {}
  std::mutex mutex_;
  std::ofstream out_;
};

// The kind of a placeholder for a line that could not be read as an entry.
inline constexpr const char* kUnreadableAuditKind = "unreadable";

// Reads a JSONL audit file. A line that is not a valid entry does not fail the read: it comes
// back as a placeholder of kind kUnreadableAuditKind, which verify_audit reports at its position.
Result<std::vector<AuditEntry>> read_audit_jsonl(const std::filesystem::path& path);

}  // namespace rein
