#include "schema/compiler.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_map>

#include <re2/re2.h>

#include "core/json_text.hpp"
#include "schema/documents.hpp"
#include "schema/ecma_regex.hpp"

namespace rein::detail {
namespace {

using nlohmann::json;

Result<std::size_t> count_of(const json& value, const std::string& where,
                             const std::string& keyword) {
  if (value.is_number_unsigned()) return static_cast<std::size_t>(value.get<std::uint64_t>());
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    return static_cast<std::size_t>(value.get<std::int64_t>());
  }
  // 2.0 is an integer too; very large counts saturate.
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isfinite(d) && d >= 0 && std::floor(d) == d) {
      return d >= 1.8e19 ? SIZE_MAX : static_cast<std::size_t>(d);
    }
  }
  return bad(where, keyword + " must be a non-negative integer");
}

Result<double> number_of(const json& value, const std::string& where, const std::string& keyword) {
  if (!value.is_number()) {
    return bad(where,
               keyword + " must be a number" +
                   (value.is_boolean() ? " (the draft-4 boolean form is not supported)" : ""));
  }
  return value.get<double>();
}

Result<unsigned> parse_type(const json& value, const std::string& where) {
  static constexpr std::pair<std::string_view, unsigned> kTypes[] = {
      {"null", kNull},     {"boolean", kBoolean}, {"integer", kInteger}, {"number", kNumber},
      {"string", kString}, {"array", kArray},     {"object", kObject}};
  auto one = [&](const json& name) -> Result<unsigned> {
    if (name.is_string()) {
      for (const auto& [text, bit] : kTypes) {
        if (name.get_ref<const std::string&>() == text) return bit;
      }
    }
    return bad(where, "unknown type " + json_text(name));
  };
  if (value.is_string()) return one(value);
  if (!value.is_array() || value.empty()) {
    return bad(where, "type must be a type name or a non-empty array of them");
  }
  unsigned bits = 0;
  for (const auto& name : value) {
    auto bit = one(name);
    if (!bit) return bit;
    bits |= *bit;
  }
  return bits;
}

// Keywords with no effect on validation, in both drafts.
constexpr std::string_view kAnnotations[] = {
    "$schema",         "$id",           "$comment",    "title",      "description",
    "default",         "examples",      "readOnly",    "writeOnly",  "contentMediaType",
    "contentEncoding", "contentSchema", "$vocabulary", "deprecated", "$anchor",
    "$dynamicAnchor"};

bool is_one_of(std::string_view key, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), key) != names.end();
}

class Compiler {
 public:
  Compiler(const JsonSchemaOptions& options, CompiledSchema& out)
      : options_(options), out_(out), docs_(options) {}

  Status run() {
    if (auto s = docs_.add_root(out_.source); !s.ok()) return s;
    if (auto root = node_for({0, ""}); !root) return std::move(root).error();
    while (true) {
      for (; next_ < pending_.size(); ++next_) {
        if (auto s = fill(next_); !s.ok()) return s;
      }
      if (!out_.uses_dynamic_ref) break;
      // $dynamicRef may land on any dynamic anchor of a resource in the dynamic scope.
      const std::size_t before = pending_.size();
      for (std::size_t r = 0; r < docs_.resources().size(); ++r) {
        const auto anchors = docs_.resources()[r].dynamic_anchors;
        const int document = docs_.resources()[r].root.document;
        for (const auto& [name, pointer] : anchors) {
          if (auto n = node_for({document, pointer}); !n) return std::move(n).error();
        }
      }
      if (pending_.size() == before) break;
    }
    for (const auto& r : docs_.resources()) {
      Resource resource{r.uri, {}};
      for (const auto& [name, pointer] : r.dynamic_anchors) {
        auto it = by_location_.find(key({r.root.document, pointer}));
        if (it != by_location_.end()) resource.dynamic_anchors.emplace_back(name, it->second);
      }
      out_.resources.push_back(std::move(resource));
    }
    if (out_.resources.empty()) out_.resources.emplace_back();
    auto root_scope = docs_.scope({0, ""});
    if (root_scope) out_.draft = root_scope->draft;
    return check_cycles();
  }

 private:
  static std::string key(const Location& at) {
    return std::to_string(at.document) + "#" + at.pointer;
  }

