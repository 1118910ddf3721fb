// Labels: joining, the label of a part of a value, the JSON form and its errors.
#include <catch2/catch.hpp>

#include "rein/labels.hpp"

using namespace rein;
using nlohmann::json;

TEST_CASE("joining labels keeps the weaker integrity and every level and source", "[labels]") {
  Label a;
  CHECK(a.is_plain());
  a.join(Label::untrusted("tool:web.fetch"));
  CHECK_FALSE(a.trusted);
  a.join(Label::at_level("secret", "tool:files.read"));
  a.join(Label::untrusted("tool:web.fetch"));  // again: nothing new
  a.join(Label::at_level("internal", "tool:crm.get"));
  CHECK_FALSE(a.trusted);
  CHECK(a.levels == std::vector<std::string>{"internal", "secret"});
  CHECK(a.sources == std::vector<std::string>{"tool:crm.get", "tool:files.read", "tool:web.fetch"});
  CHECK(a.describe() ==
        "untrusted, internal, secret, from tool:crm.get, tool:files.read, tool:web.fetch");
  // Joining is symmetric: the trusted side gains nothing by being first.
  Label b = Label::at_level("secret", "tool:files.read");
  CHECK(b.trusted);
  b.join(Label::untrusted("tool:web.fetch")).join(Label::at_level("internal", "tool:crm.get"));
  CHECK(b == a);
  CHECK(Label::at_level("", "x").is_plain());
  CHECK(Label{}.describe() == "trusted, public");
}

TEST_CASE("the label of a part is joined from what contains it and what lies inside it",
          "[labels]") {
  ValueLabels labels;
  CHECK(labels.at("/to").is_plain());
  labels.add("/to", Label::untrusted("tool:web.fetch"));
  labels.add("/body/attachments/0", Label::at_level("secret", "tool:files.read"));
  labels.add("/cc", Label{});  // plain: adds nothing
  CHECK(labels.parts.size() == 2);

  CHECK_FALSE(labels.at("/to").trusted);
  CHECK(labels.at("/to/0").sources == std::vector<std::string>{"tool:web.fetch"});
  CHECK(labels.at("/subject").is_plain());
  CHECK(labels.at("/tox").is_plain());  // by whole tokens, not by prefix
  CHECK(labels.at("/body").levels == std::vector<std::string>{"secret"});
  CHECK(labels.at("/body").trusted);
  const Label whole = labels.at("");
  CHECK_FALSE(whole.trusted);
  CHECK(whole.levels == std::vector<std::string>{"secret"});
  CHECK(whole == labels.whole());

  // A label on the whole value reaches every part.
  ValueLabels model_written;
  model_written.add("", Label::untrusted("tool:email.read"));
  CHECK_FALSE(model_written.at("/to").trusted);
  model_written.add("", Label::untrusted("observation:feed"));
  CHECK(model_written.parts.size() == 1);
  CHECK(model_written.at("/x/y").sources ==
        std::vector<std::string>{"observation:feed", "tool:email.read"});
}

TEST_CASE("labels round-trip through JSON and bad documents name the field", "[labels]") {
  ValueLabels labels;
  labels.add("/to", Label::untrusted("tool:web.fetch"));
  labels.add("", Label::at_level("secret", "tool:files.read"));
  const json j = labels.to_json();
  CHECK(j == json::parse(R"({"": {"trusted": true, "levels": ["secret"],
                                  "sources": ["tool:files.read"]},
                             "/to": {"trusted": false, "sources": ["tool:web.fetch"]}})"));
  auto back = ValueLabels::from_json(j);
  REQUIRE(back.ok());
  CHECK(*back == labels);

  // Unsorted and repeated lists are read as sets.
  auto set = Label::from_json(json::parse(R"({"trusted": false, "sources": ["b", "a", "b"]})"));
  REQUIRE(set.ok());
  CHECK(set->sources == std::vector<std::string>{"a", "b"});

  CHECK(Label::from_json(json::parse(R"({"levels": []})")).error().message() ==
        "label: field 'trusted' is required");
  CHECK(Label::from_json(json::parse(R"({"trusted": "yes"})")).error().message() ==
        "label: field 'trusted' must be a boolean");
  CHECK(Label::from_json(json::parse(R"({"trusted": true, "levels": [1]})")).error().message() ==
        "label: field 'levels' must be an array of strings");
  CHECK(Label::from_json(json::parse(R"({"trusted": true, "levels": [""]})")).error().message() ==
        "label: field 'levels' must not contain an empty string");
  CHECK(Label::from_json(json::parse(R"({"trusted": true, "color": "red"})")).error().message() ==
        "label: unknown field 'color'");
  CHECK(ValueLabels::from_json(json::parse(R"({"to": {"trusted": true}})")).error().message() ==
        "labels: 'to' is not a JSON pointer");
  CHECK(ValueLabels::from_json(json::parse(R"({"/to": {"trusted": 0}})")).error().message() ==
        "labels['/to']: field 'trusted' must be a boolean");
  CHECK(ValueLabels::from_json(json::array()).error().message() == "labels: must be an object");
}
