// The schema documents behind one compilation: the root and whatever the host's resolver
// supplied, scanned for schema resources ($id), anchors ($anchor, $dynamicAnchor, draft-07
// "#name" ids) and the base URI in force at every subschema. $ref and $dynamicRef values are
// resolved here to a (document, JSON pointer) location.
#pragma once

#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/error.hpp"
#include "rein/json_schema.hpp"

namespace rein::detail {

// A compile error: "schema <where>: <what>" (where "(root)" for the root).
inline Error bad(const std::string& where, const std::string& what) {
  return Error(ErrorCode::invalid_argument,
               "schema " + (where.empty() ? std::string("(root)") : where) + ": " + what);
}

struct Location {
  int document = 0;
  std::string pointer;  // JSON pointer within the document, escaped ("/properties/a~1b")
};

// What is in force at one subschema: its base URI, resource and draft.
struct ScopeInfo {
  std::string base;
  int resource = 0;
  SchemaDraft draft = SchemaDraft::draft2020_12;
  bool validation = true;         // false under a meta-schema whose $vocabulary omits validation
  bool format_assertion = false;  // the meta-schema's $vocabulary names format-assertion
};

struct ResourceInfo {
  std::string uri;
  Location root;
  std::vector<std::pair<std::string, std::string>> dynamic_anchors;  // name -> pointer
};

class SchemaDocuments {
 public:
  explicit SchemaDocuments(const JsonSchemaOptions& options) : options_(options) {}

  // Adds the root document (kept by reference; it must outlive this object) and scans it.
  Status add_root(const nlohmann::json& root);

  // The JSON at `at`, or nullptr when the pointer leads nowhere.
  const nlohmann::json* find(const Location& at) const;

  // Scope at `at`, scanning it first when it lies outside any known subschema (a $ref into
  // an unknown keyword's value, for instance).
  Result<ScopeInfo> scope(const Location& at);

  // `ref` (a $ref or $dynamicRef value) resolved against `base`; asks the host's resolver for
  // documents not seen yet. `where` names the keyword for errors.
  Result<Location> resolve(const std::string& ref, const std::string& base,
                           const std::string& where);

  // True when `ref`, resolved against `base`, names a fragment declared by $dynamicAnchor.
  bool declared_dynamic(const std::string& ref, const std::string& base) const;

  const std::vector<ResourceInfo>& resources() const { return resources_; }

  // "/pointer" for the root document, "uri#/pointer" for others: where errors say a thing is.
  std::string describe(const Location& at) const;

  static std::string escape(std::string_view token);

 private:
  struct Document {
    const nlohmann::json* value;
    std::string uri;
    std::unordered_map<std::string, ScopeInfo> scopes;  // by pointer
  };

  // The dialect a "$schema" value names: a known draft, or a meta-schema (built in or from
  // the resolver) whose $vocabulary rein understands.
  Result<ScopeInfo> dialect(const nlohmann::json& value, ScopeInfo scope, const std::string& where);

  Status scan(int document, const nlohmann::json& schema, const std::string& pointer,
              ScopeInfo scope, int depth);
  Status scan_children(int document, const nlohmann::json& schema, const std::string& pointer,
                       const ScopeInfo& scope, int depth);
  int add_resource(const std::string& uri, const Location& root);
  // The new document's index, or -1 with `missing` saying why there is none.
  Result<int> load(const std::string& uri, std::string& missing);

  const JsonSchemaOptions& options_;
  std::deque<Document> documents_;
  std::deque<nlohmann::json> owned_;  // documents from the resolver
  std::vector<ResourceInfo> resources_;
  std::unordered_map<std::string, int> resource_by_uri_;
  std::unordered_map<std::string, Location> anchors_;  // "uri#name"
  std::unordered_map<std::string, bool> dynamic_;      // "uri#name" declared by $dynamicAnchor
};

}  // namespace rein::detail