  Result<int> node_for(const Location& at) {
    if (auto it = by_location_.find(key(at)); it != by_location_.end()) return it->second;
    if (pending_.size() >= options_.max_nodes) {
      return bad(docs_.describe(at),
                 "more than " + std::to_string(options_.max_nodes) + " subschemas (max_nodes)");
    }
    const int index = static_cast<int>(out_.nodes.size());
    out_.nodes.emplace_back();
    pending_.push_back(at);
    by_location_.emplace(key(at), index);
    return index;
  }

  Result<Pattern> pattern_of(const json& value, const std::string& where) {
    if (!value.is_string()) return bad(where, "pattern must be a string");
    const auto& text = value.get_ref<const std::string&>();
    auto& cached = patterns_[text];
    if (!cached) {
      RE2::Options re_options;
      re_options.set_log_errors(false);
      auto re = std::make_shared<RE2>(ecma_to_re2(text), re_options);
      if (!re->ok())
        return bad(where, "invalid pattern: " + re->error() + " (patterns use RE2 syntax)");
      cached = std::move(re);
    }
    return Pattern{cached, text};
  }

  Status fill(std::size_t index);
  Status fill_keyword(Node& node, const Location& at, const ScopeInfo& scope,
                      const std::string& key, const json& value);
  Status check_cycles() const;

  const JsonSchemaOptions& options_;
  CompiledSchema& out_;
  SchemaDocuments docs_;
  std::vector<Location> pending_;  // by node index
  std::size_t next_ = 0;
  std::unordered_map<std::string, int> by_location_;
  std::unordered_map<std::string, std::shared_ptr<const RE2>> patterns_;
};

Status Compiler::fill(std::size_t index) {
  const Location at = pending_[index];
  const json* schema = docs_.find(at);
  const std::string where = docs_.describe(at);
  if (schema == nullptr) return bad(where, "does not exist");
  auto scope = docs_.scope(at);
  if (!scope) return std::move(scope).error();
  Node node;
  node.resource = scope->resource;
  node.location = where;
  if (schema->is_boolean()) {
    node.accept_nothing = !schema->get<bool>();
    out_.nodes[index] = std::move(node);
    return {};
  }
  if (!schema->is_object()) return bad(where, "a schema must be an object or a boolean");
  if (scope->draft == SchemaDraft::draft7 && schema->contains("$ref")) {
    // Draft-07: "All other properties in a $ref object MUST be ignored."
    if (auto s = fill_keyword(node, at, *scope, "$ref", (*schema)["$ref"]); !s.ok()) return s;
  } else {
    for (const auto& [key, value] : schema->items()) {
      if (auto s = fill_keyword(node, at, *scope, key, value); !s.ok()) return s;
    }
  }
  if (node.min_length && node.max_length && *node.min_length > *node.max_length) {
    return bad(where, "minLength is greater than maxLength");
  }
  if (node.min_items && node.max_items && *node.min_items > *node.max_items) {
    return bad(where, "minItems is greater than maxItems");
  }
  if (node.contains < 0) {  // minContains and maxContains mean nothing without contains
    node.min_contains = 1;
    node.max_contains.reset();
  }
  if (node.if_schema < 0) node.then_schema = node.else_schema = -1;
  std::sort(node.properties.begin(), node.properties.end());
  if (node.ref >= 0 || node.dynamic_ref || !node.all_of.empty() || !node.any_of.empty() ||
      !node.one_of.empty() || node.not_schema >= 0 || node.if_schema >= 0 ||
      !node.dependent_schemas.empty()) {
    node.flags |= kHasInPlace;
  }
  if (node.unevaluated_items >= 0 || node.unevaluated_properties >= 0)
    node.flags |= kHasUnevaluated;
  if (node.ref >= 0 || node.dynamic_ref) node.flags |= kHasRefs;
  if (node.const_value || node.enum_values) node.flags |= kHasValues;
  if (!node.properties.empty() || !node.pattern_properties.empty() || node.additional >= 0 ||
      node.property_names >= 0 || !node.required.empty() || !node.dependent_required.empty() ||
      node.min_properties || node.max_properties) {
    node.flags |= kHasObject;
  }
  if (!node.prefix_items.empty() || node.items >= 0 || node.contains >= 0 || node.min_items ||
      node.max_items || node.unique_items) {
    node.flags |= kHasArray;
  }
  if (node.minimum || node.maximum || node.exclusive_minimum || node.exclusive_maximum ||
      node.multiple_of) {
    node.flags |= kHasNumber;
  }
  if (node.min_length || node.max_length || node.pattern || node.format != Format::none) {
    node.flags |= kHasString;
  }
  out_.nodes[index] = std::move(node);
  return {};
}

