#include <sqlite3.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "rein/llm_gateway.hpp"

using nlohmann::json;
using rein::ErrorCode;
using rein::LlmGateway;
using rein::LlmRequest;
using rein::LlmResponse;

namespace {

// An endpoint that answers "<name>:<model>" and counts its calls; fails while `failing` is set.
struct FakeModel {
  std::string name;
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<bool>> failing = std::make_shared<std::atomic<bool>>(false);
  ErrorCode failure = ErrorCode::unavailable;

  rein::LlmCallback callback() const {
    auto c = calls;
    auto f = failing;
    auto n = name;
    auto code = failure;
    return [c, f, n, code](const LlmRequest& r) -> rein::Result<LlmResponse> {
      ++*c;
      if (*f) return rein::Error(code, n + " is down");
      LlmResponse out;
      out.content = n + ":" + r.model;
      out.prompt_tokens = 1000;
      out.completion_tokens = 500;
      return out;
    };
  }
};

LlmRequest request(const std::string& text, std::optional<double> temperature = 0.0) {
  LlmRequest r;
  r.messages.push_back({"user", text, {}, "", ""});
  r.temperature = temperature;
  r.max_tokens = 100;
  return r;
}

rein::LlmBudget budgets(std::optional<std::int64_t> tokens, std::optional<double> cost) {
  return {.max_tokens = tokens, .max_cost = cost};
}

}  // namespace

TEST_CASE("LlmGateway routes by complexity and tags", "[llm][gateway]") {
  FakeModel small{"small"}, large{"large"};
  rein::GatewayOptions o;
  o.endpoints = {{"small", "mini-1", small.callback(), std::nullopt},
                 {"large", "big-1", large.callback(), std::nullopt}};
  o.routes = {{"high", {}, {"large", "small"}}, {"", {"critic"}, {"small"}}};
  auto gateway = LlmGateway::create(o);
  REQUIRE(gateway.ok());

  LlmRequest hard = request("prove it");
  hard.complexity = "high";
  CHECK(gateway->chain_for(hard) == std::vector<std::string>{"large", "small"});
  CHECK(gateway->complete(hard)->content == "large:big-1");

  LlmRequest review = request("check it");
  review.tags = {"critic", "extra"};
  CHECK(gateway->chain_for(review) == std::vector<std::string>{"small"});
  CHECK(gateway->complete(review)->content == "small:mini-1");

  CHECK(gateway->chain_for(request("anything")) == std::vector<std::string>{"small", "large"});
}

