// The named constructors of ArgConstraint.
#include "rein/policy.hpp"

namespace rein {

using nlohmann::json;

namespace {

ArgConstraint on(std::string pointer, ArgConstraint::Kind kind) {
  ArgConstraint c;
  c.pointer = std::move(pointer);
  c.kind = kind;
  return c;
}

}  // namespace

ArgConstraint ArgConstraint::equals(std::string pointer, json value) {
  ArgConstraint c = on(std::move(pointer), Kind::equals);
  c.value = std::move(value);
  return c;
}
ArgConstraint ArgConstraint::one_of(std::string pointer, std::vector<json> values) {
  ArgConstraint c = on(std::move(pointer), Kind::one_of);
  c.values = std::move(values);
  return c;
}
ArgConstraint ArgConstraint::regex(std::string pointer, std::string pattern) {
  ArgConstraint c = on(std::move(pointer), Kind::regex);
  c.pattern = std::move(pattern);
  return c;
}
ArgConstraint ArgConstraint::range(std::string pointer, std::optional<double> min,
                                   std::optional<double> max) {
  ArgConstraint c = on(std::move(pointer), Kind::range);
  c.min = min;
  c.max = max;
  return c;
}
ArgConstraint ArgConstraint::length_at_most(std::string pointer, std::size_t max_length) {
  ArgConstraint c = on(std::move(pointer), Kind::max_length);
  c.max_length = max_length;
  return c;
}
ArgConstraint ArgConstraint::path_under(std::string pointer, std::string folder) {
  ArgConstraint c = on(std::move(pointer), Kind::path_under);
  c.folder = std::move(folder);
  return c;
}
ArgConstraint ArgConstraint::url_in(std::string pointer, UrlSet urls) {
  ArgConstraint c = on(std::move(pointer), Kind::url_in);
  c.urls = std::move(urls);
  return c;
}
ArgConstraint ArgConstraint::present(std::string pointer) {
  return on(std::move(pointer), Kind::present);
}
ArgConstraint ArgConstraint::absent(std::string pointer) {
  return on(std::move(pointer), Kind::absent);
}
ArgConstraint ArgConstraint::trusted(std::string pointer) {
  return on(std::move(pointer), Kind::trusted);
}
ArgConstraint ArgConstraint::untrusted(std::string pointer) {
  return on(std::move(pointer), Kind::untrusted);
}
ArgConstraint ArgConstraint::level_at_most(std::string pointer, std::string level) {
  ArgConstraint c = on(std::move(pointer), Kind::level_at_most);
  c.level = std::move(level);
  return c;
}
ArgConstraint ArgConstraint::level_above(std::string pointer, std::string level) {
  ArgConstraint c = on(std::move(pointer), Kind::level_above);
  c.level = std::move(level);
  return c;
}

}  // namespace rein