Status Compiler::fill_keyword(Node& node, const Location& at, const ScopeInfo& scope,
                              const std::string& key, const json& value) {
  const std::string where = docs_.describe(at) + "/" + SchemaDocuments::escape(key);
  const Location here{at.document, at.pointer + "/" + SchemaDocuments::escape(key)};
  const bool draft7 = scope.draft == SchemaDraft::draft7;
  auto child = [&](const std::string& suffix) {
    return node_for({here.document, here.pointer + suffix});
  };
  auto one = [&](int& slot) -> Status {
    auto n = child("");
    if (!n) return std::move(n).error();
    slot = *n;
    return {};
  };
  auto list = [&](std::vector<int>& slot, bool may_be_empty) -> Status {
    if (!value.is_array() || (value.empty() && !may_be_empty)) {
      return bad(where, key + " must be a non-empty array of schemas");
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
      auto n = child("/" + std::to_string(i));
      if (!n) return std::move(n).error();
      slot.push_back(*n);
    }
    return {};
  };
  auto named = [&](std::vector<std::pair<std::string, int>>& slot) -> Status {
    if (!value.is_object()) return bad(where, key + " must be an object");
    for (const auto& [name, sub] : value.items()) {
      auto n = child("/" + SchemaDocuments::escape(name));
      if (!n) return std::move(n).error();
      slot.emplace_back(name, *n);
    }
    return {};
  };
  auto count = [&](std::optional<std::size_t>& slot) -> Status {
    auto c = count_of(value, where, key);
    if (!c) return std::move(c).error();
    slot = *c;
    return {};
  };
  auto number = [&](std::optional<double>& slot) -> Status {
    auto n = number_of(value, where, key);
    if (!n) return std::move(n).error();
    slot = *n;
    return {};
  };

  if (!scope.validation && is_one_of(key, {"type",          "enum",
                                           "const",         "multipleOf",
                                           "maximum",       "exclusiveMaximum",
                                           "minimum",       "exclusiveMinimum",
                                           "maxLength",     "minLength",
                                           "pattern",       "maxItems",
                                           "minItems",      "uniqueItems",
                                           "maxContains",   "minContains",
                                           "maxProperties", "minProperties",
                                           "required",      "dependentRequired"})) {
    return {};  // the meta-schema's $vocabulary leaves validation out
  }
  if (key == "type") {
    auto bits = parse_type(value, where);
    if (!bits) return std::move(bits).error();
    node.types = *bits;
  } else if (key == "enum") {
    if (!value.is_array()) return bad(where, "enum must be an array");  // [] accepts nothing
    node.enum_values = value.get<std::vector<json>>();
  } else if (key == "const") {
    node.const_value = value;
  } else if (key == "minimum") {
    return number(node.minimum);
  } else if (key == "maximum") {
    return number(node.maximum);
  } else if (key == "exclusiveMinimum") {
    return number(node.exclusive_minimum);
  } else if (key == "exclusiveMaximum") {
    return number(node.exclusive_maximum);
  } else if (key == "multipleOf") {
    if (auto s = number(node.multiple_of); !s.ok()) return s;
    if (!(*node.multiple_of > 0)) return bad(where, "multipleOf must be greater than 0");
  } else if (key == "minLength") {
    return count(node.min_length);
  } else if (key == "maxLength") {
    return count(node.max_length);
  } else if (key == "minItems") {
    return count(node.min_items);
  } else if (key == "maxItems") {
    return count(node.max_items);
  } else if (key == "minProperties") {
    return count(node.min_properties);
  } else if (key == "maxProperties") {
    return count(node.max_properties);
  } else if (key == "minContains" && !draft7) {
    std::optional<std::size_t> c;
    if (auto s = count(c); !s.ok()) return s;
    node.min_contains = *c;
  } else if (key == "maxContains" && !draft7) {
    return count(node.max_contains);
  } else if (key == "uniqueItems") {
    if (!value.is_boolean()) return bad(where, "uniqueItems must be a boolean");
    node.unique_items = value.get<bool>();
  } else if (key == "pattern") {
    auto p = pattern_of(value, where);
    if (!p) return std::move(p).error();
    node.pattern = std::move(*p);
  } else if (key == "format") {
    if (!value.is_string()) return bad(where, "format must be a string");
    if (options_.format == FormatMode::assertion || scope.format_assertion)
      node.format = format_named(value.get<std::string>());
  } else if (key == "required") {
    if (!value.is_array()) return bad(where, "required must be an array of strings");
    for (const auto& name : value) {
      if (!name.is_string()) return bad(where, "required must be an array of strings");
      node.required.push_back(name.get<std::string>());
    }
  } else if (key == "properties") {
    return named(node.properties);
  } else if (key == "patternProperties") {
    if (!value.is_object()) return bad(where, "patternProperties must be an object");
    for (const auto& [name, sub] : value.items()) {
      auto p = pattern_of(name, where + "/" + SchemaDocuments::escape(name));
      if (!p) return std::move(p).error();
      auto n = child("/" + SchemaDocuments::escape(name));
      if (!n) return std::move(n).error();
      node.pattern_properties.push_back({std::move(*p), *n});
    }
  } else if (key == "additionalProperties") {
    return one(node.additional);
  } else if (key == "propertyNames") {
    return one(node.property_names);
  } else if (key == "contains") {
    return one(node.contains);
  } else if (key == "items" && value.is_array()) {
    if (!draft7)
      return bad(where,
                 "items must be a schema in draft 2020-12 (prefixItems holds the tuple form)");
    return list(node.prefix_items, true);
  } else if (key == "items") {
    return one(node.items);
  } else if (key == "additionalItems" && draft7) {
    // Meaningful only after tuple items; `items` as one schema already covers every element.
    const json* parent = docs_.find(at);
    if (parent == nullptr) return {};
    const auto items = parent->find("items");  // const operator[] must not meet a missing key
    if (items == parent->end() || !items->is_array()) return {};
    node.items_keyword = "additionalItems";
    return one(node.items);
  } else if (key == "prefixItems" && !draft7) {
    return list(node.prefix_items, false);
  } else if (key == "allOf") {
    return list(node.all_of, false);
  } else if (key == "anyOf") {
    return list(node.any_of, false);
  } else if (key == "oneOf") {
    return list(node.one_of, false);
  } else if (key == "not") {
    return one(node.not_schema);
  } else if (key == "if") {
    return one(node.if_schema);
  } else if (key == "then") {
    return one(node.then_schema);
  } else if (key == "else") {
    return one(node.else_schema);
  } else if (key == "unevaluatedProperties" && !draft7) {
    return one(node.unevaluated_properties);
  } else if (key == "unevaluatedItems" && !draft7) {
    return one(node.unevaluated_items);
  } else if ((key == "dependentSchemas" && !draft7) || key == "dependencies") {
    if (!value.is_object()) return bad(where, key + " must be an object");
    for (const auto& [name, sub] : value.items()) {
      if (sub.is_array()) {
        if (key == "dependentSchemas") return bad(where, "dependentSchemas values must be schemas");
        std::vector<std::string> names;
        for (const auto& n : sub) {
          if (!n.is_string()) return bad(where, "dependencies arrays must hold strings");
          names.push_back(n.get<std::string>());
        }
        node.dependent_required.emplace_back(name, std::move(names));
        node.dependent_required_keyword = "dependencies";
      } else {
        auto n = child("/" + SchemaDocuments::escape(name));
        if (!n) return std::move(n).error();
        node.dependent_schemas.emplace_back(name, *n);
        node.dependent_schemas_keyword =
            key == "dependencies" ? "dependencies" : "dependentSchemas";
      }
    }
  } else if (key == "dependentRequired" && !draft7) {
    if (!value.is_object()) return bad(where, "dependentRequired must be an object");
    for (const auto& [name, sub] : value.items()) {
      if (!sub.is_array()) return bad(where, "dependentRequired values must be arrays of strings");
      std::vector<std::string> names;
      for (const auto& n : sub) {
        if (!n.is_string()) return bad(where, "dependentRequired values must be arrays of strings");
        names.push_back(n.get<std::string>());
      }
      node.dependent_required.emplace_back(name, std::move(names));
    }
  } else if (key == "$defs" || key == "definitions") {
    // Compiled whether used or not: a broken definition is an error, never dormant.
    std::vector<std::pair<std::string, int>> unused;
    return named(unused);
  } else if (key == "$ref") {
    if (!value.is_string()) return bad(where, "$ref must be a string");
    auto target = docs_.resolve(value.get<std::string>(), scope.base, where);
    if (!target) return std::move(target).error();
    auto n = node_for(*target);
    if (!n) return std::move(n).error();
    node.ref = *n;
  } else if (key == "$dynamicRef" && !draft7) {
    if (!value.is_string()) return bad(where, "$dynamicRef must be a string");
    const auto& ref = value.get_ref<const std::string&>();
    auto target = docs_.resolve(ref, scope.base, where);
    if (!target) return std::move(target).error();
    auto n = node_for(*target);
    if (!n) return std::move(n).error();
    DynamicRef dynamic{*n, {}, docs_.declared_dynamic(ref, scope.base)};
    if (dynamic.dynamic) {
      dynamic.anchor = ref.substr(ref.find('#') + 1);
      out_.uses_dynamic_ref = true;
    }
    node.dynamic_ref = std::move(dynamic);
  } else if (std::find(std::begin(kAnnotations), std::end(kAnnotations), key) !=
             std::end(kAnnotations)) {
    // No effect on validation ($id and anchors were read when the document was scanned).
  } else if (options_.unknown_keywords == UnknownKeywords::reject) {
    const bool other_draft =
        is_one_of(key, {"minContains", "maxContains", "prefixItems", "unevaluatedProperties",
                        "unevaluatedItems", "dependentSchemas", "dependentRequired", "$dynamicRef",
                        "additionalItems"});
    if (other_draft) {
      return bad(where,
                 "keyword '" + key + "' is not part of " + (draft7 ? "draft-07" : "draft 2020-12"));
    }
    return bad(docs_.describe(at), "unsupported keyword '" + key + "' (not in JSON Schema " +
                                       (draft7 ? "draft-07" : "draft 2020-12") +
                                       "; UnknownKeywords::ignore accepts it)");
  }
  return {};
}