TEST_CASE("LlmGateway falls back along the chain when a model fails", "[llm][gateway]") {
  FakeModel primary{"primary"}, backup{"backup"};
  rein::GatewayOptions o;
  o.endpoints = {{"primary", "p", primary.callback(), std::nullopt},
                 {"backup", "b", backup.callback(), std::nullopt}};
  auto gateway = LlmGateway::create(o);
  REQUIRE(gateway.ok());

  *primary.failing = true;
  auto r = gateway->complete(request("hi"));
  REQUIRE(r.ok());
  CHECK(r->content == "backup:b");
  CHECK(gateway->total().fallbacks == 1);
  CHECK(gateway->total().failures == 1);
  CHECK(gateway->total().calls == 1);

  *backup.failing = true;
  auto none = gateway->complete(request("hi"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code() == ErrorCode::unavailable);
  CHECK(none.error().message() ==
        "every model failed (primary: primary is down; backup: backup is down)");

  SECTION("cancelled stops the chain") {
    FakeModel cancelled{"c"};
    cancelled.failure = ErrorCode::cancelled;
    *cancelled.failing = true;
    FakeModel never{"never"};
    rein::GatewayOptions c;
    c.endpoints = {{"c", "", cancelled.callback(), std::nullopt},
                   {"never", "", never.callback(), std::nullopt}};
    auto g = LlmGateway::create(c);
    CHECK(g->complete(request("x")).error().code() == ErrorCode::cancelled);
    CHECK(*never.calls == 0);
  }
  SECTION("a stream that failed after reaching the caller is not replayed by a fallback") {
    rein::GatewayOptions st;
    st.endpoints = {{"half", "",
                     [](const LlmRequest& req) -> rein::Result<LlmResponse> {
                       if (req.on_delta)
                         req.on_delta(rein::LlmDelta{"half an ans", -1, {}, {}, {}});
                       return rein::Error(ErrorCode::unavailable, "stream cut");
                     },
                     std::nullopt},
                    {"backup", "b", backup.callback(), std::nullopt}};
    *backup.failing = false;
    auto g = LlmGateway::create(st);
    const int before = *backup.calls;
    LlmRequest streaming = request("x");
    std::string seen;
    streaming.on_delta = [&](const rein::LlmDelta& d) { seen += d.content; };
    auto cut = g->complete(streaming);
    REQUIRE_FALSE(cut.ok());
    CHECK(seen == "half an ans");
    CHECK(*backup.calls == before);
    CHECK(g->complete(request("x")).ok());  // not streaming: the fallback answers
  }
  SECTION("a throwing endpoint is a failure like any other") {
    rein::GatewayOptions t;
    t.endpoints = {
        {"thrower", "",
         [](const LlmRequest&) -> rein::Result<LlmResponse> { throw std::runtime_error("boom"); },
         std::nullopt},
        {"backup", "b", backup.callback(), std::nullopt}};
    *backup.failing = false;
    auto g = LlmGateway::create(t);
    auto answer = g->complete(request("x"));
    REQUIRE(answer.ok());
    CHECK(answer->content == "backup:b");
  }
}

TEST_CASE("LlmGateway caches temperature-0 answers for their TTL", "[llm][gateway]") {
  FakeModel model{"m"};
  rein::ManualEnv env;
  rein::GatewayOptions o;
  o.endpoints = {{"m", "m-1", model.callback(), rein::ModelPrice{1.0, 2.0}}};
  o.cache = std::make_shared<rein::MemoryLlmCache>();
  o.cache_ttl = std::chrono::seconds(60);
  o.env = &env;
  auto gateway = LlmGateway::create(o);
  REQUIRE(gateway.ok());

  auto first = gateway->complete(request("what is MRR?"));
  REQUIRE(first.ok());
  CHECK_FALSE(first->cached);
  LlmRequest again = request("what is MRR?");
  again.tags = {"other"};  // tags are not part of the key
  again.run_id = "r2";
  std::string streamed;
  again.on_delta = [&](const rein::LlmDelta& d) { streamed += d.content; };
  auto second = gateway->complete(again);
  REQUIRE(second.ok());
  CHECK(second->cached);
  CHECK(second->content == first->content);
  CHECK(second->total_tokens() == 0);
  CHECK(second->cost == 0.0);
  CHECK(streamed == first->content);  // a streaming caller still sees the answer
  CHECK(*model.calls == 1);
  CHECK(gateway->total().cache_hits == 1);

  CHECK_FALSE(gateway->complete(request("what is ARR?"))->cached);       // different messages
  CHECK_FALSE(gateway->complete(request("what is MRR?", 0.7))->cached);  // sampling: off by default
  CHECK_FALSE(gateway->complete(request("what is MRR?", std::nullopt))->cached);  // server default
  CHECK(*model.calls == 4);

  env.advance(std::chrono::seconds(61));
  CHECK_FALSE(gateway->complete(request("what is MRR?"))->cached);  // expired
  CHECK(*model.calls == 5);

  SECTION("non-zero temperatures when asked") {
    rein::GatewayOptions hot = o;
    hot.cache = std::make_shared<rein::MemoryLlmCache>();
    hot.cache_nonzero_temperature = true;
    auto g = LlmGateway::create(hot);
    REQUIRE(g->complete(request("x", 0.9)).ok());
    CHECK(g->complete(request("x", 0.9))->cached);
  }
  SECTION("the key covers what the model sees") {
    LlmRequest a = request("x");
    LlmRequest b = request("x");
    CHECK(LlmGateway::cache_key(a, "m") == LlmGateway::cache_key(b, "m"));
    CHECK(LlmGateway::cache_key(a, "m") != LlmGateway::cache_key(a, "n"));
    b.seed = 1;
    CHECK(LlmGateway::cache_key(a, "m") != LlmGateway::cache_key(b, "m"));
    b = request("x");
    b.tools = json::array({{{"type", "function"}}});
    CHECK(LlmGateway::cache_key(a, "m") != LlmGateway::cache_key(b, "m"));
  }
}

TEST_CASE("MemoryLlmCache evicts the oldest entry when full", "[llm][gateway]") {
  rein::MemoryLlmCache cache(2);
  LlmResponse r;
  r.content = "x";
  cache.put("a", r, 100);
  cache.put("b", r, 100);
  cache.put("c", r, 100);
  CHECK(cache.size() == 2);
  CHECK_FALSE(cache.get("a", 0).has_value());
  CHECK(cache.get("c", 0)->content == "x");
  CHECK_FALSE(cache.get("c", 100).has_value());  // expired at its time
}

TEST_CASE("SqliteLlmCache persists answers, expires them and survives bad rows", "[llm][gateway]") {
  const auto path = std::filesystem::temp_directory_path() / "rein_test_llm_cache.db";
  std::filesystem::remove(path);
  LlmResponse r;
  r.content = "cached answer";
  r.prompt_tokens = 3;
  {
    auto cache = rein::SqliteLlmCache::open(path);
    REQUIRE(cache.ok());
    (*cache)->put("k1", r, 1000);
    (*cache)->put("k2", r, 5000);
  }
  auto cache = rein::SqliteLlmCache::open(path);
  REQUIRE(cache.ok());
  CHECK((*cache)->size() == 2);
  CHECK((*cache)->get("k1", 10)->content == "cached answer");
  CHECK_FALSE((*cache)->get("k1", 1000).has_value());  // expired, and removed
  CHECK((*cache)->size() == 1);
  CHECK((*cache)->evict_expired(6000) == 1);

  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "INSERT INTO llm_cache VALUES ('bad', '{not json', 99999), ('worse', "
                       "'{\"content\": 5}', 99999)",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  CHECK_FALSE((*cache)->get("bad", 0).has_value());
  CHECK_FALSE((*cache)->get("worse", 0).has_value());
  CHECK((*cache)->size() == 0);  // unreadable rows were dropped

  const auto junk = std::filesystem::temp_directory_path() / "rein_test_llm_cache_junk.db";
  {
    std::ofstream(junk)
        << "this is not a database, just text that is long enough to have a header page........";
  }
  auto broken = rein::SqliteLlmCache::open(junk);
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().code() == ErrorCode::data_loss);
  std::filesystem::remove(junk);
  std::filesystem::remove(path);
}

