#include "rein/labels.hpp"

#include <algorithm>

#include "core/json_pointer.hpp"
#include "core/json_reader.hpp"
#include "core/label_json.hpp"

namespace rein {

using nlohmann::json;

namespace {

// Merges sorted, unique `from` into sorted, unique `into`.
void merge_into(std::vector<std::string>& into, const std::vector<std::string>& from) {
  if (from.empty()) return;
  if (into.empty()) {
    into = from;
    return;
  }
  // The usual join adds nothing new (the same tools, again): no allocation then.
  if (std::includes(into.begin(), into.end(), from.begin(), from.end())) return;
  std::vector<std::string> merged;
  merged.reserve(into.size() + from.size());
  std::set_union(into.begin(), into.end(), from.begin(), from.end(), std::back_inserter(merged));
  into = std::move(merged);
}

// Whether the value at `outer` contains the value at `inner` (or is it).
bool contains(std::string_view outer, std::string_view inner) {
  if (inner.size() < outer.size() || inner.compare(0, outer.size(), outer) != 0) return false;
  return inner.size() == outer.size() || inner[outer.size()] == '/';
}

Status sorted_unique(std::vector<std::string>& items, const std::string& where, const char* name) {
  for (const auto& item : items) {
    if (item.empty()) {
      return Error(ErrorCode::invalid_argument,
                   where + ": field '" + name + "' must not contain an empty string");
    }
  }
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  return {};
}

}  // namespace

Label Label::untrusted(std::string source) {
  Label label;
  label.trusted = false;
  if (!source.empty()) label.sources.push_back(std::move(source));
  return label;
}

Label Label::at_level(std::string level, std::string source) {
  Label label;
  if (level.empty()) return label;
  label.levels.push_back(std::move(level));
  if (!source.empty()) label.sources.push_back(std::move(source));
  return label;
}

Label& Label::join(const Label& other) {
  trusted = trusted && other.trusted;
  merge_into(levels, other.levels);
  merge_into(sources, other.sources);
  return *this;
}

std::string Label::describe() const {
  std::string out = trusted ? "trusted" : "untrusted";
  out += levels.empty() ? ", public" : "";
  for (const auto& level : levels)
    out += ", " + level;
  for (std::size_t i = 0; i < sources.size(); ++i)
    out += (i == 0 ? ", from " : ", ") + sources[i];
  return out;
}

json Label::to_json() const {
  json j = {{"trusted", trusted}};
  if (!levels.empty()) j["levels"] = levels;
  if (!sources.empty()) j["sources"] = sources;
  return j;
}

Result<Label> Label::from_json(const json& j) {
  return detail::read_label(j, "label");
}

void ValueLabels::add(const std::string& pointer, const Label& label) {
  if (label.is_plain()) return;
  auto it = std::lower_bound(parts.begin(), parts.end(), pointer,
                             [](const auto& part, const std::string& p) { return part.first < p; });
  if (it != parts.end() && it->first == pointer) {
    it->second.join(label);
  } else {
    parts.emplace(it, pointer, label);
  }
}

Label ValueLabels::at(std::string_view pointer) const {
  Label out;
  for (const auto& [part, label] : parts) {
    if (contains(part, pointer) || contains(pointer, part)) out.join(label);
  }
  return out;
}

Label ValueLabels::whole() const {
  Label out;
  for (const auto& part : parts)
    out.join(part.second);
  return out;
}

json ValueLabels::to_json() const {
  json j = json::object();
  for (const auto& [pointer, label] : parts)
    j[pointer] = label.to_json();
  return j;
}

Result<ValueLabels> ValueLabels::from_json(const json& j) {
  return detail::read_value_labels(j, "labels");
}

namespace detail {

Result<Label> read_label(const json& j, const std::string& where) {
  JsonReader r(j, where);
  Label label;
  r.boolean("trusted", label.trusted);
  r.strings("levels", label.levels, false);
  r.strings("sources", label.sources, false);
  if (!r.ok()) return r.status().error();
  for (const auto& [key, _] : j.items()) {
    if (key != "trusted" && key != "levels" && key != "sources")
      return Error(ErrorCode::invalid_argument, where + ": unknown field '" + key + "'");
  }
  if (auto s = sorted_unique(label.levels, where, "levels"); !s) return std::move(s).error();
  if (auto s = sorted_unique(label.sources, where, "sources"); !s) return std::move(s).error();
  return label;
}

Result<ValueLabels> read_value_labels(const json& j, const std::string& where) {
  if (!j.is_object()) return Error(ErrorCode::invalid_argument, where + ": must be an object");
  ValueLabels out;
  for (const auto& [pointer, value] : j.items()) {
    if (!parse_json_pointer(pointer)) {
      return Error(ErrorCode::invalid_argument,
                   where + ": '" + pointer + "' is not a JSON pointer");
    }
    auto label = read_label(value, where + "['" + pointer + "']");
    if (!label) return std::move(label).error();
    out.add(pointer, *label);
  }
  return out;
}

}  // namespace detail

}  // namespace rein
