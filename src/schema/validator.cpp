#include "schema/validator.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>

#include <re2/re2.h>

#include "core/json_text.hpp"
#include "core/utf8.hpp"
#include "schema/documents.hpp"

namespace rein::detail {
namespace {

using nlohmann::json;

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "binary";
  }
}

bool is_integral(const json& v) {
  if (v.is_number_integer()) return true;  // covers unsigned too
  if (!v.is_number_float()) return false;
  const double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

inline bool type_matches(unsigned types, const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return (types & kNull) != 0;
    case json::value_t::boolean:
      return (types & kBoolean) != 0;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return (types & (kInteger | kNumber)) != 0;
    case json::value_t::number_float:
      return (types & kNumber) != 0 || ((types & kInteger) != 0 && is_integral(v));
    case json::value_t::string:
      return (types & kString) != 0;
    case json::value_t::array:
      return (types & kArray) != 0;
    case json::value_t::object:
      return (types & kObject) != 0;
    default:
      return false;
  }
}

std::string types_text(unsigned types) {
  static constexpr std::pair<unsigned, const char*> kNames[] = {
      {kNull, "null"},     {kBoolean, "boolean"}, {kInteger, "integer"}, {kNumber, "number"},
      {kString, "string"}, {kArray, "array"},     {kObject, "object"}};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((types & bit) == 0) continue;
    if (!out.empty()) out += " or ";
    out += name;
  }
  return out;
}

std::string number_text(double d) {
  json j = d;
  if (is_integral(j) && std::fabs(d) < 9e15) return std::to_string(static_cast<long long>(d));
  return json_text(j);
}

bool is_multiple(const json& v, double m) {
  if (v.is_number_integer() && std::floor(m) == m && m < 9e15) {
    const auto divisor = static_cast<std::int64_t>(m);
    if (v.is_number_unsigned())
      return v.get<std::uint64_t>() % static_cast<std::uint64_t>(divisor) == 0;
    return v.get<std::int64_t>() % divisor == 0;
  }
  const double x = v.get<double>();
  const double q = x / m;
  if (!std::isfinite(q)) return std::fmod(x, m) == 0.0;  // fmod is exact, division overflowed
  // Binary fractions make 0.0075 / 0.0001 come out as 74.99999999999999.
  return std::fabs(q - std::nearbyint(q)) <= 1e-9 * std::max(1.0, std::fabs(q));
}

// True when `v` nests deeper than `limit`, without recursing further than that.
bool deeper_than(const json& v, int limit) {
  if (!v.is_structured()) return false;
  if (limit <= 0) return true;
  for (const auto& item : v) {
    if (deeper_than(item, limit - 1)) return true;
  }
  return false;
}

// Where the value being checked is, built into a string only when a violation is reported.
struct Path {
  const Path* parent;
  std::string_view key;
  std::size_t index;
  bool is_index;

  std::string pointer() const {
    std::vector<const Path*> chain;
    for (const Path* p = this; p != nullptr && p->parent != nullptr; p = p->parent)
      chain.push_back(p);
    std::string out;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      out += '/';
      out += (*it)->is_index ? std::to_string((*it)->index) : SchemaDocuments::escape((*it)->key);
    }
    return out;
  }
};

// Where in the schema evaluation is, through $ref: keyword, then a name or an index.
struct SchemaPath {
  enum Kind : unsigned char { kRoot, kKeyword, kName, kIndex };
  const SchemaPath* parent;
  std::string_view keyword;
  std::string_view name;
  std::size_t index;
  Kind kind;

  std::string pointer() const {
    std::vector<const SchemaPath*> chain;
    for (const SchemaPath* p = this; p != nullptr && p->kind != kRoot; p = p->parent)
      chain.push_back(p);
    std::string out;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      (out += '/') += (*it)->keyword;
      if ((*it)->kind == kName) (out += '/') += SchemaDocuments::escape((*it)->name);
      if ((*it)->kind == kIndex) (out += '/') += std::to_string((*it)->index);
    }
    return out;
  }
};

SchemaPath keyword_path(const SchemaPath& parent, std::string_view keyword) {
  return {&parent, keyword, {}, 0, SchemaPath::kKeyword};
}
SchemaPath name_path(const SchemaPath& parent, std::string_view keyword, std::string_view name) {
  return {&parent, keyword, name, 0, SchemaPath::kName};
}
SchemaPath index_path(const SchemaPath& parent, std::string_view keyword, std::size_t i) {
  return {&parent, keyword, {}, i, SchemaPath::kIndex};
}

