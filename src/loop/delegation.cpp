#include "rein/delegation.hpp"

#include "core/json_reader.hpp"
#include "core/label_json.hpp"
#include "policy/policy_internals.hpp"

namespace rein {

using nlohmann::json;

json Ancestor::to_json() const {
  return {{"run_id", run_id},
          {"step_id", step_id},
          {"agent", agent},
          {"principal", {{"id", principal.id}, {"roles", principal.roles}}},
          {"policy", policy.to_json()}};
}

Result<Ancestor> Ancestor::from_json(const json& j) {
  detail::JsonReader r(j, "ancestor");
  Ancestor a;
  r.string("run_id", a.run_id);
  r.string("step_id", a.step_id);
  r.string("agent", a.agent);
  if (const json* p = r.field("principal", true)) {
    detail::JsonReader pr(*p, "ancestor.principal");
    pr.string("id", a.principal.id);
    pr.strings("roles", a.principal.roles);
    if (!pr.ok()) return pr.status().error();
  }
  const json* policy = r.field("policy", true);
  if (!r.ok()) return r.status().error();
  auto engine = PolicyEngine::from_json(*policy);
  if (!engine) {
    return Error(engine.error().code(),
                 "ancestor '" + a.run_id + "': policy: " + engine.error().message());
  }
  a.policy = std::move(*engine);
  return a;
}

std::vector<std::string> Delegation::chain() const {
  std::vector<std::string> out;
  out.reserve(ancestors.size());
  for (const auto& a : ancestors)
    out.push_back(a.run_id);
  return out;
}

json Delegation::to_json() const {
  json list = json::array();
  for (const auto& a : ancestors)
    list.push_back(a.to_json());
  return {{"ancestors", std::move(list)},
          {"carve", detail::budgets_json(carve)},
          {"input_label", input_label.to_json()},
          {"parent_audit_entry", parent_audit_entry},
          {"parent_span_id", parent_span_id}};
}

Result<Delegation> Delegation::from_json(const json& j) {
  detail::JsonReader r(j, "delegation");
  Delegation d;
  const json* ancestors = r.field("ancestors", true);
  const json* carve = r.field("carve", true);
  const json* label = r.field("input_label", false);
  r.string("parent_audit_entry", d.parent_audit_entry, false);
  r.string("parent_span_id", d.parent_span_id, false);
  if (!r.ok()) return r.status().error();
  if (!ancestors->is_array())
    return Error(ErrorCode::invalid_argument, "delegation: field 'ancestors' must be an array");
  for (const auto& a : *ancestors) {
    auto ancestor = Ancestor::from_json(a);
    if (!ancestor) {
      return Error(ancestor.error().code(), "delegation: " + ancestor.error().message());
    }
    d.ancestors.push_back(std::move(*ancestor));
  }
  auto budgets = detail::budgets_from_json(*carve);
  if (!budgets)
    return Error(budgets.error().code(), "delegation.carve: " + budgets.error().message());
  d.carve = std::move(*budgets);
  if (label != nullptr) {
    auto l = detail::read_label(*label, "delegation.input_label");
    if (!l) return std::move(l).error();
    d.input_label = std::move(*l);
  }
  return d;
}

Delegation CallerRun::for_child() const {
  Delegation d;
  if (delegation) d.ancestors = delegation->ancestors;
  d.ancestors.push_back({run_id, step_id, agent, principal, policy});
  d.carve = left;
  d.input_label = arguments_label;
  d.parent_audit_entry = audit_head;
  d.parent_span_id = span_id;
  return d;
}

}  // namespace rein
