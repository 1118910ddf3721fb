#include "rein/audit.hpp"

#include <set>

#include <charconv>
#include <sstream>

#include "core/json_reader.hpp"
#include "core/json_text.hpp"
#include "core/json_writer.hpp"
#include "core/sha256.hpp"

namespace rein {

using nlohmann::json;

std::string canonical_payload(const json& payload) {
  return detail::json_text(payload);
}

json AuditEntry::payload_json() const {
  json parsed = json::parse(payload, nullptr, false);
  return parsed.is_discarded() ? json() : parsed;
}

json AuditEntry::to_json() const {
  return {{"run_id", run_id},
          {"seq", seq},
          {"step", step},
          {"kind", kind},
          {"payload", payload_json()},
          {"time_millis", time_millis},
          {"prev_hash", prev_hash},
          {"hash", hash}};
}

Result<AuditEntry> AuditEntry::from_json(const json& j) {
  detail::JsonReader r(j, "audit entry");
  AuditEntry e;
  r.string("run_id", e.run_id);
  r.integer("seq", e.seq);
  r.integer("step", e.step);
  r.string("kind", e.kind);
  json payload;
  r.any("payload", payload);
  e.payload = detail::json_text(payload);
  r.integer("time_millis", e.time_millis);
  r.string("prev_hash", e.prev_hash);
  r.string("hash", e.hash);
  if (!r.ok()) return r.status().error();
  return e;
}

std::string audit_hash(const AuditEntry& e) {
  // Length-prefixed fields ("<length>:<bytes>"): no choice of field contents can make two
  // entries hash alike. Assembled in one reused buffer, then hashed in one pass.
  thread_local std::string canonical;
  canonical.clear();
  char digits[24];
  auto field = [&](std::string_view text) {
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, text.size());
    canonical.append(digits, static_cast<std::size_t>(end - digits)).push_back(':');
    canonical.append(text);
  };
  auto integer = [&](std::int64_t value) {
    char number[24];
    auto [end, ec] = std::to_chars(number, number + sizeof number, value);
    field(std::string_view(number, static_cast<std::size_t>(end - number)));
  };
  field("rein-audit-v1");
  field(e.run_id);
  integer(e.seq);
  integer(e.step);
  field(e.kind);
  integer(e.time_millis);
  field(e.payload);
  field(e.prev_hash);
  Sha256 h;
  h.update(canonical);
  return Sha256::hex(h.finish());
}

AuditEntry make_audit_entry(const std::string& run_id, std::int64_t seq,
                            const std::string& prev_hash, std::int64_t step, std::string kind,
                            std::string payload, std::int64_t time_millis) {
  AuditEntry e{run_id, seq, step, std::move(kind), std::move(payload), time_millis, prev_hash, {}};
  e.hash = audit_hash(e);
  return e;
}

json AuditVerification::to_json() const {
  return {{"ok", ok},
          {"entries", entries},
          {"first_bad", first_bad ? json(*first_bad) : json()},
          {"reason", reason}};
}