// Which properties (by position in the object) or items of one instance were evaluated by
// some keyword: the annotations unevaluatedProperties and unevaluatedItems depend on.
struct Evaluated {
  std::vector<bool> marks;
  explicit Evaluated(const json& v) : marks(v.is_structured() ? v.size() : 0, false) {}
  void mark(std::size_t i) { marks[i] = true; }
  void mark_all() { std::fill(marks.begin(), marks.end(), true); }
  void merge(const Evaluated& other) {
    for (std::size_t i = 0; i < marks.size(); ++i)
      marks[i] = marks[i] || other.marks[i];
  }
};

std::string summary(const std::vector<SchemaViolation>& violations) {
  constexpr std::size_t kLimit = 600;  // a message for people, not a dump
  std::string out = describe(violations);
  if (out.size() > kLimit) out = out.substr(0, kLimit) + "...";
  return out;
}

class Validator {
 public:
  Validator(const CompiledSchema& schema, std::vector<SchemaViolation>* out)
      : schema_(schema), nodes_(schema.nodes), out_(out) {}

  bool check(int index, const json& v, const Path& path, const SchemaPath& sp, Evaluated* ev,
             int depth, int nesting);

 private:
  bool collecting() const { return out_ != nullptr; }

  template <class Message>
  bool fail(const Path& path, const SchemaPath& sp, const char* keyword, Message&& message) {
    if (out_ != nullptr) {
      out_->push_back({path.pointer(), keyword, message(), sp.pointer() + "/" + keyword});
    }
    return false;
  }

  // Runs `index` with violations going to `into` (nullptr: nowhere, stop at the first).
  bool run_into(std::vector<SchemaViolation>* into, int index, const json& v, const Path& path,
                const SchemaPath& sp, Evaluated* ev, int depth, int nesting) {
    auto* saved = out_;
    out_ = into;
    const bool ok = check(index, v, path, sp, ev, depth, nesting);
    out_ = saved;
    return ok;
  }

  // Inlined into check(): one call per subschema, as before unevaluated* and $dynamicRef.
  [[gnu::always_inline]] inline bool check_node(const Node& n, const json& v, const Path& path,
                                                const SchemaPath& sp, Evaluated* ev, int depth,
                                                int nesting);
  [[gnu::always_inline]] inline bool check_keywords(const Node& n, const json& v, const Path& path,
                                                    const SchemaPath& sp, Evaluated* track,
                                                    int depth, int nesting);
  bool check_number(const Node& n, const json& v, const Path& path, const SchemaPath& sp);
  bool check_string(const Node& n, const std::string& s, const Path& path, const SchemaPath& sp);
  bool check_array(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                   Evaluated* ev, int depth, int nesting);
  bool check_object(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                    Evaluated* ev, int depth, int nesting);
  bool check_in_place(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                      Evaluated* ev, int depth, int nesting);
  bool check_any_of(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                    Evaluated* ev, int depth, int nesting);
  bool check_one_of(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                    Evaluated* ev, int depth, int nesting);
  bool check_unevaluated(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                         Evaluated& evaluated, int depth, int nesting);
  int dynamic_target(const DynamicRef& ref) const;

  const CompiledSchema& schema_;
  const std::vector<Node>& nodes_;
  std::vector<SchemaViolation>* out_;
  std::vector<int> scope_;  // resources entered, outermost first (only with $dynamicRef)
  std::size_t evaluations_ = 0;
};