TEST_CASE("LlmGateway accounts tokens and cost per run, principal and model", "[llm][gateway]") {
  FakeModel model{"m"};
  rein::GatewayOptions o;
  o.endpoints = {{"m", "gpt-x", model.callback(), std::nullopt}};
  o.prices["gpt-x"] = {2.0, 8.0};  // per million tokens
  auto gateway = LlmGateway::create(o);
  for (const auto& [run, who] : {std::pair{"r1", "ana"}, std::pair{"r1", "ana"},
                                 std::pair{"r2", "ana"}, std::pair{"r3", "bo"}}) {
    LlmRequest r = request("x", 0.5);
    r.run_id = run;
    r.principal = who;
    auto answer = gateway->complete(r);
    REQUIRE(answer.ok());
    CHECK(answer->cost == Approx(0.006));  // 1000 × 2/1e6 + 500 × 8/1e6
  }
  CHECK(gateway->usage_of_run("r1").calls == 2);
  CHECK(gateway->usage_of_run("r1").tokens() == 3000);
  CHECK(gateway->usage_of_run("r1").cost == Approx(0.012));
  CHECK(gateway->usage_of_principal("ana").calls == 3);
  CHECK(gateway->usage_of_principal("bo").cost == Approx(0.006));
  CHECK(gateway->usage_of_model("gpt-x").calls == 4);
  CHECK(gateway->total().to_json()["prompt_tokens"] == 4000);
  gateway->forget_run("r1");
  CHECK(gateway->usage_of_run("r1").calls == 0);
}

