// The compiled form of a JSON Schema: a flat vector of nodes, one per subschema, referring to
// each other by index. Validation walks it without looking at the schema's JSON again.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/json_schema.hpp"
#include "schema/format.hpp"

namespace re2 {
class RE2;
}

namespace rein::detail {

enum TypeBit : unsigned {
  kNull = 1u << 0,
  kBoolean = 1u << 1,
  kInteger = 1u << 2,
  kNumber = 1u << 3,  // number admits integers too
  kString = 1u << 4,
  kArray = 1u << 5,
  kObject = 1u << 6,
  kAnyType = 0x7fu,
};

// Which groups of keywords a node has, so validation skips the absent ones with one test.
enum NodeFlag : unsigned {
  kHasInPlace = 1u << 0,      // $ref, $dynamicRef, allOf, anyOf, oneOf, not, if
  kHasUnevaluated = 1u << 1,  // unevaluatedProperties or unevaluatedItems
  kHasObject = 1u << 2,       // any object keyword
  kHasArray = 1u << 3,        // any array keyword
  kHasNumber = 1u << 4,
  kHasString = 1u << 5,
  kHasRefs = 1u << 6,    // $ref or $dynamicRef
  kHasValues = 1u << 7,  // const or enum
};

struct Pattern {
  std::shared_ptr<const re2::RE2> re;
  std::string source;  // as written, for messages
};

struct PatternProperty {
  Pattern pattern;
  int schema = -1;
};

struct DynamicRef {
  int initial = -1;      // where the reference points statically
  std::string anchor;    // the $dynamicAnchor name looked up in the dynamic scope
  bool dynamic = false;  // false: behaves exactly like $ref
};

// The fields every evaluation reads come first; the rest are read only when `flags` says so.
struct Node {
  bool accept_nothing = false;  // the `false` schema
  unsigned flags = 0;
  unsigned types = kAnyType;
  int resource = 0;  // the schema resource this node belongs to (for $dynamicRef)

  // in place
  int ref = -1;
  std::optional<DynamicRef> dynamic_ref;
  std::vector<int> all_of, any_of, one_of;
  int not_schema = -1, if_schema = -1, then_schema = -1, else_schema = -1;

  // any type
  std::optional<std::vector<nlohmann::json>> enum_values;
  std::optional<nlohmann::json> const_value;

  // numbers
  std::optional<double> minimum, maximum, exclusive_minimum, exclusive_maximum, multiple_of;

  // strings
  std::optional<std::size_t> min_length, max_length;
  std::optional<Pattern> pattern;
  Format format = Format::none;  // set only when asserted

  // arrays
  std::optional<std::size_t> min_items, max_items;
  bool unique_items = false;
  std::vector<int> prefix_items;
  int items = -1;                       // items after the prefix
  const char* items_keyword = "items";  // "additionalItems" under draft-07's tuple form
  int contains = -1;
  std::size_t min_contains = 1;
  std::optional<std::size_t> max_contains;
  int unevaluated_items = -1;

  // objects
  std::vector<std::pair<std::string, int>> properties;  // sorted by name
  std::vector<PatternProperty> pattern_properties;
  int additional = -1;
  int property_names = -1;
  std::vector<std::string> required;
  std::vector<std::pair<std::string, std::vector<std::string>>> dependent_required;
  std::vector<std::pair<std::string, int>> dependent_schemas;
  const char* dependent_required_keyword = "dependentRequired";  // "dependencies" in draft-07
  const char* dependent_schemas_keyword = "dependentSchemas";
  std::optional<std::size_t> min_properties, max_properties;
  int unevaluated_properties = -1;

  std::string location;  // "document#/pointer", for compile errors (kept out of the hot fields)
};

struct Resource {
  std::string uri;
  std::vector<std::pair<std::string, int>> dynamic_anchors;  // name -> node
};

struct CompiledSchema {
  nlohmann::json source;
  std::vector<Node> nodes;  // nodes[0] is the root
  std::vector<Resource> resources;
  bool uses_dynamic_ref = false;
  SchemaDraft draft = SchemaDraft::draft2020_12;
  std::size_t max_evaluations = 0;
};

}  // namespace rein::detail