bool Validator::check(int index, const json& v, const Path& path, const SchemaPath& sp,
                      Evaluated* ev, int depth, int nesting) {
  const Node& n = nodes_[static_cast<std::size_t>(index)];
  if (n.accept_nothing) {
    if (out_ != nullptr)
      out_->push_back({path.pointer(), "false", "no value is allowed here", sp.pointer()});
    return false;
  }
  if (++evaluations_ > schema_.max_evaluations) {
    if (evaluations_ == schema_.max_evaluations + 1) {
      return fail(path, sp, "maxEvaluations", [&] {
        return "validation stopped after " + std::to_string(schema_.max_evaluations) +
               " subschema evaluations (max_evaluations)";
      });
    }
    return false;
  }
  if (depth > JsonSchema::kMaxDepth) {
    return fail(path, sp, "depth",
                [] { return "nested deeper than " + std::to_string(JsonSchema::kMaxDepth); });
  }
  if (nesting > JsonSchema::kMaxEvaluationDepth) {
    return fail(path, sp, "depth", [] {
      return "schema evaluation nested deeper than " +
             std::to_string(JsonSchema::kMaxEvaluationDepth) + " (a $dynamicRef cycle?)";
    });
  }
  if (!schema_.uses_dynamic_ref || (!scope_.empty() && scope_.back() == n.resource)) {
    return check_node(n, v, path, sp, ev, depth, nesting);
  }
  scope_.push_back(n.resource);  // entering another schema resource ($dynamicRef's scope)
  const bool ok = check_node(n, v, path, sp, ev, depth, nesting);
  scope_.pop_back();
  return ok;
}

bool Validator::check_node(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                           Evaluated* ev, int depth, int nesting) {
  // unevaluated* need the annotations of this node's other keywords, gathered here; the
  // common case pays nothing for them.
  if ((n.flags & kHasUnevaluated) != 0 && type_matches(n.types, v) &&
      ((n.unevaluated_properties >= 0 && v.is_object()) ||
       (n.unevaluated_items >= 0 && v.is_array()))) {
    Evaluated local(v);
    bool ok = check_keywords(n, v, path, sp, &local, depth, nesting);
    if (!ok && !collecting()) return false;
    ok = check_unevaluated(n, v, path, sp, local, depth, nesting) && ok;
    if (ev != nullptr) ev->merge(local);
    return ok;
  }
  return check_keywords(n, v, path, sp, ev, depth, nesting);
}

bool Validator::check_keywords(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                               Evaluated* track, int depth, int nesting) {
  bool ok = true;
  if ((n.flags & kHasRefs) != 0 && n.ref >= 0 &&
      !check(n.ref, v, path, keyword_path(sp, "$ref"), track, depth, nesting + 1)) {
    if (!collecting()) return false;
    ok = false;
  }
  if ((n.flags & kHasRefs) != 0 && n.dynamic_ref &&
      !check(dynamic_target(*n.dynamic_ref), v, path, keyword_path(sp, "$dynamicRef"), track, depth,
             nesting + 1)) {
    if (!collecting()) return false;
    ok = false;
  }
  if (n.types != kAnyType && !type_matches(n.types, v)) {
    // Further keywords would only repeat the type mismatch.
    return fail(path, sp, "type",
                [&] {
                  return std::string("expected ") + types_text(n.types) + ", got " + type_name(v);
                }) &&
           ok;
  }
  if ((n.flags & kHasValues) != 0 && n.const_value && !(v == *n.const_value)) {
    ok = fail(path, sp, "const", [&] { return "must equal " + json_text(*n.const_value); });
    if (!collecting()) return false;
  }
  if ((n.flags & kHasValues) != 0 && n.enum_values &&
      std::find(n.enum_values->begin(), n.enum_values->end(), v) == n.enum_values->end()) {
    ok =
        fail(path, sp, "enum", [&] { return "must be one of " + json_text(json(*n.enum_values)); });
    if (!collecting()) return false;
  }
  if (v.is_number()) {
    if ((n.flags & kHasNumber) != 0) ok = check_number(n, v, path, sp) && ok;
  } else if (v.is_string()) {
    if ((n.flags & kHasString) != 0)
      ok = check_string(n, v.get_ref<const std::string&>(), path, sp) && ok;
  } else if (v.is_array()) {
    if ((n.flags & kHasArray) != 0) ok = check_array(n, v, path, sp, track, depth, nesting) && ok;
  } else if (v.is_object()) {
    if ((n.flags & kHasObject) != 0) ok = check_object(n, v, path, sp, track, depth, nesting) && ok;
  }
  if (!ok && !collecting()) return false;
  if ((n.flags & kHasInPlace) != 0) {
    ok = check_in_place(n, v, path, sp, track, depth, nesting) && ok;
  }
  return ok;
}

