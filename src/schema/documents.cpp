#include "schema/documents.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include "core/json_pointer.hpp"
#include "schema/metaschemas.hpp"
#include "schema/uri.hpp"

namespace rein::detail {
namespace {

using nlohmann::json;

// Keywords whose value is one subschema, an array of them, or an object of them. Both drafts
// together: a keyword of the other draft is unknown and rejected (or ignored) at compile time.
constexpr std::string_view kOneSchema[] = {"additionalProperties",
                                           "propertyNames",
                                           "contains",
                                           "not",
                                           "if",
                                           "then",
                                           "else",
                                           "unevaluatedProperties",
                                           "unevaluatedItems",
                                           "additionalItems",
                                           "items",
                                           "contentSchema"};
constexpr std::string_view kSchemaArray[] = {"allOf", "anyOf", "oneOf", "prefixItems", "items"};
constexpr std::string_view kSchemaMap[] = {"properties",  "patternProperties", "$defs",
                                           "definitions", "dependentSchemas",  "dependencies"};

std::optional<SchemaDraft> known_draft(const json& value) {
  if (!value.is_string()) return std::nullopt;
  std::string_view s = value.get_ref<const std::string&>();
  if (!s.empty() && s.back() == '#') s.remove_suffix(1);
  if (s == "https://json-schema.org/draft/2020-12/schema") return SchemaDraft::draft2020_12;
  if (s == "http://json-schema.org/draft-07/schema" ||
      s == "https://json-schema.org/draft-07/schema") {
    return SchemaDraft::draft7;
  }
  return std::nullopt;
}

Error unsupported(const json& value, const std::string& where) {
  return bad(where,
             "unsupported $schema " + value.dump() + " (rein supports draft 2020-12 and draft-07)");
}

}  // namespace

std::string SchemaDocuments::escape(std::string_view token) {
  return detail::escape_json_pointer_token(token);
}

std::string SchemaDocuments::describe(const Location& at) const {
  if (at.document == 0) return at.pointer;
  return documents_[static_cast<std::size_t>(at.document)].uri + "#" + at.pointer;
}

int SchemaDocuments::add_resource(const std::string& uri, const Location& root) {
  if (auto it = resource_by_uri_.find(uri); it != resource_by_uri_.end()) return it->second;
  const int index = static_cast<int>(resources_.size());
  resources_.push_back({uri, root, {}});
  resource_by_uri_.emplace(uri, index);
  return index;
}

Status SchemaDocuments::add_root(const json& root) {
  documents_.push_back({&root, options_.base_uri, {}});
  ScopeInfo scope{options_.base_uri, 0, options_.default_draft};
  add_resource(options_.base_uri, {0, ""});
  if (root.is_object() && root.contains("$schema")) {
    auto chosen = dialect(root["$schema"], scope, "/$schema");
    if (!chosen) return std::move(chosen).error();
    scope = *chosen;
  }
  return scan(0, root, "", scope, 0);
}

Result<ScopeInfo> SchemaDocuments::dialect(const json& value, ScopeInfo scope,
                                           const std::string& where) {
  scope.validation = true;
  scope.format_assertion = false;
  if (auto draft = known_draft(value)) {
    scope.draft = *draft;
    return scope;
  }
  if (!value.is_string()) return unsupported(value, where);
  const std::string uri = uri::split_fragment(value.get<std::string>()).uri;
  auto it = resource_by_uri_.find(uri);
  if (it == resource_by_uri_.end()) {
    std::string missing;
    auto loaded = load(uri, missing);
    if (!loaded) return std::move(loaded).error();
    if (*loaded < 0) return unsupported(value, where);
    it = resource_by_uri_.find(uri);
  }
  const json* meta = find(resources_[static_cast<std::size_t>(it->second)].root);
  if (meta == nullptr || !meta->is_object()) return unsupported(value, where);
  auto base = meta->find("$schema");
  auto draft = base == meta->end() ? std::nullopt : known_draft(*base);
  if (!draft) return unsupported(value, where);  // one level of custom meta-schema
  scope.draft = *draft;
  auto vocabularies = meta->find("$vocabulary");
  if (*draft != SchemaDraft::draft2020_12 || vocabularies == meta->end() ||
      !vocabularies->is_object()) {
    return scope;
  }
  static constexpr std::string_view kPrefix = "https://json-schema.org/draft/2020-12/vocab/";
  static constexpr std::string_view kKnown[] = {
      "core",      "applicator",        "unevaluated",      "validation",
      "meta-data", "format-annotation", "format-assertion", "content"};
  scope.validation = false;
  for (const auto& [vocabulary, required] : vocabularies->items()) {
    const std::string_view name =
        std::string_view(vocabulary)
            .substr(vocabulary.rfind(kPrefix, 0) == 0 ? kPrefix.size() : vocabulary.size());
    const bool known = vocabulary.rfind(kPrefix, 0) == 0 &&
                       std::find(std::begin(kKnown), std::end(kKnown), name) != std::end(kKnown);
    if (!known && required.is_boolean() && required.get<bool>()) {
      return bad(where, "the meta-schema requires vocabulary '" + vocabulary +
                            "', which rein does not know");
    }
    if (known && name == "validation") scope.validation = true;
    if (known && name == "format-assertion") scope.format_assertion = true;
  }
  return scope;
}

Status SchemaDocuments::scan(int document, const json& schema, const std::string& pointer,
                             ScopeInfo scope, int depth) {
  if (depth > JsonSchema::kMaxDepth) {
    return bad(describe({document, pointer}),
               "schema nested deeper than " + std::to_string(JsonSchema::kMaxDepth) + " levels");
  }
  auto& doc = documents_[static_cast<std::size_t>(document)];
  if (!schema.is_object()) {
    doc.scopes.emplace(pointer, scope);
    return {};
  }
  const Location here{document, pointer};
  const bool has_id = schema.contains("$id");
  if (has_id && pointer != "" && schema.contains("$schema")) {
    auto chosen = dialect(schema["$schema"], scope, describe(here) + "/$schema");
    if (!chosen) return std::move(chosen).error();
    scope = *chosen;
  }
  // Draft-07 ignores every sibling of $ref, $id included.
  const bool id_ignored = scope.draft == SchemaDraft::draft7 && schema.contains("$ref");
  if (has_id && !id_ignored && schema["$id"].is_string()) {
    const auto& id = schema["$id"].get_ref<const std::string&>();
    if (scope.draft == SchemaDraft::draft7 && !id.empty() && id[0] == '#') {
      anchors_[scope.base + id] = here;  // draft-07's plain-name fragment identifier
    } else {
      auto split = uri::split_fragment(uri::resolve(scope.base, id));
      if (scope.draft == SchemaDraft::draft2020_12 && !split.fragment.empty()) {
        return bad(describe(here) + "/$id", "$id must not contain a fragment: '" + id + "'");
      }
      scope.base = split.uri;
      scope.resource = add_resource(split.uri, here);
      if (!split.fragment.empty()) anchors_[split.uri + "#" + split.fragment] = here;
    }
  }
  if (scope.draft == SchemaDraft::draft2020_12) {
    for (const char* keyword : {"$anchor", "$dynamicAnchor"}) {
      auto it = schema.find(keyword);
      if (it == schema.end()) continue;
      if (!it->is_string())
        return bad(describe(here) + "/" + keyword, std::string(keyword) + " must be a string");
      const std::string key = scope.base + "#" + it->get<std::string>();
      anchors_[key] = here;
      if (keyword == std::string_view("$dynamicAnchor")) {
        dynamic_[key] = true;
        resources_[static_cast<std::size_t>(scope.resource)].dynamic_anchors.emplace_back(
            it->get<std::string>(), pointer);
      }
    }
  }
  doc.scopes.emplace(pointer, scope);
  return scan_children(document, schema, pointer, scope, depth);
}

Status SchemaDocuments::scan_children(int document, const json& schema, const std::string& pointer,
                                      const ScopeInfo& scope, int depth) {
  for (const auto& [key, value] : schema.items()) {
    const std::string at = pointer + "/" + escape(key);
    auto is = [&key = key](const auto& list) {
      for (auto k : list) {
        if (k == key) return true;
      }
      return false;
    };
    if (is(kSchemaArray) && value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (auto s = scan(document, value[i], at + "/" + std::to_string(i), scope, depth + 1);
            !s.ok())
          return s;
      }
    } else if (is(kOneSchema) && (value.is_object() || value.is_boolean())) {
      if (auto s = scan(document, value, at, scope, depth + 1); !s.ok()) return s;
    } else if (is(kSchemaMap) && value.is_object()) {
      for (const auto& [name, sub] : value.items()) {
        if (!sub.is_object() && !sub.is_boolean()) continue;  // draft-07 dependencies arrays
        if (auto s = scan(document, sub, at + "/" + escape(name), scope, depth + 1); !s.ok())
          return s;
      }
    }
  }
  return {};
}

