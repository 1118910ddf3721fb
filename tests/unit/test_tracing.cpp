#include <catch2/catch.hpp>
#include <fstream>

#include "rein/tracing.hpp"

using nlohmann::json;

TEST_CASE("spans export in the OTLP JSON encoding", "[tracing]") {
  rein::Tracer tracer("qbr-agent");
  rein::Span root{
      rein::Tracer::trace_id_for("run-1"),
      "00000000000000aa",
      "",
      "rein.step",
      1'000,
      5'000,
      {{"rein.step", 3}, {"rein.ok", true}, {"rein.cost", 0.5}, {"rein.tool", "billing.mrr"}},
      false,
      ""};
  rein::Span child = root;
  child.span_id = "00000000000000bb";
  child.parent_span_id = root.span_id;
  child.name = "rein.tool_call";
  child.error = true;
  child.status_message = "timeout";
  tracer.record(root);
  tracer.record(child);
  json otlp = tracer.to_otlp_json();
  const json& rs = otlp["resourceSpans"][0];
  CHECK(rs["resource"]["attributes"][0] ==
        json{{"key", "service.name"}, {"value", {{"stringValue", "qbr-agent"}}}});
  CHECK(rs["scopeSpans"][0]["scope"]["name"] == "rein");
  const json& spans = rs["scopeSpans"][0]["spans"];
  REQUIRE(spans.size() == 2);
  CHECK(spans[0]["traceId"].get<std::string>().size() == 32);
  CHECK(spans[0]["spanId"] == "00000000000000aa");
  CHECK_FALSE(spans[0].contains("parentSpanId"));
  CHECK(spans[0]["startTimeUnixNano"] == "1000");
  CHECK(spans[0]["endTimeUnixNano"] == "5000");
  CHECK(spans[0]["status"] == json{{"code", 1}});
  CHECK(spans[1]["parentSpanId"] == "00000000000000aa");
  CHECK(spans[1]["status"] == json{{"code", 2}, {"message", "timeout"}});
  json attrs = spans[0]["attributes"];
  auto find = [&](const std::string& key) {
    for (const auto& a : attrs) {
      if (a["key"] == key) return a["value"];
    }
    return json();
  };
  CHECK(find("rein.step") == json{{"intValue", "3"}});
  CHECK(find("rein.ok") == json{{"boolValue", true}});
  CHECK(find("rein.cost") == json{{"doubleValue", 0.5}});
  CHECK(find("rein.tool") == json{{"stringValue", "billing.mrr"}});

  const std::string path = "rein_test_trace.json";
  REQUIRE(tracer.export_otlp_json(path).ok());
  std::ifstream in(path);
  CHECK(json::parse(in) == otlp);
  std::remove(path.c_str());
}

TEST_CASE("the tracer is bounded and trace ids are stable per run", "[tracing]") {
  rein::Tracer tracer("t", 3);
  for (int i = 0; i < 5; ++i) {
    rein::Span s;
    s.name = "s" + std::to_string(i);
    tracer.record(s);
  }
  auto spans = tracer.spans();
  REQUIRE(spans.size() == 3);
  CHECK(spans[0].name == "s2");
  CHECK(spans[2].name == "s4");
  CHECK(tracer.dropped() == 2);
  CHECK(rein::Tracer::trace_id_for("run-1") == rein::Tracer::trace_id_for("run-1"));
  CHECK(rein::Tracer::trace_id_for("run-1") != rein::Tracer::trace_id_for("run-2"));
}