TEST_CASE("LlmGateway refuses a call that would exceed a budget before sending it",
          "[llm][gateway]") {
  FakeModel model{"m"};
  rein::GatewayOptions o;
  o.endpoints = {{"m", "gpt-x", model.callback(), rein::ModelPrice{2.0, 8.0}}};
  o.run_budget = budgets(2000, std::nullopt);
  o.principal_budget = budgets(std::nullopt, 0.01);
  auto gateway = LlmGateway::create(o);

  LlmRequest r = request("x");
  r.run_id = "r1";
  r.principal = "ana";
  REQUIRE(gateway->complete(r).ok());   // 1500 tokens used of 2000
  auto refused = gateway->complete(r);  // would need ~100 + prompt more: 1500 + ~110 fits
  REQUIRE(refused.ok());                // 3000 used now: over, but the check was before
  auto stopped = gateway->complete(r);
  REQUIRE_FALSE(stopped.ok());
  CHECK(stopped.error().code() == ErrorCode::budget_exhausted);
  CHECK(stopped.error().message().find("run 'r1': budget.max_tokens") != std::string::npos);
  CHECK(*model.calls == 2);  // the refused call was never sent
  CHECK(gateway->usage_of_run("r1").refused == 1);

  LlmRequest other = request("y");
  other.run_id = "r2";
  other.principal = "ana";  // 0.012 spent by ana of 0.01
  auto broke = gateway->complete(other);
  REQUIRE_FALSE(broke.ok());
  CHECK(broke.error().message().find("principal 'ana': budget.max_cost") != std::string::npos);
  CHECK(*model.calls == 2);

  SECTION("concurrent calls cannot together overshoot") {
    FakeModel slow{"slow"};
    rein::GatewayOptions c;
    c.endpoints = {{"slow", "s", slow.callback(), std::nullopt}};
    c.run_budget = budgets(1000, std::nullopt);  // room for about eight 110-token estimates
    auto g = LlmGateway::create(c);
    std::atomic<int> refusals{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 5; ++i) {
          LlmRequest q = request("q");
          q.run_id = "shared";
          if (!g->complete(q).ok()) ++refusals;
        }
      });
    }
    for (auto& th : threads)
      th.join();
    // Each answer reports 1500 tokens, so after the first settles nothing more fits.
    CHECK(g->usage_of_run("shared").calls + refusals == 20);
    CHECK(refusals >= 12);
  }
}

TEST_CASE("LlmGateway::create names what is wrong with its options", "[llm][gateway]") {
  FakeModel m{"m"};
  auto error_of = [](rein::GatewayOptions o) {
    return LlmGateway::create(std::move(o)).error().message();
  };
  CHECK(error_of({}).find("endpoints: at least one") != std::string::npos);
  rein::GatewayOptions dup;
  dup.endpoints = {{"a", "", m.callback(), std::nullopt}, {"a", "", m.callback(), std::nullopt}};
  CHECK(error_of(dup).find("endpoints[1].name 'a' is used twice") != std::string::npos);
  rein::GatewayOptions unknown;
  unknown.endpoints = {{"a", "", m.callback(), std::nullopt}};
  unknown.routes = {{"high", {}, {"b"}}};
  CHECK(error_of(unknown).find("routes[0].chain names unknown endpoint 'b'") != std::string::npos);
  rein::GatewayOptions no_call;
  no_call.endpoints = {{"a", "", nullptr, std::nullopt}};
  CHECK(error_of(no_call).find("endpoints[0].call is empty") != std::string::npos);
  rein::GatewayOptions negative;
  negative.endpoints = {{"a", "", m.callback(), std::nullopt}};
  negative.prices["x"] = {-1.0, 0.0};
  CHECK(error_of(negative).find("prices['x']") != std::string::npos);
}