const json* SchemaDocuments::find(const Location& at) const {
  const json& root = *documents_[static_cast<std::size_t>(at.document)].value;
  if (at.pointer.empty()) return &root;
  try {
    const json::json_pointer jp(at.pointer);
    if (!root.contains(jp)) return nullptr;
    return &root.at(jp);
  } catch (const json::exception&) {
    return nullptr;
  }
}

Result<ScopeInfo> SchemaDocuments::scope(const Location& at) {
  auto& doc = documents_[static_cast<std::size_t>(at.document)];
  if (auto it = doc.scopes.find(at.pointer); it != doc.scopes.end()) return it->second;
  // Outside any scanned subschema: take the scope of the nearest scanned ancestor.
  std::string parent = at.pointer;
  ScopeInfo found{doc.uri, 0, options_.default_draft};
  while (!parent.empty()) {
    parent.erase(parent.rfind('/'));
    if (auto it = doc.scopes.find(parent); it != doc.scopes.end()) {
      found = it->second;
      break;
    }
  }
  const json* value = find(at);
  if (value == nullptr) return bad(describe(at), "does not exist");
  if (auto s = scan(at.document, *value, at.pointer, found, 0); !s.ok())
    return std::move(s).error();
  return doc.scopes.at(at.pointer);
}

Result<int> SchemaDocuments::load(const std::string& uri, std::string& missing) {
  const std::string_view* builtin = builtin_metaschema(uri);
  if (builtin == nullptr && !options_.resolver) {
    missing = "no resolver for '" + uri + "'";
    return -1;
  }
  if (documents_.size() > options_.max_documents) {
    missing = "more than " + std::to_string(options_.max_documents) +
              " documents referenced (max_documents)";
    return -1;
  }
  std::optional<json> fetched;
  if (builtin != nullptr) {
    fetched = json::parse(*builtin);
  } else {
    try {
      fetched = options_.resolver(uri);
    } catch (...) {
      fetched.reset();  // a throwing resolver is one that has no answer
    }
  }
  if (!fetched) {
    missing = "the resolver has no document '" + uri + "'";
    return -1;
  }
  owned_.push_back(std::move(*fetched));
  const int index = static_cast<int>(documents_.size());
  documents_.push_back({&owned_.back(), uri, {}});
  ScopeInfo scope{uri, add_resource(uri, {index, ""}), options_.default_draft};
  const json& doc = owned_.back();
  if (doc.is_object() && doc.contains("$schema")) {
    auto chosen = dialect(doc["$schema"], scope, uri + "#/$schema");
    if (!chosen) return std::move(chosen).error();
    scope = *chosen;
  }
  if (auto s = scan(index, doc, "", scope, 0); !s.ok()) return std::move(s).error();
  return index;
}

