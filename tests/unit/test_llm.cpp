#include <catch2/catch.hpp>
#include <fstream>

#include "rein/llm.hpp"

using nlohmann::json;

TEST_CASE("ScriptedLlm answers in order, records requests, then runs dry", "[llm]") {
  rein::LlmResponse first;
  first.content = "hello";
  first.prompt_tokens = 10;
  first.completion_tokens = 5;
  rein::ScriptedLlm llm({first, rein::Error(rein::ErrorCode::unavailable, "overloaded")});
  rein::LlmRequest request;
  request.messages.push_back({"user", "hi", {}, "", ""});
  auto a = llm(request);
  REQUIRE(a.ok());
  CHECK(a->content == "hello");
  CHECK(a->total_tokens() == 15);
  auto callback = llm.callback();  // shares the script
  auto b = callback(request);
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().message() == "overloaded");
  auto c = llm(request);
  CHECK(c.error().message() == "the scripted LLM has no responses left (2 were scripted)");
  CHECK(llm.requests().size() == 3);
  CHECK(llm.remaining() == 0);
}

TEST_CASE("ScriptedLlm reads JSONL scripts, naming bad lines", "[llm]") {
  const std::string path = "rein_test_script.jsonl";
  {
    std::ofstream out(path);
    out << R"({"content": "", "tool_calls": [{"id": "c1", "name": "billing__mrr", "arguments": {"account_id": "A1"}}], "finish_reason": "tool_calls", "usage": {"prompt_tokens": 3, "completion_tokens": 4}})"
        << "\n\n";
    out << R"({"error": {"code": "timeout", "message": "slow"}})"
        << "\n";
  }
  auto llm = rein::ScriptedLlm::from_jsonl(path);
  REQUIRE(llm.ok());
  auto a = (*llm)({});
  REQUIRE(a.ok());
  CHECK(a->tool_calls.at(0).name == "billing__mrr");
  CHECK(a->tool_calls.at(0).arguments == json{{"account_id", "A1"}});
  CHECK(a->total_tokens() == 7);
  auto b = (*llm)({});
  CHECK(b.error().code() == rein::ErrorCode::timeout);
  {
    std::ofstream out(path);
    out << R"({"content": "ok"})"
        << "\n"
        << R"({"content": 5})"
        << "\n";
  }
  auto bad = rein::ScriptedLlm::from_jsonl(path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() == path + ":2: llm response: field 'content' must be a string");
  {
    std::ofstream out(path);
    out << "{not json\n";
  }
  CHECK(rein::ScriptedLlm::from_jsonl(path).error().message() == path + ":1: not valid JSON");
  std::remove(path.c_str());
  CHECK(rein::ScriptedLlm::from_jsonl("/nonexistent.jsonl").error().code() ==
        rein::ErrorCode::not_found);
}

TEST_CASE("LlmResponse round-trips through JSON", "[llm]") {
  rein::LlmResponse r;
  r.content = "x";
  r.tool_calls.push_back({"id", "t__x", {{"a", 1}}, "{\"a\":1}"});
  r.finish_reason = "tool_calls";
  r.prompt_tokens = 1;
  r.completion_tokens = 2;
  r.cost = 0.5;
  r.model = "m";
  auto back = rein::llm_response_from_json(rein::to_json(r));
  REQUIRE(back.ok());
  CHECK(back->tool_calls == r.tool_calls);
  CHECK(rein::to_json(*back) == rein::to_json(r));
}