// A cycle of in-place applicators ($ref, allOf, not, ...) would evaluate the same instance
// forever, so it is refused here; cycles through properties or items consume the instance.
Status Compiler::check_cycles() const {
  const auto& nodes = out_.nodes;
  auto edges = [&](const Node& n) {
    std::vector<int> out;
    if (n.ref >= 0) out.push_back(n.ref);
    if (n.dynamic_ref) out.push_back(n.dynamic_ref->initial);
    for (const auto* group : {&n.all_of, &n.any_of, &n.one_of}) {
      out.insert(out.end(), group->begin(), group->end());
    }
    for (int s : {n.not_schema, n.if_schema, n.then_schema, n.else_schema}) {
      if (s >= 0) out.push_back(s);
    }
    for (const auto& [name, s] : n.dependent_schemas)
      out.push_back(s);
    return out;
  };
  std::vector<char> state(nodes.size(), 0);  // 0 unseen, 1 on the current path, 2 done
  struct Frame {
    int node;
    std::vector<int> next;
    std::size_t i;
  };
  for (std::size_t start = 0; start < nodes.size(); ++start) {
    if (state[start] != 0) continue;
    std::vector<Frame> stack;
    stack.push_back({static_cast<int>(start), edges(nodes[start]), 0});
    state[start] = 1;
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.i == top.next.size()) {
        state[static_cast<std::size_t>(top.node)] = 2;
        stack.pop_back();
        continue;
      }
      const int next = top.next[top.i++];
      const auto n = static_cast<std::size_t>(next);
      if (state[n] == 1) {
        std::string path;
        auto from = std::find_if(stack.begin(), stack.end(),
                                 [&](const Frame& f) { return f.node == next; });
        for (auto it = from; it != stack.end(); ++it) {
          path += (nodes[static_cast<std::size_t>(it->node)].location.empty()
                       ? "(root)"
                       : nodes[static_cast<std::size_t>(it->node)].location) +
                  " -> ";
        }
        path += nodes[n].location.empty() ? "(root)" : nodes[n].location;
        return bad(nodes[n].location, "reference cycle that never consumes the instance: " + path);
      }
      if (state[n] == 0) {
        state[n] = 1;
        stack.push_back({next, edges(nodes[n]), 0});
      }
    }
  }
  return {};
}

}  // namespace

Status compile_schema(const JsonSchemaOptions& options, CompiledSchema& out) {
  Compiler compiler(options, out);
  return compiler.run();
}

}  // namespace rein::detail