Result<Location> SchemaDocuments::resolve(const std::string& ref, const std::string& base,
                                          const std::string& where) {
  const auto target = uri::split_fragment(uri::resolve(base, ref));
  auto it = resource_by_uri_.find(target.uri);
  if (it == resource_by_uri_.end()) {
    std::string missing;
    auto loaded = load(target.uri, missing);
    if (!loaded) return std::move(loaded).error();
    if (*loaded < 0) return bad(where, "unresolved $ref '" + ref + "' (" + missing + ")");
    it = resource_by_uri_.find(target.uri);
  }
  const Location root = resources_[static_cast<std::size_t>(it->second)].root;
  const std::string fragment = uri::percent_decode(target.fragment);
  if (fragment.empty()) return root;
  if (fragment[0] == '/') {
    Location at{root.document, root.pointer + fragment};
    if (find(at) == nullptr) return bad(where, "$ref '" + ref + "' does not resolve");
    return at;
  }
  if (auto a = anchors_.find(target.uri + "#" + fragment); a != anchors_.end()) return a->second;
  return bad(where, "$ref '" + ref + "' does not resolve (no anchor '" + fragment + "')");
}

bool SchemaDocuments::declared_dynamic(const std::string& ref, const std::string& base) const {
  const auto target = uri::split_fragment(uri::resolve(base, ref));
  if (target.fragment.empty() || target.fragment[0] == '/') return false;
  return dynamic_.count(target.uri + "#" + uri::percent_decode(target.fragment)) > 0;
}

}  // namespace rein::detail