int Validator::dynamic_target(const DynamicRef& ref) const {
  if (!ref.dynamic) return ref.initial;
  // The outermost resource in the dynamic scope that declares the anchor wins.
  for (int r : scope_) {
    for (const auto& [name, node] :
         schema_.resources[static_cast<std::size_t>(r)].dynamic_anchors) {
      if (name == ref.anchor) return node;
    }
  }
  return ref.initial;
}

bool Validator::check_number(const Node& n, const json& v, const Path& path, const SchemaPath& sp) {
  const double d = v.get<double>();
  bool ok = true;
  auto bound = [&](const std::optional<double>& limit, bool violated, const char* keyword,
                   const char* relation) {
    if (!violated) return;
    ok = fail(path, sp, keyword,
              [&] { return std::string("must be ") + relation + " " + number_text(*limit); });
  };
  bound(n.minimum, n.minimum && d < *n.minimum, "minimum", ">=");
  if (!ok && !collecting()) return false;
  bound(n.maximum, n.maximum && d > *n.maximum, "maximum", "<=");
  if (!ok && !collecting()) return false;
  bound(n.exclusive_minimum, n.exclusive_minimum && d <= *n.exclusive_minimum, "exclusiveMinimum",
        ">");
  if (!ok && !collecting()) return false;
  bound(n.exclusive_maximum, n.exclusive_maximum && d >= *n.exclusive_maximum, "exclusiveMaximum",
        "<");
  if (!ok && !collecting()) return false;
  if (n.multiple_of && !is_multiple(v, *n.multiple_of)) {
    ok = fail(path, sp, "multipleOf",
              [&] { return "must be a multiple of " + number_text(*n.multiple_of); });
  }
  return ok;
}

bool Validator::check_string(const Node& n, const std::string& s, const Path& path,
                             const SchemaPath& sp) {
  bool ok = true;
  if (n.min_length || n.max_length) {
    const std::size_t length = utf8::code_points(s);
    if (n.min_length && length < *n.min_length) {
      ok = fail(path, sp, "minLength", [&] {
        return "must be at least " + std::to_string(*n.min_length) + " characters long, is " +
               std::to_string(length);
      });
      if (!collecting()) return false;
    }
    if (n.max_length && length > *n.max_length) {
      ok = fail(path, sp, "maxLength", [&] {
        return "must be at most " + std::to_string(*n.max_length) + " characters long, is " +
               std::to_string(length);
      });
      if (!collecting()) return false;
    }
  }
  if (n.pattern && !RE2::PartialMatch(s, *n.pattern->re)) {
    ok = fail(path, sp, "pattern",
              [&] { return "does not match pattern " + json_text(json(n.pattern->source)); });
    if (!collecting()) return false;
  }
  if (n.format != Format::none && !format_matches(n.format, s)) {
    ok = fail(path, sp, "format",
              [&] { return std::string("is not a valid ") + format_name(n.format); });
  }
  return ok;
}

