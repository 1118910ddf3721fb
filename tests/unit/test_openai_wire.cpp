#include <catch2/catch.hpp>

#include "rein/openai_wire.hpp"

using nlohmann::json;
using rein::ChatStreamAssembler;

namespace {

rein::LlmRequest sample_request() {
  rein::LlmRequest r;
  r.messages = {{"system", "be brief", {}, "", ""},
                {"user", "mrr of A1?", {}, "", ""},
                {"assistant",
                 "",
                 {{"c1", "billing__mrr", json{{"account_id", "A1"}}, R"({"account_id":"A1"})"}},
                 "",
                 ""},
                {"tool", "{\"mrr\":5}", {}, "c1", ""}};
  r.tools =
      json::array({{{"type", "function"},
                    {"function", {{"name", "billing__mrr"}, {"parameters", json::object()}}}}});
  r.response_format = {{"type", "json_object"}};
  r.temperature = 0.0;
  r.max_tokens = 64;
  r.stop = {"END"};
  r.seed = 7;
  r.tags = {"planner"};
  r.run_id = "run-1";
  return r;
}

}  // namespace

TEST_CASE("chat_request_body writes the OpenAI wire format", "[llm][wire]") {
  auto body = rein::chat_request_body(sample_request(), {"gpt-test", false, false});
  REQUIRE(body.ok());
  const json& b = *body;
  CHECK(b["model"] == "gpt-test");
  CHECK(b["messages"].size() == 4);
  CHECK(b["messages"][2]["content"].is_null());
  CHECK(b["messages"][2]["tool_calls"][0]["function"]["arguments"] == R"({"account_id":"A1"})");
  CHECK(b["messages"][2]["tool_calls"][0]["type"] == "function");
  CHECK(b["messages"][3]["tool_call_id"] == "c1");
  CHECK(b["tools"][0]["function"]["name"] == "billing__mrr");
  CHECK(b["response_format"]["type"] == "json_object");
  CHECK(b["temperature"] == 0.0);
  CHECK(b["max_tokens"] == 64);
  CHECK(b["stop"] == json::array({"END"}));
  CHECK(b["seed"] == 7);
  CHECK_FALSE(b.contains("stream"));
  CHECK_FALSE(b.contains("run_id"));  // accounting fields stay local
  CHECK_FALSE(b.contains("tags"));

  auto streamed = rein::chat_request_body(sample_request(), {"gpt-test", true, true});
  REQUIRE(streamed.ok());
  CHECK((*streamed)["stream"] == true);
  CHECK((*streamed)["stream_options"]["include_usage"] == true);
  CHECK((*streamed)["max_completion_tokens"] == 64);

  rein::LlmRequest named = sample_request();
  named.model = "other";
  CHECK((*rein::chat_request_body(named, {"gpt-test", false, false}))["model"] == "other");

  SECTION("errors") {
    CHECK(rein::chat_request_body(sample_request(), {}).error().message().find("no model") !=
          std::string::npos);
    rein::LlmRequest bad = sample_request();
    bad.messages.push_back({"wizard", "x", {}, "", ""});
    auto e = rein::chat_request_body(bad, {"m", false, false});
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().message().find("'wizard'") != std::string::npos);
  }
}

TEST_CASE("parse_chat_response reads answers, tool calls, usage and finish reasons",
          "[llm][wire]") {
  const std::string body =
      R"({"id":"x","model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":null,
    "tool_calls":[{"id":"c9","type":"function","function":{"name":"crm__search","arguments":"{\"region\":\"west\"}"}},
                  {"id":"c10","type":"function","function":{"name":"crm__search","arguments":"{not json"}}]},
    "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19},"extra":1})";
  auto r = rein::parse_chat_response(body);
  REQUIRE(r.ok());
  CHECK(r->model == "gpt-test");
  CHECK(r->content.empty());
  CHECK(r->finish_reason == "tool_calls");
  CHECK(r->prompt_tokens == 12);
  CHECK(r->completion_tokens == 7);
  REQUIRE(r->tool_calls.size() == 2);
  CHECK(r->tool_calls[0].id == "c9");
  CHECK(r->tool_calls[0].arguments == json{{"region", "west"}});
  CHECK(r->tool_calls[1].arguments.is_null());  // kept as text so the model can be told
  CHECK(r->tool_calls[1].raw_arguments == "{not json");

  auto parts = rein::parse_chat_response(
      R"({"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},"finish_reason":"length"}]})");
  REQUIRE(parts.ok());
  CHECK(parts->content == "ab");
  CHECK(parts->finish_reason == "length");

  SECTION("malformed bodies name what is wrong") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "not valid JSON"},
        {"[1]", "not a JSON object"},
        {R"({"choices":[]})", "choices must be a non-empty array"},
        {R"({"choices":[{"message":5}]})", "choices[0].message must be an object"},
        {R"({"choices":[{"message":{"content":5}}]})", "content must be a string"},
        {R"({"choices":[{"message":{"tool_calls":[{"function":{"arguments":"{}"}}]}}]})",
         "function.name"},
        {R"({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":-1}})",
         "usage.prompt_tokens"},
        {R"({"error":{"message":"model overloaded","type":"server_error"}})",
         "model overloaded (server_error)"},
    };
    for (const auto& [text, expected] : cases) {
      INFO(text);
      auto e = rein::parse_chat_response(text);
      REQUIRE_FALSE(e.ok());
      CHECK(e.error().code() == rein::ErrorCode::unavailable);
      CHECK(e.error().message().find(expected) != std::string::npos);
    }
  }
}

