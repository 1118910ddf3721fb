// rein::Label and rein::ValueLabels: where a value came from, carried through a run.
//
// Every value a tool, a person, memory or the model supplies carries a label with two parts:
//   - integrity: trusted, or untrusted (content an attacker may have written: a web page, an
//     email, a file from outside, anything the model wrote after reading such content);
//   - confidentiality: the host-defined levels of the data it holds (e.g. "internal",
//     "secret"); none means public. A policy names the order of its levels (PolicySpec::levels).
// `sources` says where the untrusted or confidential parts came from ("tool:email.read",
// "observation:crm-webhook", "memory:semantic"), so a decision can name the flow it refused.
//
// Labels only grow as values mix: join() keeps the weaker integrity and every level and
// source of both. The runtime propagates them (see docs/security.md):
//   - a tool's output is labelled by its ToolSpec (trusted_output, output_level) unless the
//     tool labels its result itself (ToolResult::label);
//   - observations by Observation::trusted and Observation::level; recalled memory by its
//     item's label joined with MemoryRecall::trusted;
//   - AgentState::context_label is the join of everything the planner's model may have read;
//     a step the model plans gets that label, conservatively, on all of its arguments, unless
//     the planner planned from the trusted request alone (PlanDecision::from_request_only);
//   - an argument filled in from an earlier step's output (a {"$from": ...} reference, see
//     planner.hpp) carries that output's label at its own pointer.
//
// Thread safety: plain values.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"

namespace rein {

struct Label {
  bool trusted = true;
  std::vector<std::string> levels{};   // sorted, unique; empty: public
  std::vector<std::string> sources{};  // sorted, unique: origins of untrusted or leveled parts

  // Content an attacker may have written, from `source`.
  static Label untrusted(std::string source);
  // Trusted content at a confidentiality level, from `source` ("" level: public).
  static Label at_level(std::string level, std::string source);

  // Trusted, public, with no source: what a value with no label is.
  bool is_plain() const noexcept { return trusted && levels.empty() && sources.empty(); }
  // This label widened by `other` (untrusted if either is; the levels and sources of both).
  Label& join(const Label& other);
  // For reasons and people: "untrusted, secret, from tool:files.read, tool:web.fetch".
  std::string describe() const;

  // {"trusted": bool, "levels": [...], "sources": [...]} (empty arrays left out).
  nlohmann::json to_json() const;
  static Result<Label> from_json(const nlohmann::json& j);

  friend bool operator==(const Label&, const Label&) = default;
};

// The labels of the parts of one JSON value (a step's arguments), by JSON pointer; "" is the
// whole value. Parts not listed are plain.
struct ValueLabels {
  std::vector<std::pair<std::string, Label>> parts{};  // sorted by pointer, unique

  bool empty() const noexcept { return parts.empty(); }
  // Joins `label` into the part at `pointer` (a plain label adds nothing).
  void add(const std::string& pointer, const Label& label);
  // The label of the value at `pointer`: the join of the parts that contain it or lie inside
  // it (a value is as untrusted as anything in it, and as what it was copied into).
  Label at(std::string_view pointer) const;
  // The join of every part.
  Label whole() const;

  // {"<pointer>": label, ...}
  nlohmann::json to_json() const;
  static Result<ValueLabels> from_json(const nlohmann::json& j);

  friend bool operator==(const ValueLabels&, const ValueLabels&) = default;
};

}  // namespace rein