bool Validator::check_array(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                            Evaluated* ev, int depth, int nesting) {
  bool ok = true;
  const std::size_t size = v.size();
  if (n.min_items && size < *n.min_items) {
    ok = fail(path, sp, "minItems", [&] {
      return "must have at least " + std::to_string(*n.min_items) + " items, has " +
             std::to_string(size);
    });
    if (!collecting()) return false;
  }
  if (n.max_items && size > *n.max_items) {
    ok = fail(path, sp, "maxItems", [&] {
      return "must have at most " + std::to_string(*n.max_items) + " items, has " +
             std::to_string(size);
    });
    if (!collecting()) return false;
  }
  if (n.unique_items && size > 1) {
    // Sorting keeps this n·log n; comparisons recurse, so over-deep items are refused first.
    if (deeper_than(v, JsonSchema::kMaxDepth - depth)) {
      return fail(path, sp, "depth",
                  [] { return "nested deeper than " + std::to_string(JsonSchema::kMaxDepth); });
    }
    std::vector<const json*> sorted;
    sorted.reserve(size);
    for (const auto& item : v)
      sorted.push_back(&item);
    std::sort(sorted.begin(), sorted.end(), [](const json* a, const json* b) { return *a < *b; });
    for (std::size_t i = 1; i < sorted.size(); ++i) {
      if (*sorted[i - 1] == *sorted[i]) {
        ok = fail(path, sp, "uniqueItems",
                  [&] { return "items must be unique; " + json_text(*sorted[i]) + " repeats"; });
        if (!collecting()) return false;
        break;
      }
    }
  }
  const std::size_t prefix = std::min(n.prefix_items.size(), size);
  for (std::size_t i = 0; i < prefix; ++i) {
    const Path child{&path, {}, i, true};
    if (!check(n.prefix_items[i], v[i], child, index_path(sp, "prefixItems", i), nullptr, depth + 1,
               nesting + 1)) {
      ok = false;
      if (!collecting()) return false;
    }
    if (ev != nullptr) ev->mark(i);
  }
  if (n.items >= 0 && size > prefix) {
    const SchemaPath items_path = keyword_path(sp, n.items_keyword);
    const bool none = nodes_[static_cast<std::size_t>(n.items)].accept_nothing;
    for (std::size_t i = prefix; i < size; ++i) {
      const Path child{&path, {}, i, true};
      if (none) {
        ok = fail(path, sp, n.items_keyword, [&] {
          return "must have at most " + std::to_string(prefix) + " items, has " +
                 std::to_string(size);
        });
        if (!collecting()) return false;
        break;
      }
      if (!check(n.items, v[i], child, items_path, nullptr, depth + 1, nesting + 1)) {
        ok = false;
        if (!collecting()) return false;
      }
    }
    if (ev != nullptr) ev->mark_all();
  }
  if (n.contains >= 0) {
    std::size_t matches = 0;
    const SchemaPath contains_path = keyword_path(sp, "contains");
    for (std::size_t i = 0; i < size; ++i) {
      const Path child{&path, {}, i, true};
      if (run_into(nullptr, n.contains, v[i], child, contains_path, nullptr, depth + 1,
                   nesting + 1)) {
        ++matches;
        if (ev != nullptr) ev->mark(i);
        if (ev == nullptr && !n.max_contains && matches >= n.min_contains) break;
      }
    }
    if (matches < n.min_contains) {
      ok = fail(path, sp, n.min_contains == 1 ? "contains" : "minContains", [&] {
        return "must contain at least " + std::to_string(n.min_contains) +
               " item(s) matching the 'contains' schema, has " + std::to_string(matches);
      });
      if (!collecting()) return false;
    }
    if (n.max_contains && matches > *n.max_contains) {
      ok = fail(path, sp, "maxContains", [&] {
        return "must contain at most " + std::to_string(*n.max_contains) +
               " item(s) matching the 'contains' schema, has " + std::to_string(matches);
      });
    }
  }
  return ok;
}

