// The internal writer behind audit payloads must produce exactly nlohmann's canonical text.
#include <catch2/catch.hpp>

#include "core/json_writer.hpp"

using nlohmann::json;

TEST_CASE("JsonObjectWriter output equals the canonical dump", "[audit]") {
  const std::vector<std::string> strings = {"plain", "", "with \"quotes\"", "back\\slash", "tab\there",
                                            "line\nbreak", "ctrl\x01", "caf\xc3\xa9", "bad\xff utf8", "del\x7f"};
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
    const json expected = {{"args", args}, {"attempts", -3}, {"ok", true}, {"raw", {1, 2}}, {"s", s}, {"v", {s, "x"}}};
    INFO(s);
    CHECK(written == rein::detail::json_text(expected));
  }
  CHECK(rein::detail::JsonObjectWriter().finish() == "{}");
}
