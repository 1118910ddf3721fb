#include "planners/plan_references.hpp"

#include <algorithm>
#include <functional>

#include "core/json_pointer.hpp"

namespace rein::detail {

using nlohmann::json;

namespace {

// Calls `visit(value, pointer)` for every reference inside `value`, outermost first; stops at
// the first error.
Status each_reference(json& value, const std::string& pointer,
                      const std::function<Status(json&, const std::string&)>& visit) {
  if (is_reference(value)) return visit(value, pointer);
  if (value.is_object()) {
    for (auto& [key, item] : value.items()) {
      if (auto s = each_reference(item, pointer + "/" + escape_json_pointer_token(key), visit); !s)
        return s;
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (auto s = each_reference(value[i], pointer + "/" + std::to_string(i), visit); !s) return s;
    }
  }
  return {};
}

Status bad(const PlanStep& step, const std::string& at, const std::string& what) {
  return Error(ErrorCode::invalid_argument, "step '" + step.id + "': the reference at argument " +
                                                (at.empty() ? std::string("(root)") : at) + " " +
                                                what);
}

// The output a well-formed reference names, or nullptr.
const json* referenced(const json& ref, const AgentState& state) {
  const auto& id = ref["$from"].get_ref<const std::string&>();
  const StepState* from = state.find_step(id);
  auto output = state.outputs.find(id);
  if (from == nullptr || from->status != StepStatus::succeeded || output == state.outputs.end())
    return nullptr;
  auto p = ref.find("pointer");
  if (p == ref.end()) return &*output;
  auto tokens =
      p->is_string() ? parse_json_pointer(p->get_ref<const std::string&>()) : std::nullopt;
  return tokens ? resolve_json_pointer(*output, *tokens) : nullptr;
}

}  // namespace

bool is_reference(const json& value) {
  return value.is_object() && value.contains("$from");
}

bool holds_reference(const json& value) {
  if (is_reference(value)) return true;
  if (!value.is_object() && !value.is_array()) return false;
  return std::any_of(value.begin(), value.end(),
                     [](const json& item) { return holds_reference(item); });
}

Status check_references(const PlanStep& step) {
  if (!holds_reference(step.args)) return {};
  json args = step.args;  // each_reference visits mutable values; a copy keeps the plan's
  return each_reference(args, "", [&](json& ref, const std::string& at) -> Status {
    for (const auto& [key, _] : ref.items()) {
      if (key != "$from" && key != "pointer")
        return bad(step, at, "has an unknown field '" + key + "' (expected $from, pointer)");
    }
    const json& from = ref["$from"];
    if (!from.is_string() || from.get_ref<const std::string&>().empty())
      return bad(step, at, "needs '$from' to be a step id");
    const auto& id = from.get_ref<const std::string&>();
    if (std::find(step.depends_on.begin(), step.depends_on.end(), id) == step.depends_on.end())
      return bad(step, at, "names step '" + id + "', which is not in its depends_on");
    if (auto p = ref.find("pointer"); p != ref.end()) {
      if (!p->is_string() || !parse_json_pointer(p->get_ref<const std::string&>()))
        return bad(step, at, "has a 'pointer' that is not a JSON pointer");
    }
    return {};
  });
}

json filled_in(json value, const AgentState& state) {
  (void)each_reference(value, "", [&](json& ref, const std::string&) -> Status {
    const bool well_formed = ref["$from"].is_string();
    const json* output = well_formed ? referenced(ref, state) : nullptr;
    ref = output != nullptr ? *output : json();
    return {};
  });
  return value;
}

Status fill_in_references(StepState& st, const AgentState& state) {
  if (!holds_reference(st.step.args)) return {};  // the usual case: nothing to copy
  json args = st.step.args;
  ValueLabels labels = st.arg_labels;
  auto filled = each_reference(args, "", [&](json& ref, const std::string& at) -> Status {
    const auto& id = ref["$from"].get_ref<const std::string&>();
    const StepState* from = state.find_step(id);
    if (from == nullptr || from->status != StepStatus::succeeded || !state.outputs.contains(id))
      return bad(st.step, at, "names step '" + id + "', which has no accepted output");
    const json* value = referenced(ref, state);
    if (value == nullptr) {
      return bad(st.step, at,
                 "points at " + ref["pointer"].get<std::string>() + ", which the output of step '" +
                     id + "' lacks");
    }
    labels.add(at, from->output_label);
    ref = *value;
    return {};
  });
  if (!filled) return filled;
  st.step.args = std::move(args);
  st.arg_labels = std::move(labels);
  return {};
}

}  // namespace rein::detail