bool Validator::check_object(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                             Evaluated* ev, int depth, int nesting) {
  bool ok = true;
  for (const auto& name : n.required) {
    if (!v.contains(name)) {
      const Path child{&path, name, 0, false};
      ok = fail(child, sp, "required",
                [&] { return "required property '" + name + "' is missing"; });
      if (!collecting()) return false;
    }
  }
  for (const auto& dependency : n.dependent_required) {
    const std::string& name = dependency.first;  // lambdas may not capture structured bindings
    if (!v.contains(name)) continue;
    for (const auto& other : dependency.second) {
      if (v.contains(other)) continue;
      const Path child{&path, other, 0, false};
      ok = fail(child, sp, n.dependent_required_keyword, [&] {
        return "property '" + other + "' is required when '" + name + "' is present";
      });
      if (!collecting()) return false;
    }
  }
  if (n.min_properties && v.size() < *n.min_properties) {
    ok = fail(path, sp, "minProperties", [&] {
      return "must have at least " + std::to_string(*n.min_properties) + " properties, has " +
             std::to_string(v.size());
    });
    if (!collecting()) return false;
  }
  if (n.max_properties && v.size() > *n.max_properties) {
    ok = fail(path, sp, "maxProperties", [&] {
      return "must have at most " + std::to_string(*n.max_properties) + " properties, has " +
             std::to_string(v.size());
    });
    if (!collecting()) return false;
  }
  if (n.properties.empty() && n.pattern_properties.empty() && n.additional < 0 &&
      n.property_names < 0) {
    return ok;
  }
  std::size_t ordinal = 0;
  // The map itself: nlohmann's generic iterators cost a type switch per step.
  for (const auto& entry : v.get_ref<const json::object_t&>()) {
    const std::string& key = entry.first;  // lambdas may not capture structured bindings
    const json& value = entry.second;
    const std::size_t position = ordinal++;
    const Path child{&path, key, 0, false};
    bool matched = false;
    if (!n.properties.empty()) {
      auto p = std::lower_bound(
          n.properties.begin(), n.properties.end(), key,
          [](const std::pair<std::string, int>& e, const std::string& k) { return e.first < k; });
      if (p != n.properties.end() && p->first == key) {
        matched = true;
        if (!check(p->second, value, child, name_path(sp, "properties", p->first), nullptr,
                   depth + 1, nesting + 1)) {
          ok = false;
          if (!collecting()) return false;
        }
      }
    }
    for (const auto& pp : n.pattern_properties) {
      if (!RE2::PartialMatch(key, *pp.pattern.re)) continue;
      matched = true;
      if (!check(pp.schema, value, child, name_path(sp, "patternProperties", pp.pattern.source),
                 nullptr, depth + 1, nesting + 1)) {
        ok = false;
        if (!collecting()) return false;
      }
    }
    if (!matched && n.additional >= 0) {
      matched = true;
      if (nodes_[static_cast<std::size_t>(n.additional)].accept_nothing) {
        ok = fail(child, sp, "additionalProperties",
                  [&] { return "property '" + key + "' is not allowed"; });
        if (!collecting()) return false;
      } else if (!check(n.additional, value, child, keyword_path(sp, "additionalProperties"),
                        nullptr, depth + 1, nesting + 1)) {
        ok = false;
        if (!collecting()) return false;
      }
    }
    if (matched && ev != nullptr) ev->mark(position);
    if (n.property_names >= 0) {
      const json name = key;
      std::vector<SchemaViolation> why;
      if (!run_into(collecting() ? &why : nullptr, n.property_names, name, path,
                    keyword_path(sp, "propertyNames"), nullptr, depth + 1, nesting + 1)) {
        ok = fail(path, sp, "propertyNames",
                  [&] { return "property name '" + key + "' is invalid: " + summary(why); });
        if (!collecting()) return false;
      }
    }
  }
  return ok;
}

bool Validator::check_in_place(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                               Evaluated* ev, int depth, int nesting) {
  bool ok = true;
  for (std::size_t i = 0; i < n.all_of.size(); ++i) {
    if (!check(n.all_of[i], v, path, index_path(sp, "allOf", i), ev, depth, nesting + 1)) {
      ok = false;
      if (!collecting()) return false;
    }
  }
  if (!n.any_of.empty() && !check_any_of(n, v, path, sp, ev, depth, nesting)) {
    ok = false;
    if (!collecting()) return false;
  }
  if (!n.one_of.empty() && !check_one_of(n, v, path, sp, ev, depth, nesting)) {
    ok = false;
    if (!collecting()) return false;
  }
  if (n.not_schema >= 0 && run_into(nullptr, n.not_schema, v, path, keyword_path(sp, "not"),
                                    nullptr, depth, nesting + 1)) {
    ok = fail(path, sp, "not", [] { return std::string("must not match the 'not' schema"); });
    if (!collecting()) return false;
  }
  if (n.if_schema >= 0) {
    std::optional<Evaluated> tentative;
    if (ev != nullptr) tentative.emplace(v);
    const bool matched = run_into(nullptr, n.if_schema, v, path, keyword_path(sp, "if"),
                                  tentative ? &*tentative : nullptr, depth, nesting + 1);
    if (matched && tentative) ev->merge(*tentative);
    const int branch = matched ? n.then_schema : n.else_schema;
    if (branch >= 0 && !check(branch, v, path, keyword_path(sp, matched ? "then" : "else"), ev,
                              depth, nesting + 1)) {
      ok = false;
      if (!collecting()) return false;
    }
  }
  if (!n.dependent_schemas.empty() && v.is_object()) {
    for (const auto& [name, sub] : n.dependent_schemas) {
      if (!v.contains(name)) continue;
      if (!check(sub, v, path, name_path(sp, n.dependent_schemas_keyword, name), ev, depth,
                 nesting + 1)) {
        ok = false;
        if (!collecting()) return false;
      }
    }
  }
  return ok;
}

