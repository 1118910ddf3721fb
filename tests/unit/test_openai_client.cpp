#include <catch2/catch.hpp>

#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "../support/fake_llm_server.hpp"
#include "../support/waiting.hpp"
#include "rein/openai_client.hpp"

#ifndef REIN_WITH_CURL
#error "REIN_WITH_CURL comes from rein/config.hpp, which rein/openai_client.hpp includes"
#endif

using nlohmann::json;
using rein::test::FakeLlmServer;
using rein::test::FakeReply;

namespace {

rein::OpenAiOptions options_for(const std::string& base_url, rein::Env* env, int retries) {
  rein::OpenAiOptions o;
  o.base_url = base_url;
  o.api_key = "sk-test";
  o.model = "fake-model";
  o.max_retries = retries;
  o.env = env;
  o.read_timeout = std::chrono::milliseconds(10'000);
  return o;
}

rein::OpenAiClient make_client(const FakeLlmServer& server, rein::Env* env, int retries = 3) {
  auto client = rein::OpenAiClient::create(options_for(server.base_url(), env, retries));
  REQUIRE(client.ok());
  return *client;
}

rein::LlmRequest ask(const std::string& text) {
  rein::LlmRequest r;
  r.messages.push_back({"user", text, {}, "", ""});
  r.temperature = 0.0;
  return r;
}

}  // namespace

#if REIN_WITH_CURL

TEST_CASE("OpenAiClient sends chat completions and reads answers and tool calls", "[llm][http]") {
  FakeLlmServer server;
  rein::ManualEnv env;
  auto client = make_client(server, &env);
  server.push(FakeReply::answer("hello there", nullptr, 11, 3));
  server.push(FakeReply::answer(
      "",
      json::array({{{"id", "c1"}, {"name", "crm__search"}, {"arguments", {{"region", "west"}}}}})));

  auto a = client(ask("hi"));
  REQUIRE(a.ok());
  CHECK(a->content == "hello there");
  CHECK(a->finish_reason == "stop");
  CHECK(a->prompt_tokens == 11);
  CHECK(a->completion_tokens == 3);
  CHECK(a->model == "fake-model");

  auto b = client.callback()(ask("search"));
  REQUIRE(b.ok());
  REQUIRE(b->tool_calls.size() == 1);
  CHECK(b->tool_calls[0].name == "crm__search");
  CHECK(b->tool_calls[0].arguments == json{{"region", "west"}});

  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].path == "/v1/chat/completions");
  CHECK(requests[0].header("authorization") == "Bearer sk-test");
  CHECK(requests[0].header("content-type") == "application/json");
  CHECK(requests[0].json["model"] == "fake-model");
  CHECK(requests[0].json["messages"][0]["content"] == "hi");
  CHECK(requests[0].json["temperature"] == 0.0);
  // Both calls went over one kept-alive connection.
  CHECK(server.connections() == 1);
  CHECK(requests[1].connection == 1);
}