TEST_CASE("provider_error_message finds the provider's words", "[llm][wire]") {
  CHECK(rein::provider_error_message(
            R"({"error":{"message":"Rate limit reached","type":"requests"}})") ==
        "Rate limit reached (requests)");
  CHECK(rein::provider_error_message(R"({"error":"model 'x' not found"})") ==
        "model 'x' not found");  // Ollama's shape
  CHECK(rein::provider_error_message("<html>Bad gateway</html>") == "<html>Bad gateway</html>");
  CHECK(rein::provider_error_message("") == "(empty body)");
}

TEST_CASE("ChatStreamAssembler joins content and tool-call arguments split across chunks",
          "[llm][wire]") {
  std::vector<rein::LlmDelta> deltas;
  ChatStreamAssembler a([&](const rein::LlmDelta& d) { deltas.push_back(d); });
  const std::string stream =
      ": keep-alive\r\n\r\n"
      "data: "
      "{\"model\":\"m1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
      "\"Hel\"}}]}\r\n\r\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"
      "data: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"type\":"
      "\"function\",\"function\":{\"name\":\"crm__search\",\"arguments\":\"{\\\"reg\"}}]}}]}\n\n"
      "data: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"c2\","
      "\"function\":{\"name\":\"billing__mrr\",\"arguments\":\"\"}}]}}]}\n\n"
      "data: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
      "\"arguments\":\"ion\\\": \\\"west\\\"}\"}}]}}]}\n\n"
      "data: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{"
      "\"arguments\":\"{\\\"account_id\\\":\\\"A1\\\"}\"}}]}}]}\n\n"
      "event: ignored\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":9}}\n\n"
      "data: [DONE]\n\n";
  // Fed one byte at a time: every split point must work.
  for (char c : stream)
    REQUIRE(a.feed(std::string_view(&c, 1)).ok());
  CHECK(a.done());
  auto r = a.finish();
  REQUIRE(r.ok());
  CHECK(r->model == "m1");
  CHECK(r->content == "Hello");
  CHECK(r->finish_reason == "tool_calls");
  CHECK(r->prompt_tokens == 30);
  CHECK(r->completion_tokens == 9);
  REQUIRE(r->tool_calls.size() == 2);
  CHECK(r->tool_calls[0].id == "c1");
  CHECK(r->tool_calls[0].name == "crm__search");
  CHECK(r->tool_calls[0].arguments == json{{"region", "west"}});
  CHECK(r->tool_calls[1].arguments == json{{"account_id", "A1"}});
  REQUIRE(deltas.size() == 6);
  CHECK(deltas[0].content == "Hel");
  CHECK(deltas[2].tool_call_index == 0);
  CHECK(deltas[2].tool_name == "crm__search");
  CHECK(deltas[4].arguments == "ion\": \"west\"}");
}

TEST_CASE("ChatStreamAssembler reports cut-short, malformed and error streams", "[llm][wire]") {
  SECTION("cut short: no [DONE] and no finish reason") {
    ChatStreamAssembler a;
    REQUIRE(
        a.feed("data: {\"choices\":[{\"delta\":{\"content\":\"par\"}}]}\n\ndata: {\"choi").ok());
    CHECK(a.delivered());
    auto r = a.finish();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("before [DONE]") != std::string::npos);
  }
  SECTION("cut short after complete events") {
    ChatStreamAssembler a;
    REQUIRE(a.feed("data: {\"choices\":[{\"delta\":{\"content\":\"par\"}}]}\n\n").ok());
    auto r = a.finish();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("before [DONE]") != std::string::npos);
  }
  SECTION("a finish reason without [DONE] is complete (some servers omit it)") {
    ChatStreamAssembler a;
    REQUIRE(
        a.feed("data: "
               "{\"choices\":[{\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n")
            .ok());
    auto r = a.finish();
    REQUIRE(r.ok());
    CHECK(r->content == "ok");
  }
  SECTION("malformed chunk") {
    ChatStreamAssembler a;
    auto s = a.feed("data: {oops}\n\n");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message().find("not a JSON object") != std::string::npos);
    CHECK_FALSE(a.feed("data: [DONE]\n\n").ok());  // stays failed
    CHECK_FALSE(a.finish().ok());
  }
  SECTION("error event") {
    ChatStreamAssembler a;
    auto s = a.feed("data: {\"error\":{\"message\":\"context length exceeded\"}}\n\n");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message().find("context length exceeded") != std::string::npos);
  }
  SECTION("limits") {
    ChatStreamAssembler::Limits limits;
    limits.max_line_bytes = 16;
    ChatStreamAssembler a({}, limits);
    CHECK_FALSE(a.feed("data: 0123456789abcdefghij").ok());
    ChatStreamAssembler b;
    CHECK_FALSE(
        b.feed("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":100000}]}}]}\n\n").ok());
  }
  SECTION("a tool call that never names its function") {
    ChatStreamAssembler a;
    REQUIRE(
        a.feed("data: "
               "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
               "\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n")
            .ok());
    auto r = a.finish();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("never named") != std::string::npos);
  }
}