bool Validator::check_any_of(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                             Evaluated* ev, int depth, int nesting) {
  bool matched = false;
  std::vector<SchemaViolation> why;
  for (std::size_t i = 0; i < n.any_of.size(); ++i) {
    if (matched && ev == nullptr) break;  // every passing branch adds annotations, if needed
    std::optional<Evaluated> tentative;
    if (ev != nullptr) tentative.emplace(v);
    if (run_into(collecting() && !matched ? &why : nullptr, n.any_of[i], v, path,
                 index_path(sp, "anyOf", i), tentative ? &*tentative : nullptr, depth,
                 nesting + 1)) {
      matched = true;
      if (tentative) ev->merge(*tentative);
    }
  }
  if (matched) return true;
  return fail(path, sp, "anyOf", [&] {
    return "does not match any of the " + std::to_string(n.any_of.size()) +
           " alternatives: " + summary(why);
  });
}

bool Validator::check_one_of(const Node& n, const json& v, const Path& path, const SchemaPath& sp,
                             Evaluated* ev, int depth, int nesting) {
  std::vector<std::size_t> matched;
  std::optional<Evaluated> chosen;
  std::vector<SchemaViolation> why;
  for (std::size_t i = 0; i < n.one_of.size() && matched.size() < 2; ++i) {
    std::optional<Evaluated> tentative;
    if (ev != nullptr) tentative.emplace(v);
    if (run_into(collecting() ? &why : nullptr, n.one_of[i], v, path, index_path(sp, "oneOf", i),
                 tentative ? &*tentative : nullptr, depth, nesting + 1)) {
      matched.push_back(i);
      if (tentative) chosen = std::move(tentative);
    }
  }
  if (matched.size() == 1) {
    if (chosen) ev->merge(*chosen);
    return true;
  }
  if (matched.empty()) {
    return fail(path, sp, "oneOf", [&] {
      return "does not match any of the " + std::to_string(n.one_of.size()) +
             " alternatives: " + summary(why);
    });
  }
  return fail(path, sp, "oneOf", [&] {
    return "matches alternatives " + std::to_string(matched[0]) + " and " +
           std::to_string(matched[1]) + "; exactly one must match";
  });
}

bool Validator::check_unevaluated(const Node& n, const json& v, const Path& path,
                                  const SchemaPath& sp, Evaluated& evaluated, int depth,
                                  int nesting) {
  bool ok = true;
  if (v.is_object() && n.unevaluated_properties >= 0) {
    const bool none = nodes_[static_cast<std::size_t>(n.unevaluated_properties)].accept_nothing;
    const SchemaPath here = keyword_path(sp, "unevaluatedProperties");
    std::size_t ordinal = 0;
    for (const auto& entry : v.get_ref<const json::object_t&>()) {
      if (evaluated.marks[ordinal++]) continue;
      const Path child{&path, entry.first, 0, false};
      if (none) {
        ok = fail(child, sp, "unevaluatedProperties",
                  [&] { return "property '" + entry.first + "' is not allowed"; });
      } else if (!check(n.unevaluated_properties, entry.second, child, here, nullptr, depth + 1,
                        nesting + 1)) {
        ok = false;
      }
      if (!ok && !collecting()) return false;
    }
  } else if (v.is_array() && n.unevaluated_items >= 0) {
    const bool none = nodes_[static_cast<std::size_t>(n.unevaluated_items)].accept_nothing;
    const SchemaPath here = keyword_path(sp, "unevaluatedItems");
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (evaluated.marks[i]) continue;
      const Path child{&path, {}, i, true};
      if (none) {
        ok = fail(child, sp, "unevaluatedItems",
                  [&] { return "item " + std::to_string(i) + " is not allowed"; });
      } else if (!check(n.unevaluated_items, v[i], child, here, nullptr, depth + 1, nesting + 1)) {
        ok = false;
      }
      if (!ok && !collecting()) return false;
    }
  }
  evaluated.mark_all();
  return ok;
}

}  // namespace

bool validate_instance(const CompiledSchema& schema, const json& instance,
                       std::vector<SchemaViolation>* out) {
  Validator validator(schema, out);
  const Path root{nullptr, {}, 0, false};
  const SchemaPath schema_root{nullptr, {}, {}, 0, SchemaPath::kRoot};
  return validator.check(0, instance, root, schema_root, nullptr, 0, 0);
}

}  // namespace rein::detail