TEST_CASE("OpenAiClient streams, reassembling tool-call arguments split across chunks",
          "[llm][http]") {
  FakeLlmServer server;
  rein::ManualEnv env;
  auto client = make_client(server, &env);
  std::string sse;
  for (const json& e :
       {json{
            {"choices", {{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", "Look"}}}}}}},
        json{{"choices", {{{"index", 0}, {"delta", {{"content", "ing up."}}}}}}},
        json{{"choices",
              {{{"index", 0},
                {"delta",
                 {{"tool_calls",
                   {{{"index", 0},
                     {"id", "c7"},
                     {"function", {{"name", "billing__mrr"}, {"arguments", "{\"acc"}}}}}}}}}}}},
        json{{"choices",
              {{{"index", 0},
                {"delta",
                 {{"tool_calls",
                   {{{"index", 0}, {"function", {{"arguments", "ount_id\": \"A1\"}"}}}}}}}}}}}},
        json{{"choices",
              {{{"index", 0}, {"delta", json::object()}, {"finish_reason", "tool_calls"}}}}},
        json{{"choices", json::array()},
             {"usage", {{"prompt_tokens", 40}, {"completion_tokens", 12}}}}}) {
    sse += "data: " + e.dump() + "\n\n";
  }
  sse += "data: [DONE]\n\n";
  FakeReply reply;
  reply.headers.push_back({"Content-Type", "text/event-stream"});
  for (std::size_t i = 0; i < sse.size(); i += 17)
    reply.chunks.push_back(sse.substr(i, 17));  // split mid-JSON
  server.push(reply);

  std::string seen;
  rein::LlmRequest request = ask("mrr?");
  request.on_delta = [&](const rein::LlmDelta& d) { seen += d.content + d.arguments; };
  auto r = client(request);
  REQUIRE(r.ok());
  CHECK(r->content == "Looking up.");
  CHECK(r->finish_reason == "tool_calls");
  CHECK(r->prompt_tokens == 40);
  REQUIRE(r->tool_calls.size() == 1);
  CHECK(r->tool_calls[0].id == "c7");
  CHECK(r->tool_calls[0].arguments == json{{"account_id", "A1"}});
  CHECK(seen == "Looking up.{\"account_id\": \"A1\"}");
  const auto requests = server.requests();
  CHECK(requests[0].json["stream"] == true);
  CHECK(requests[0].header("accept") == "text/event-stream");
}

TEST_CASE("OpenAiClient retries 429 and 5xx, honouring Retry-After, and not other 4xx",
          "[llm][http]") {
  FakeLlmServer server;
  rein::ManualEnv env;

  SECTION("429 with Retry-After, then success") {
    auto client = make_client(server, &env);
    FakeReply limited = FakeReply::error(429, "Rate limit reached");
    limited.headers.push_back({"Retry-After", "7"});
    server.push(limited);
    server.push(FakeReply::answer("ok"));
    auto r = client(ask("x"));
    REQUIRE(r.ok());
    CHECK(server.requests().size() == 2);
    CHECK(env.slept() >= std::chrono::seconds(7));  // waited what the server asked
  }
  SECTION("500 until retries run out") {
    auto client = make_client(server, &env, 2);
    for (int i = 0; i < 3; ++i)
      server.push(FakeReply::error(500, "upstream exploded"));
    auto r = client(ask("x"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == rein::ErrorCode::unavailable);
    CHECK(r.error().message().find("HTTP 500") != std::string::npos);
    CHECK(r.error().message().find("upstream exploded") != std::string::npos);
    CHECK(r.error().message().find("gave up after 3 attempts") != std::string::npos);
    CHECK(server.requests().size() == 3);
    CHECK(env.slept() > std::chrono::milliseconds(0));
  }
  SECTION("a Retry-After longer than max_retry_after is not waited out") {
    auto client = make_client(server, &env);
    FakeReply limited = FakeReply::error(429, "slow down");
    limited.headers.push_back({"Retry-After", "3600"});
    server.push(limited);
    auto r = client(ask("x"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("Retry-After of 3600 s") != std::string::npos);
    CHECK(server.requests().size() == 1);
  }
  SECTION("400 and 401 are not retried") {
    auto client = make_client(server, &env);
    server.push(FakeReply::error(400, "Invalid 'messages'"));
    auto bad = client(ask("x"));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code() == rein::ErrorCode::invalid_argument);
    CHECK(bad.error().message().find("HTTP 400: Invalid 'messages' (test_error)") !=
          std::string::npos);
    server.push(FakeReply::error(401, "Incorrect API key"));
    auto denied = client(ask("x"));
    CHECK(denied.error().code() == rein::ErrorCode::permission_denied);
    CHECK(server.requests().size() == 2);
    CHECK(env.slept() == std::chrono::nanoseconds(0));
  }
}

TEST_CASE("OpenAiClient turns malformed and cut-short answers into errors", "[llm][http]") {
  FakeLlmServer server;
  rein::ManualEnv env;
  auto client = make_client(server, &env);

  SECTION("malformed JSON is reported, not retried") {
    FakeReply broken;
    broken.body = "{\"choices\": [";
    server.push(broken);
    auto r = client(ask("x"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == rein::ErrorCode::unavailable);
    CHECK(r.error().message().find("not valid JSON") != std::string::npos);
    CHECK(server.requests().size() == 1);
  }
  SECTION("a stream cut short after content was delivered is not retried") {
    FakeReply cut =
        FakeReply::stream({json{{"choices", {{{"delta", {{"content", "half an ans"}}}}}}}}, false);
    cut.cut_short = true;
    server.push(cut);
    rein::LlmRequest request = ask("x");
    std::string seen;
    request.on_delta = [&](const rein::LlmDelta& d) { seen += d.content; };
    auto r = client(request);
    REQUIRE_FALSE(r.ok());
    CHECK(seen == "half an ans");
    CHECK(server.requests().size() == 1);
  }
  SECTION("a stream cut short before anything was delivered is retried") {
    FakeReply cut = FakeReply::stream({json(": waiting")}, false);
    cut.chunks = {": waiting\n\n"};
    cut.cut_short = true;
    server.push(cut);
    server.push(FakeReply::stream(
        {json{{"choices", {{{"delta", {{"content", "whole"}}}, {"finish_reason", "stop"}}}}}}));
    rein::LlmRequest request = ask("x");
    request.on_delta = [](const rein::LlmDelta&) {};
    auto r = client(request);
    REQUIRE(r.ok());
    CHECK(r->content == "whole");
    CHECK(server.requests().size() == 2);
  }
}

TEST_CASE("OpenAiClient enforces its timeouts and reports refused connections", "[llm][http]") {
  rein::ManualEnv env;
  SECTION("total timeout") {
    FakeLlmServer server;
    rein::OpenAiOptions o = options_for(server.base_url(), &env, 0);
    o.total_timeout = std::chrono::milliseconds(300);
    FakeReply slow = FakeReply::answer("late");
    slow.delay = std::chrono::milliseconds(5000);
    server.push(slow);
    auto r = rein::OpenAiClient::create(o)->complete(ask("x"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == rein::ErrorCode::timeout);
  }
  SECTION("read timeout between stream chunks") {
    FakeLlmServer server;
    rein::OpenAiOptions o = options_for(server.base_url(), &env, 0);
    o.read_timeout = std::chrono::milliseconds(1000);
    FakeReply stalled = FakeReply::stream({json{{"choices", {{{"delta", {{"content", "a"}}}}}}}});
    stalled.chunk_delay = std::chrono::milliseconds(6000);
    server.push(stalled);
    rein::LlmRequest request = ask("x");
    request.on_delta = [](const rein::LlmDelta&) {};
    auto r = rein::OpenAiClient::create(o)->complete(request);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == rein::ErrorCode::timeout);
  }
  SECTION("connection refused is retried, then unavailable") {
    std::string url;
    {
      FakeLlmServer closed;
      url = closed.base_url();
    }
    rein::OpenAiOptions o = options_for(url, &env, 2);
    auto r = rein::OpenAiClient::create(o)->complete(ask("x"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == rein::ErrorCode::unavailable);
    CHECK(r.error().message().find("gave up after 3 attempts") != std::string::npos);
    CHECK(env.slept() > std::chrono::milliseconds(0));
  }
}

TEST_CASE("OpenAiClient may be called from many threads at once", "[llm][http][concurrency]") {
  FakeLlmServer server;
  server.set_handler([](const rein::test::RecordedRequest& r) {
    return FakeReply::answer("echo:" + r.json["messages"][0]["content"].get<std::string>());
  });
  auto client = make_client(server, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const std::string text = std::to_string(t) + "-" + std::to_string(i);
        auto r = client(ask(text));
        if (r.ok() && r->content == "echo:" + text) ++good;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(good == 30);
  CHECK(server.connections() <= 6);  // pooled handles keep their connections
}

// Collects complete_async answers, with the thread each arrived on.
struct Answers {
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<rein::Result<rein::LlmResponse>> results;
  std::set<std::thread::id> threads;

  rein::LlmCompletion completion() {
    return rein::LlmCompletion(
        [this](rein::Result<rein::LlmResponse> r) {
          std::lock_guard lock(mutex);
          results.push_back(std::move(r));
          threads.insert(std::this_thread::get_id());
          arrived.notify_all();
        },
        [] {
          return rein::Result<rein::LlmResponse>(
              rein::Error(rein::ErrorCode::unavailable, "abandoned"));
        });
  }
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mutex);
    return arrived.wait_for(lock, rein::testing::kHangGuard, [&] { return results.size() >= n; });
  }
};

TEST_CASE(
    "OpenAiClient::complete_async drives many requests on one I/O thread, reusing "
    "connections",
    "[llm][http][async]") {
  FakeLlmServer server;
  server.set_handler([](const rein::test::RecordedRequest& r) {
    FakeReply reply =
        FakeReply::answer("echo:" + r.json["messages"][0]["content"].get<std::string>());
    reply.delay = std::chrono::milliseconds(100);
    return reply;
  });
  auto client = make_client(server, nullptr);
  constexpr int kRequests = 200;
  Answers answers;
  const auto caller = std::this_thread::get_id();
  for (int wave = 0; wave < 2; ++wave) {
    for (int i = 0; i < kRequests; ++i)
      client.complete_async(ask(std::to_string(wave) + "/" + std::to_string(i)),
                            answers.completion());
    REQUIRE(answers.wait_for(static_cast<std::size_t>((wave + 1) * kRequests)));
  }
  std::lock_guard lock(answers.mutex);
  std::set<std::string> contents;
  for (const auto& r : answers.results) {
    REQUIRE(r.ok());
    contents.insert(r->content);
  }
  CHECK(contents.size() == 2 * kRequests);  // each answer went to its own request
  CHECK(contents.count("echo:1/199") == 1);
  REQUIRE(answers.threads.size() == 1);  // every completion came from the one I/O thread
  CHECK(*answers.threads.begin() != caller);
  // The second wave found the first wave's connections open (max_idle_connections: 256).
  CHECK(server.connections() <= kRequests);
  CHECK(server.requests().size() == 2 * kRequests);
}

TEST_CASE(
    "OpenAiClient::complete_async retries on a timer and reports failures through the "
    "completion",
    "[llm][http][async]") {
  FakeLlmServer server;
  SECTION("Retry-After is waited out on the I/O thread's timer, not by a sleeping caller") {
    auto client = make_client(server, nullptr);
    FakeReply limited = FakeReply::error(429, "Rate limit reached");
    limited.headers.push_back({"Retry-After", "1"});
    server.push(limited);
    server.push(FakeReply::answer("after the wait"));
    Answers answers;
    const auto began = std::chrono::steady_clock::now();
    client.complete_async(ask("x"), answers.completion());  // returns at once
    REQUIRE(answers.wait_for(1));
    CHECK(std::chrono::steady_clock::now() - began >= std::chrono::seconds(1));
    REQUIRE(answers.results[0].ok());
    CHECK(answers.results[0]->content == "after the wait");
    CHECK(server.requests().size() == 2);
  }
  SECTION("with a ManualEnv the waits go to its clock") {
    rein::ManualEnv env;
    auto client = make_client(server, &env, 2);
    for (int i = 0; i < 3; ++i)
      server.push(FakeReply::error(503, "overloaded"));
    Answers answers;
    client.complete_async(ask("x"), answers.completion());
    REQUIRE(answers.wait_for(1));
    REQUIRE_FALSE(answers.results[0].ok());
    CHECK(answers.results[0].error().code() == rein::ErrorCode::unavailable);
    CHECK(answers.results[0].error().message().find("gave up after 3 attempts") !=
          std::string::npos);
    CHECK(env.slept() > std::chrono::milliseconds(0));
  }
  SECTION("a request the client cannot build fails at once, naming the problem") {
    auto client = make_client(server, nullptr);
    rein::LlmRequest bad = ask("x");
    bad.messages[0].role = "narrator";
    Answers answers;
    client.complete_async(bad, answers.completion());
    REQUIRE(answers.wait_for(1));
    REQUIRE_FALSE(answers.results[0].ok());
    CHECK(answers.results[0].error().code() == rein::ErrorCode::invalid_argument);
    CHECK(answers.results[0].error().message().find("narrator") != std::string::npos);
    CHECK(server.requests().empty());
  }
}

TEST_CASE(
    "OpenAiClient: requests in flight when the last copy goes away end, and complete() "
    "refuses the I/O thread",
    "[llm][http][async]") {
  FakeLlmServer server;
  SECTION("the client goes away with a request in flight") {
    FakeReply slow = FakeReply::answer("never seen");
    slow.delay = std::chrono::milliseconds(30'000);
    server.push(slow);
    Answers answers;
    {
      auto client = make_client(server, nullptr);
      client.complete_async(ask("x"), answers.completion());
      REQUIRE(rein::testing::eventually([&] { return server.requests().size() == 1; }));
    }
    REQUIRE(answers.wait_for(1));
    REQUIRE_FALSE(answers.results[0].ok());
    CHECK(answers.results[0].error().message() == "abandoned");
  }
  SECTION("complete() from a completion is an error, not a deadlock") {
    server.set_handler([](const rein::test::RecordedRequest&) { return FakeReply::answer("a"); });
    auto client = make_client(server, nullptr);
    std::promise<rein::Result<rein::LlmResponse>> nested;
    client.complete_async(ask("x"), rein::LlmCompletion(
                                        [&](rein::Result<rein::LlmResponse>) {
                                          nested.set_value(client.complete(ask("y")));
                                        },
                                        nullptr));
    auto inner = nested.get_future().get();
    REQUIRE_FALSE(inner.ok());
    CHECK(inner.error().code() == rein::ErrorCode::invalid_argument);
    CHECK(inner.error().message().find("I/O thread") != std::string::npos);
  }
}

#endif  // REIN_WITH_CURL

TEST_CASE("OpenAiClient options come from the environment when not given", "[llm][http]") {
  ::setenv("REIN_LLM_BASE_URL", "http://localhost:11434/v1/", 1);
  ::setenv("REIN_LLM_API_KEY", "sk-env", 1);
  ::setenv("REIN_LLM_MODEL", "llama3.2", 1);
  auto client = rein::OpenAiClient::create();
  ::unsetenv("REIN_LLM_BASE_URL");
  ::unsetenv("REIN_LLM_API_KEY");
  ::unsetenv("REIN_LLM_MODEL");
#if REIN_WITH_CURL
  REQUIRE(client.ok());
  CHECK(client->endpoint() == "http://localhost:11434/v1/chat/completions");
  CHECK(client->options().api_key == "sk-env");
  CHECK(client->options().model == "llama3.2");
  CHECK(client->options().verify_tls);  // on unless turned off
  rein::OpenAiOptions bad;
  bad.base_url = "ftp://example.com";
  auto e = rein::OpenAiClient::create(bad);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message().find("base_url") != std::string::npos);
#else
  CHECK(client.error().code() == rein::ErrorCode::unavailable);
#endif
}