AuditVerification verify_audit(std::span<const AuditEntry> entries,
                               const std::map<std::string, AuditAnchor>* anchors) {
  AuditVerification v;
  v.entries = static_cast<std::int64_t>(entries.size());
  struct Tail {
    std::int64_t next_seq = 0;
    std::string head;
  };
  std::map<std::string, Tail> tails;
  auto bad = [&](std::size_t position, std::string reason) {
    v.ok = false;
    v.first_bad = static_cast<std::int64_t>(position);
    v.reason = std::move(reason);
    return v;
  };
  // A delegated run's first entry names the parent entry it started after: a tree verifies as
  // a whole when that entry is in the parent's chain (checked when the parent's chain is here).
  struct ParentLink {
    std::size_t position;
    std::string child, parent, entry;
  };
  std::vector<ParentLink> links;
  auto note_parent = [&](std::size_t position, const AuditEntry& e) {
    const auto payload = nlohmann::json::parse(e.payload, nullptr, false);
    const auto parent = payload.is_object() ? payload.find("parent") : payload.end();
    if (!payload.is_object() || parent == payload.end() || !parent->is_object()) return;
    const auto run = parent->find("run_id");
    const auto entry = parent->find("entry");
    if (run == parent->end() || entry == parent->end() || !run->is_string() || !entry->is_string())
      return;
    links.push_back({position, e.run_id, run->get<std::string>(), entry->get<std::string>()});
  };
  auto check_parents = [&]() -> std::optional<std::pair<std::size_t, std::string>> {
    std::map<std::string, std::set<std::string>> hashes;  // of the parents present
    for (const auto& link : links)
      if (tails.count(link.parent) != 0) hashes[link.parent];
    if (hashes.empty()) return std::nullopt;
    for (const auto& e : entries) {
      if (auto it = hashes.find(e.run_id); it != hashes.end()) it->second.insert(e.hash);
    }
    for (const auto& link : links) {
      auto it = hashes.find(link.parent);
      if (it == hashes.end() || it->second.count(link.entry) != 0) continue;
      return std::pair{link.position, "entry " + std::to_string(link.position) + " (run '" +
                                          link.child +
                                          "', seq 0): the parent entry it names is "
                                          "not in run '" +
                                          link.parent + "''s chain"};
    }
    return std::nullopt;
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const AuditEntry& e = entries[i];
    Tail& tail = tails[e.run_id];
    const std::string where = "entry " + std::to_string(i) + " (run '" + e.run_id + "', seq " +
                              std::to_string(e.seq) + ")";
    if (e.kind == kUnreadableAuditKind)
      return bad(i, "entry " + std::to_string(i) + ": not a valid audit entry");
    if (audit_hash(e) != e.hash) return bad(i, where + ": content does not match its hash");
    if (e.seq != tail.next_seq) {
      return bad(i, where + ": expected seq " + std::to_string(tail.next_seq) +
                        " (an entry is missing or out of order)");
    }
    if (e.prev_hash != tail.head)
      return bad(i, where + ": prev_hash does not match the previous entry");
    tail.next_seq = e.seq + 1;
    tail.head = e.hash;
    if (e.kind == "run" && e.seq == 0) note_parent(i, e);
  }
  if (auto broken = check_parents(); broken) return bad(broken->first, std::move(broken->second));
  if (anchors != nullptr) {
    for (const auto& [run, anchor] : *anchors) {
      auto it = tails.find(run);
      const std::int64_t count = it == tails.end() ? 0 : it->second.next_seq;
      const std::string head = it == tails.end() ? std::string() : it->second.head;
      if (count != anchor.count || head != anchor.head) {
        return bad(entries.size(), "run '" + run + "': the chain has " + std::to_string(count) +
                                       " entries but its checkpoint records " +
                                       std::to_string(anchor.count) +
                                       " (entries removed from the end)");
      }
    }
  }
  return v;
}

Status MemoryAuditSink::write(std::span<const AuditEntry> entries) {
  std::lock_guard lock(mutex_);
  entries_.insert(entries_.end(), entries.begin(), entries.end());
  return {};
}

std::vector<AuditEntry> MemoryAuditSink::entries() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

Result<std::shared_ptr<JsonlAuditSink>> JsonlAuditSink::open(const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  if (!out)
    return Error(ErrorCode::unavailable,
                 "cannot open audit file '" + path.string() + "' for appending");
  return std::shared_ptr<JsonlAuditSink>(new JsonlAuditSink(std::move(out)));
}

Status JsonlAuditSink::write(std::span<const AuditEntry> entries) {
  std::string text;
  for (const auto& e : entries) {
    // The payload goes in as the canonical text it already is: nothing is re-serialized.
    text += detail::JsonObjectWriter()
                .string("hash", e.hash)
                .string("kind", e.kind)
                .raw("payload", e.payload)
                .string("prev_hash", e.prev_hash)
                .string("run_id", e.run_id)
                .integer("seq", e.seq)
                .integer("step", e.step)
                .integer("time_millis", e.time_millis)
                .finish();
    text += '\n';
  }
  std::lock_guard lock(mutex_);
  out_ << text;
  out_.flush();
  if (!out_) return Error(ErrorCode::unavailable, "writing the audit file failed");
  return {};
}

Result<std::vector<AuditEntry>> read_audit_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::not_found, "audit file '" + path.string() + "' cannot be read");
  std::vector<AuditEntry> entries;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto entry = parsed.is_discarded() ? Result<AuditEntry>(Error(ErrorCode::data_loss, "not JSON"))
                                       : AuditEntry::from_json(parsed);
    if (entry) {
      entries.push_back(std::move(*entry));
    } else {
      AuditEntry unreadable;
      unreadable.kind = kUnreadableAuditKind;
      unreadable.payload = detail::json_text(json(line));
      entries.push_back(std::move(unreadable));
    }
  }
  return entries;
}

}  // namespace rein
