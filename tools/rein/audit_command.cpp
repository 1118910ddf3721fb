// rein audit verify FILE
//
// FILE is a JSONL audit (one entry per line) or a rein SQLite store. Prints
// {"ok": true|false, "entries": N, "first_bad": K|null, "reason": ...} and exits 0 when the
// chain holds, 1 when it is broken, 2 when the file cannot be read. For a store, each run's
// chain must also end where its checkpoint says, so entries removed from the end are caught.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string_view>

#include "commands.hpp"
#include "rein/audit.hpp"
#include "rein/sqlite_store.hpp"

namespace rein::cli {
namespace {

// True when the file starts with SQLite's 16-byte header: a store rather than JSONL.
bool looks_like_sqlite(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char header[16] = {};
  in.read(header, sizeof header);
  return in.gcount() == 16 &&
         std::string_view(header, 16) == std::string_view("SQLite format 3\0", 16);
}

int run(const std::string& path) {
  AuditVerification verification;
  if (looks_like_sqlite(path)) {
    auto store = SqliteStore::open(path);
    if (!store) {
      std::fprintf(stderr, "rein audit verify: %s\n", store.error().message().c_str());
      return kExitBadInput;
    }
    auto entries = (*store)->read_audit("");
    auto anchors = (*store)->audit_anchors();
    if (!entries || !anchors) {
      std::fprintf(stderr, "rein audit verify: %s\n",
                   (!entries ? entries.error() : anchors.error()).message().c_str());
      return kExitBadInput;
    }
    verification = verify_audit(*entries, &*anchors);
  } else {
    auto entries = read_audit_jsonl(path);
    if (!entries) {
      std::fprintf(stderr, "rein audit verify: %s\n", entries.error().message().c_str());
      return kExitBadInput;
    }
    verification = verify_audit(*entries);
  }
  const nlohmann::ordered_json out = {
      {"ok", verification.ok},
      {"entries", verification.entries},
      {"first_bad", verification.first_bad ? nlohmann::ordered_json(*verification.first_bad)
                                           : nlohmann::ordered_json()},
      {"reason", verification.reason}};
  std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  return verification.ok ? kExitOk : kExitFailure;
}

}  // namespace

Runner add_audit_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto* audit = app.add_subcommand("audit", "Work with audit logs");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand(
      "verify", "Check an audit log's hash chain (JSONL file or SQLite store)");
  verify->add_option("file", *path, "audit.jsonl or a rein SQLite store")->required();
  return [path] { return run(*path); };
}

}  // namespace rein::cli
