#include "rein/json_schema.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <re2/re2.h>

#include "json_text.hpp"
#include "utf8.hpp"

namespace rein {
namespace detail {
namespace {

using nlohmann::json;

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

enum class Additional { allow, forbid, schema };

struct Node {
  bool accept_nothing = false;  // the `false` schema
  unsigned types = kAnyType;
  int ref = -1;
  std::optional<double> minimum, maximum, exclusive_minimum, exclusive_maximum;
  std::optional<std::size_t> min_length, max_length, min_items, max_items;
  bool unique_items = false;
  std::shared_ptr<const RE2> pattern;
  std::optional<std::vector<json>> enum_values;
  std::optional<json> const_value;
  std::vector<std::pair<std::string, int>> properties;  // sorted by name
  std::vector<std::string> required;
  Additional additional = Additional::allow;
  int additional_schema = -1;
  int items = -1;
};

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "binary";
  }
}

bool is_integral(const json& v) {
  if (v.is_number_integer()) return true;  // covers unsigned too
  if (!v.is_number_float()) return false;
  const double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

bool type_matches(unsigned types, const json& v) {
  switch (v.type()) {
    case json::value_t::null: return (types & kNull) != 0;
    case json::value_t::boolean: return (types & kBoolean) != 0;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return (types & (kInteger | kNumber)) != 0;
    case json::value_t::number_float:
      return (types & kNumber) != 0 || ((types & kInteger) != 0 && is_integral(v));
    case json::value_t::string: return (types & kString) != 0;
    case json::value_t::array: return (types & kArray) != 0;
    case json::value_t::object: return (types & kObject) != 0;
    default: return false;
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

std::string escape_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number_text(double d) {
  json j = d;
  if (is_integral(j) && std::fabs(d) < 9e15) return std::to_string(static_cast<long long>(d));
  return json_text(j);
}

// ---------------------------------------------------------------------------------------------
// Compilation

class Compiler {
 public:
  explicit Compiler(const json& root) : root_(root) {}

  Result<int> compile(const json& schema, const std::string& where) {
    if (auto it = by_pointer_.find(where); it != by_pointer_.end()) return it->second;
    const int index = static_cast<int>(nodes_.size());
    nodes_.emplace_back();
    by_pointer_.emplace(where, index);
    if (auto status = fill(index, schema, where); !status.ok()) return std::move(status).error();
    return index;
  }

  std::vector<Node> take_nodes() { return std::move(nodes_); }

 private:
  static Error bad(const std::string& where, const std::string& what) {
    return Error(ErrorCode::invalid_argument,
                 "schema " + (where.empty() ? std::string("(root)") : where) + ": " + what);
  }

  static Result<std::size_t> count_of(const json& value, const std::string& where,
                                      const char* keyword) {
    if (value.is_number_unsigned()) return static_cast<std::size_t>(value.get<std::uint64_t>());
    if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
      return static_cast<std::size_t>(value.get<std::int64_t>());
    }
    return bad(where, std::string(keyword) + " must be a non-negative integer");
  }

  static Result<double> number_of(const json& value, const std::string& where,
                                  const char* keyword) {
    if (!value.is_number()) {
      return bad(where, std::string(keyword) + " must be a number" +
                            (value.is_boolean() ? " (the draft-4 boolean form is not supported)" : ""));
    }
    return value.get<double>();
  }

  Result<unsigned> parse_type(const json& value, const std::string& where) {
    static const std::pair<std::string_view, unsigned> kTypes[] = {
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

  Status fill(int index, const json& schema, const std::string& where) {
    if (schema.is_boolean()) {
      nodes_[static_cast<std::size_t>(index)].accept_nothing = !schema.get<bool>();
      return {};
    }
    if (!schema.is_object()) return bad(where, "a schema must be an object or a boolean");

    Node node;
    for (const auto& [key, value] : schema.items()) {
      const std::string at = where + "/" + escape_token(key);
      if (key == "type") {
        auto bits = parse_type(value, at);
        if (!bits) return std::move(bits).error();
        node.types = *bits;
      } else if (key == "properties") {
        if (!value.is_object()) return bad(at, "properties must be an object");
        for (const auto& [name, sub] : value.items()) {
          auto child = compile(sub, at + "/" + escape_token(name));
          if (!child) return std::move(child).error();
          node.properties.emplace_back(name, *child);
        }
        std::sort(node.properties.begin(), node.properties.end());
      } else if (key == "required") {
        if (!value.is_array()) return bad(at, "required must be an array of strings");
        for (const auto& name : value) {
          if (!name.is_string()) return bad(at, "required must be an array of strings");
          node.required.push_back(name.get<std::string>());
        }
      } else if (key == "additionalProperties") {
        if (value.is_boolean()) {
          node.additional = value.get<bool>() ? Additional::allow : Additional::forbid;
        } else {
          auto child = compile(value, at);
          if (!child) return std::move(child).error();
          node.additional = Additional::schema;
          node.additional_schema = *child;
        }
      } else if (key == "enum") {
        if (!value.is_array() || value.empty()) return bad(at, "enum must be a non-empty array");
        node.enum_values = value.get<std::vector<json>>();
      } else if (key == "const") {
        node.const_value = value;
      } else if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" ||
                 key == "exclusiveMaximum") {
        auto number = number_of(value, at, key.c_str());
        if (!number) return std::move(number).error();
        auto& slot = key == "minimum"            ? node.minimum
                     : key == "maximum"          ? node.maximum
                     : key == "exclusiveMinimum" ? node.exclusive_minimum
                                                 : node.exclusive_maximum;
        slot = *number;
      } else if (key == "minLength" || key == "maxLength" || key == "minItems" ||
                 key == "maxItems") {
        auto count = count_of(value, at, key.c_str());
        if (!count) return std::move(count).error();
        auto& slot = key == "minLength"   ? node.min_length
                     : key == "maxLength" ? node.max_length
                     : key == "minItems"  ? node.min_items
                                          : node.max_items;
        slot = *count;
      } else if (key == "uniqueItems") {
        if (!value.is_boolean()) return bad(at, "uniqueItems must be a boolean");
        node.unique_items = value.get<bool>();
      } else if (key == "pattern") {
        if (!value.is_string()) return bad(at, "pattern must be a string");
        RE2::Options options;
        options.set_log_errors(false);
        auto re = std::make_shared<RE2>(value.get<std::string>(), options);
        if (!re->ok()) return bad(at, "invalid pattern: " + re->error());
        node.pattern = std::move(re);
      } else if (key == "items") {
        if (value.is_array()) return bad(at, "items as an array (tuple form) is not supported");
        auto child = compile(value, at);
        if (!child) return std::move(child).error();
        node.items = *child;
      } else if (key == "$ref") {
        auto target = resolve_ref(value, at);
        if (!target) return std::move(target).error();
        node.ref = *target;
      } else if (key == "$defs" || key == "definitions") {
        if (!value.is_object()) return bad(at, key + " must be an object");
        for (const auto& [name, sub] : value.items()) {
          auto child = compile(sub, at + "/" + escape_token(name));
          if (!child) return std::move(child).error();
        }
      } else if (key == "$schema" || key == "$id" || key == "$comment" || key == "title" ||
                 key == "description" || key == "default" || key == "examples" ||
                 key == "readOnly" || key == "writeOnly" || key == "deprecated") {
        // Annotations: no effect on validation.
      } else {
        return bad(where, "unsupported keyword '" + key + "' (rein supports a subset of JSON Schema)");
      }
    }
    if (node.min_length && node.max_length && *node.min_length > *node.max_length) {
      return bad(where, "minLength is greater than maxLength");
    }
    if (node.min_items && node.max_items && *node.min_items > *node.max_items) {
      return bad(where, "minItems is greater than maxItems");
    }
    nodes_[static_cast<std::size_t>(index)] = std::move(node);
    return {};
  }

  Result<int> resolve_ref(const json& value, const std::string& at) {
    if (!value.is_string()) return bad(at, "$ref must be a string");
    const auto& ref = value.get_ref<const std::string&>();
    if (ref.empty() || ref[0] != '#') {
      return bad(at, "$ref '" + ref + "' must point within the same schema (start with '#')");
    }
    const std::string pointer = ref.substr(1);
    const json* target = nullptr;
    try {
      const json::json_pointer jp(pointer);
      if (root_.contains(jp)) target = &root_.at(jp);
    } catch (const json::exception&) {
      return bad(at, "$ref '" + ref + "' is not a valid JSON pointer");
    }
    if (target == nullptr) return bad(at, "$ref '" + ref + "' does not resolve");
    return compile(*target, pointer);
  }

  const json& root_;
  std::vector<Node> nodes_;
  std::unordered_map<std::string, int> by_pointer_;
};

// ---------------------------------------------------------------------------------------------
// Validation

// The path to the value being checked, built into a string only when a violation is reported.
struct Path {
  const Path* parent;
  std::string_view key;
  std::size_t index;
  bool is_index;

  std::string pointer() const {
    std::vector<const Path*> chain;
    for (const Path* p = this; p != nullptr && p->parent != nullptr; p = p->parent) {
      chain.push_back(p);
    }
    std::string out;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      out += '/';
      out += (*it)->is_index ? std::to_string((*it)->index) : escape_token((*it)->key);
    }
    return out;
  }
};

class Validator {
 public:
  Validator(const std::vector<Node>& nodes, std::vector<SchemaViolation>* out)
      : nodes_(nodes), out_(out) {}

  // Returns false on the first violation when not collecting; otherwise collects all.
  bool check(int index, const json& v, const Path& path, int depth) {
    const Node& n = nodes_[static_cast<std::size_t>(index)];
    if (n.accept_nothing) return fail(path, "false", "no value is allowed here");
    if (depth > JsonSchema::kMaxDepth) {
      return fail(path, "depth", "nested deeper than " + std::to_string(JsonSchema::kMaxDepth));
    }
    bool ok = true;
    if (n.ref >= 0 && !check(n.ref, v, path, depth + 1)) {
      if (!collecting()) return false;
      ok = false;
    }
    if (n.types != kAnyType && !type_matches(n.types, v)) {
      // Further keywords would only repeat the type mismatch.
      return fail(path, "type",
                  std::string("expected ") + types_text(n.types) + ", got " + type_name(v)) && ok;
    }
    if (n.const_value && !(v == *n.const_value)) {
      ok = fail(path, "const", "must equal " + json_text(*n.const_value)) && ok;
      if (!ok && !collecting()) return false;
    }
    if (n.enum_values &&
        std::find(n.enum_values->begin(), n.enum_values->end(), v) == n.enum_values->end()) {
      ok = fail(path, "enum", "must be one of " + json_text(json(*n.enum_values))) && ok;
      if (!ok && !collecting()) return false;
    }
    if (v.is_number()) {
      ok = check_number(n, v.get<double>(), path) && ok;
    } else if (v.is_string()) {
      ok = check_string(n, v.get_ref<const std::string&>(), path) && ok;
    } else if (v.is_array()) {
      ok = check_array(n, v, path, depth) && ok;
    } else if (v.is_object()) {
      ok = check_object(n, v, path, depth) && ok;
    }
    return ok;
  }

 private:
  bool collecting() const { return out_ != nullptr; }

  bool fail(const Path& path, const char* keyword, std::string message) {
    if (out_ != nullptr) out_->push_back({path.pointer(), keyword, std::move(message)});
    return false;
  }

  bool check_number(const Node& n, double d, const Path& path) {
    bool ok = true;
    if (n.minimum && d < *n.minimum) {
      ok = fail(path, "minimum", "must be >= " + number_text(*n.minimum));
      if (!collecting()) return false;
    }
    if (n.maximum && d > *n.maximum) {
      ok = fail(path, "maximum", "must be <= " + number_text(*n.maximum));
      if (!collecting()) return false;
    }
    if (n.exclusive_minimum && d <= *n.exclusive_minimum) {
      ok = fail(path, "exclusiveMinimum", "must be > " + number_text(*n.exclusive_minimum));
      if (!collecting()) return false;
    }
    if (n.exclusive_maximum && d >= *n.exclusive_maximum) {
      ok = fail(path, "exclusiveMaximum", "must be < " + number_text(*n.exclusive_maximum));
    }
    return ok;
  }

  bool check_string(const Node& n, const std::string& s, const Path& path) {
    bool ok = true;
    if (n.min_length || n.max_length) {
      const std::size_t length = utf8::code_points(s);
      if (n.min_length && length < *n.min_length) {
        ok = fail(path, "minLength", "must be at least " + std::to_string(*n.min_length) +
                                         " characters long, is " + std::to_string(length));
        if (!collecting()) return false;
      }
      if (n.max_length && length > *n.max_length) {
        ok = fail(path, "maxLength", "must be at most " + std::to_string(*n.max_length) +
                                         " characters long, is " + std::to_string(length));
        if (!collecting()) return false;
      }
    }
    if (n.pattern && !RE2::PartialMatch(s, *n.pattern)) {
      ok = fail(path, "pattern", "does not match pattern " + json_text(json(n.pattern->pattern())));
    }
    return ok;
  }

  bool check_array(const Node& n, const json& v, const Path& path, int depth) {
    bool ok = true;
    const std::size_t size = v.size();
    if (n.min_items && size < *n.min_items) {
      ok = fail(path, "minItems", "must have at least " + std::to_string(*n.min_items) +
                                      " items, has " + std::to_string(size));
      if (!collecting()) return false;
    }
    if (n.max_items && size > *n.max_items) {
      ok = fail(path, "maxItems", "must have at most " + std::to_string(*n.max_items) +
                                      " items, has " + std::to_string(size));
      if (!collecting()) return false;
    }
    if (n.unique_items && size > 1) {
      std::vector<const json*> sorted;
      sorted.reserve(size);
      for (const auto& item : v) sorted.push_back(&item);
      std::sort(sorted.begin(), sorted.end(), [](const json* a, const json* b) { return *a < *b; });
      for (std::size_t i = 1; i < sorted.size(); ++i) {
        if (*sorted[i - 1] == *sorted[i]) {
          ok = fail(path, "uniqueItems", "items must be unique; " + json_text(*sorted[i]) + " repeats");
          if (!collecting()) return false;
          break;
        }
      }
    }
    if (n.items >= 0) {
      std::size_t i = 0;
      for (const auto& item : v) {
        const Path child{&path, {}, i++, true};
        if (!check(n.items, item, child, depth + 1)) {
          ok = false;
          if (!collecting()) return false;
        }
      }
    }
    return ok;
  }

  bool check_object(const Node& n, const json& v, const Path& path, int depth) {
    bool ok = true;
    for (const auto& name : n.required) {
      if (!v.contains(name)) {
        const Path child{&path, name, 0, false};
        ok = fail(child, "required", "required property '" + name + "' is missing");
        if (!collecting()) return false;
      }
    }
    if (n.properties.empty() && n.additional == Additional::allow) return ok;
    for (const auto& [key, value] : v.items()) {
      const Path child{&path, key, 0, false};
      auto it = std::lower_bound(
          n.properties.begin(), n.properties.end(), key,
          [](const std::pair<std::string, int>& p, const std::string& k) { return p.first < k; });
      int sub = -1;
      if (it != n.properties.end() && it->first == key) {
        sub = it->second;
      } else if (n.additional == Additional::forbid) {
        ok = fail(child, "additionalProperties", "property '" + key + "' is not allowed");
        if (!collecting()) return false;
        continue;
      } else if (n.additional == Additional::schema) {
        sub = n.additional_schema;
      }
      if (sub >= 0 && !check(sub, value, child, depth + 1)) {
        ok = false;
        if (!collecting()) return false;
      }
    }
    return ok;
  }

  const std::vector<Node>& nodes_;
  std::vector<SchemaViolation>* out_;
};

}  // namespace

struct CompiledSchema {
  json source;
  std::vector<Node> nodes;  // nodes[0] is the root
};

}  // namespace detail

std::string describe(const std::vector<SchemaViolation>& violations) {
  std::string out;
  for (const auto& v : violations) {
    if (!out.empty()) out += "; ";
    out += v.pointer.empty() ? std::string("(root)") : v.pointer;
    out += ": ";
    out += v.message;
  }
  return out;
}

JsonSchema::JsonSchema() {
  auto impl = std::make_shared<detail::CompiledSchema>();
  impl->source = true;
  impl->nodes.emplace_back();
  impl_ = std::move(impl);
}

Result<JsonSchema> JsonSchema::compile(const nlohmann::json& schema) {
  try {
    auto impl = std::make_shared<detail::CompiledSchema>();
    impl->source = schema;
    detail::Compiler compiler(impl->source);
    auto root = compiler.compile(impl->source, "");
    if (!root) return std::move(root).error();
    impl->nodes = compiler.take_nodes();
    return JsonSchema(std::move(impl));
  } catch (const std::exception& e) {
    return Error(ErrorCode::invalid_argument, std::string("schema: ") + e.what());
  }
}

std::vector<SchemaViolation> JsonSchema::validate(const nlohmann::json& instance) const {
  std::vector<SchemaViolation> out;
  detail::Validator validator(impl_->nodes, &out);
  const detail::Path root{nullptr, {}, 0, false};
  validator.check(0, instance, root, 0);
  return out;
}

bool JsonSchema::accepts(const nlohmann::json& instance) const {
  detail::Validator validator(impl_->nodes, nullptr);
  const detail::Path root{nullptr, {}, 0, false};
  return validator.check(0, instance, root, 0);
}

const nlohmann::json& JsonSchema::source() const { return impl_->source; }

}  // namespace rein
