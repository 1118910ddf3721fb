// rein::Blackboard: a shared context for the agents of one orchestration.
//
// Workers of a tree of runs (delegation.hpp) often need what another found: a figure, a source,
// a decision. A blackboard holds keyed entries with their provenance — which agent wrote what,
// from which run and step, when, and the label of the value — scoped to one orchestration: the
// root run of the writer's tree. Runs of another tree never see them.
//
// Agents reach it through two tools, registered on each agent's registry that may use it
// (register_blackboard_tools), and allowed like any tool by every policy in the chain:
//   blackboard.write {"key": string, "value": any}   side-effecting, keyed: a write that is
//       replayed after a crash writes the same entry again; a later write of a key replaces it;
//   blackboard.read  {"prefix"?: string}             the entries whose keys start with prefix.
// What read returns is labelled untrusted ("blackboard") unless BlackboardOptions::trusted is
// set, joined with the labels of the entries read (a value written from untrusted arguments
// stays untrusted, a secret one secret), so planners show it to models as data.
//
// Kept in memory, or in a SQLite file (open()) so that a tree resumed after a crash finds what
// its workers had written.
//
// Thread safety: all members may be called concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"
#include "rein/labels.hpp"

namespace rein {

class ToolRegistry;

struct BlackboardEntry {
  std::string key{};
  nlohmann::json value{};
  std::string agent{};   // who wrote it
  std::string run_id{};  // the run that wrote it
  std::string step_id{};
  std::int64_t at_millis = 0;
  Label label{};  // where the value came from (the write's argument labels)

  nlohmann::json to_json() const;  // {"key", "value", "agent", "run_id", "step_id", "at_millis"}
};

struct BlackboardOptions {
  bool trusted = false;            // readers see entries as trusted data (their labels still hold)
  std::size_t max_entries = 1000;  // per orchestration; a write of a new key past it fails
  std::size_t max_value_bytes = 65536;  // a value's JSON text
};

class Blackboard {
 public:
  // In memory: gone with the process.
  static std::shared_ptr<Blackboard> in_memory(BlackboardOptions options = {});
  // In a SQLite file (created when missing). Errors as SqliteStore::open's.
  static Result<std::shared_ptr<Blackboard>> open(const std::filesystem::path& path,
                                                  BlackboardOptions options = {});
  ~Blackboard();
  Blackboard(const Blackboard&) = delete;
  Blackboard& operator=(const Blackboard&) = delete;

  // Writes (or replaces) the entry at entry.key in `scope`. invalid_argument for an empty key or
  // a value over max_value_bytes; budget_exhausted past max_entries.
  Status write(std::string_view scope, BlackboardEntry entry);
  // The entries of `scope` whose keys start with `prefix`, by key.
  Result<std::vector<BlackboardEntry>> read(std::string_view scope,
                                            std::string_view prefix = {}) const;
  // Forgets a finished orchestration's entries.
  Status clear(std::string_view scope);
  const BlackboardOptions& options() const noexcept;

 private:
  struct Impl;
  explicit Blackboard(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Registers blackboard.write and blackboard.read on `tools` (errors: those of
// ToolRegistry::register_tool; invalid_argument for a null board). The tools need a calling run
// (ToolContext::caller()): called outside one, they fail.
Status register_blackboard_tools(ToolRegistry& tools, std::shared_ptr<Blackboard> board);

}  // namespace rein
