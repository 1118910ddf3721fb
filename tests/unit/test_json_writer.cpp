// The internal writer behind audit payloads must produce exactly nlohmann's canonical text.
#include <catch2/catch.hpp>

#include "core/json_writer.hpp"

using nlohmann::json;

TEST_CASE("JsonObjectWriter output equals the canonical dump", "[audit]") {
  const std::vector<std::string> strings = {
      "plain",       "",         "with \"quotes\"", "back\\slash",  "tab\there",
      "line\nbreak", "ctrl\x01", "caf\xc3\xa9",     "bad\xff utf8", "del\x7f"};
  for (const auto& s : strings) {
    const json args = {{"q", s}, {"n", 1.5}, {"list", {1, "two", nullptr}}};
    const std::string written = rein::detail::JsonObjectWriter()
                                    .value("args", args)
                                    .integer("attempts", -3)
                                    .boolean("ok", true)
                                    .raw("raw", "[1,2]")
                                    .string("s", s)
                                    .strings("v", {s, "x"})
                                    .finish();
    const json expected = {{"args", args},  {"attempts", -3}, {"ok", true},
                           {"raw", {1, 2}}, {"s", s},         {"v", {s, "x"}}};
    INFO(s);
    CHECK(written == rein::detail::json_text(expected));
  }
  CHECK(rein::detail::JsonObjectWriter().finish() == "{}");
}

namespace {

// Turns the key order check on for one test, whatever the build type, and back as it was.
struct KeyOrderChecked {
  bool before = rein::detail::json_key_order_checks();
  KeyOrderChecked() { rein::detail::set_json_key_order_checks(true); }
  ~KeyOrderChecked() { rein::detail::set_json_key_order_checks(before); }
};

}  // namespace

TEST_CASE("the test programs check key order", "[audit]") {
  CHECK(rein::detail::json_key_order_checks());
}

TEST_CASE("a key written out of order is reported", "[audit]") {
  using rein::detail::JsonObjectWriter;
  KeyOrderChecked on;
  CHECK_THROWS_WITH(JsonObjectWriter().string("b", "x").string("a", "y"),
                    "JSON keys out of canonical order: 'a' written after 'b'");
  CHECK_THROWS_WITH(JsonObjectWriter().integer("a", 1).boolean("a", true),
                    Catch::Contains("'a' written after 'a'"));
  // Bytewise, as std::map<std::string> sorts: "B" < "a", "a" < "a_b" < "ab".
  CHECK_NOTHROW(JsonObjectWriter()
                    .integer("B", 1)
                    .integer("a", 1)
                    .integer("a_b", 1)
                    .integer("ab", 1)
                    .finish());
  CHECK_THROWS(JsonObjectWriter().integer("ab", 1).integer("a_b", 1));
  // A nested object's keys are ordered among themselves, and the outer order resumes after it.
  CHECK(JsonObjectWriter()
            .object("m", [](auto& f) { f.integer("z", 1).integer("zz", 2); })
            .objects("n", std::vector<int>{1, 2}, [](auto& f, int i) { f.integer("a", i); })
            .integer("o", 3)
            .finish() == R"({"m":{"z":1,"zz":2},"n":[{"a":1},{"a":2}],"o":3})");
  CHECK_THROWS(JsonObjectWriter().object("m", [](auto& f) { f.integer("z", 1).integer("y", 2); }));
  CHECK_THROWS(JsonObjectWriter().object("m", [](auto& f) { f.integer("z", 1); }).integer("a", 1));
  // The tree writer checks the same order.
  CHECK_THROWS(rein::detail::JsonTreeWriter().string("b", "x").string("a", "y"));
  // Extra fields merged into a type's fields are placed by key; omitted keys do not count.
  const std::string_view omit[] = {"b"};
  const rein::detail::RawField extra[] = {{"ab", "1"}, {"c", ""}, {"d", "true"}};
  JsonObjectWriter w;
  rein::detail::FieldMerge merged(w, omit, extra);
  merged.integer("a", 0).integer("b", 2).integer("c", 3);
  merged.done();
  CHECK(w.finish() == R"({"a":0,"ab":1,"c":3,"d":true})");
  const rein::detail::RawField unsorted[] = {{"z", "1"}, {"b", "2"}};
  JsonObjectWriter u;
  rein::detail::FieldMerge bad(u, {}, unsorted);
  CHECK_THROWS(bad.integer("a", 0).done());
}

TEST_CASE("the key order check can be turned off", "[audit]") {
  KeyOrderChecked on;
  rein::detail::set_json_key_order_checks(false);
  CHECK(rein::detail::JsonObjectWriter().string("b", "x").string("a", "y").finish() ==
        R"({"b":"x","a":"y"})");
}

TEST_CASE("json_string is the writer's escaping of one value", "[audit]") {
  for (const std::string s : {"plain", "", "q\"uote", "tab\t", "caf\xc3\xa9", "bad\xff"}) {
    CHECK(rein::detail::json_string(s) == rein::detail::json_text(json(s)));
  }
}
