#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "../support/waiting.hpp"
#include "rein/tool_registry.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using rein::ToolResult;
using rein::ToolStatus;

namespace {

rein::ToolSpec spec(std::string name) {
  rein::ToolSpec s;
  s.name = std::move(name);
  s.description = "test tool";
  s.input_schema = json::parse(R"({"type": "object",
      "properties": {"account_id": {"type": "string", "pattern": "^A[0-9]+$"}},
      "required": ["account_id"], "additionalProperties": false})");
  s.timeout = 0ms;
  s.retry.max_attempts = 3;
  s.retry.initial_backoff = 100ms;
  s.retry.jitter = 0.0;
  return s;
}

rein::ToolFn echo() {
  return [](const json& args, rein::ToolContext&) {
    return ToolResult::success({{"id", args["account_id"]}}, {{"source", "test://echo", ""}});
  };
}

}  // namespace

TEST_CASE("register validates specs and rejects duplicates", "[registry]") {
  rein::ToolRegistry reg;
  REQUIRE(reg.register_tool(spec("billing.mrr"), echo()).ok());
  auto dup = reg.register_tool(spec("billing.mrr"), echo());
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code() == rein::ErrorCode::already_exists);
  CHECK(dup.error().message() == "tool 'billing.mrr' is already registered");

  auto collide = reg.register_tool(spec("billing__mrr"), echo());
  REQUIRE_FALSE(collide.ok());
  CHECK(collide.error().message() ==
        "tool 'billing__mrr' has wire name 'billing__mrr', already used by 'billing.mrr'");

  struct Bad {
    std::function<void(rein::ToolSpec&)> mutate;
    std::string message;
  };
  std::vector<Bad> bad = {
      {[](auto& s) { s.name = "1bad"; }, ""},
      {[](auto& s) { s.name = "a..b"; }, ""},
      {[](auto& s) { s.name = "a.b."; }, ""},
      {[](auto& s) { s.name = "has space"; }, ""},
      {[](auto& s) { s.description.clear(); },
       "tool 'x.y': description is required (models read it)"},
      {[](auto& s) {
         s.input_schema = {{"type", "string"}};
       },
       "tool 'x.y': input_schema must be an object schema with \"type\": \"object\""},
      {[](auto& s) {
         s.input_schema = {{"type", "object"}, {"oneOf", json::array()}};
       },
       "tool 'x.y': input_schema: schema /oneOf: oneOf must be a non-empty array of schemas"},
      {[](auto& s) {
         s.output_schema = {{"type", "nope"}};
       },
       "tool 'x.y': output_schema: schema /type: unknown type \"nope\""},
      {[](auto& s) { s.retry.max_attempts = 0; },
       "tool 'x.y': retry.max_attempts must be at least 1"},
      {[](auto& s) { s.retry.jitter = 2; }, "tool 'x.y': retry.jitter must be within [0, 1]"},
      {[](auto& s) { s.retry.multiplier = 0.5; },
       "tool 'x.y': retry.multiplier must be at least 1"},
      {[](auto& s) { s.timeout = -1ms; }, "tool 'x.y': timeout must not be negative"},
      {[](auto& s) { s.idempotency.key_required = true; },
       "tool 'x.y': idempotency options apply only to tools with side_effects"},
      {[](auto& s) {
         s.side_effects = true;
         s.idempotency.key_pointer = "no-slash";
       },
       "tool 'x.y': idempotency.key_pointer 'no-slash' is not a JSON pointer"},
      {[](auto& s) { s.circuit_breaker.half_open_probes = 0; },
       "tool 'x.y': circuit_breaker.half_open_probes must be at least 1"},
  };
  for (const auto& b : bad) {
    auto s = spec("x.y");
    b.mutate(s);
    auto status = reg.register_tool(s, echo());
    INFO(b.message);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code() == rein::ErrorCode::invalid_argument);
    if (!b.message.empty()) CHECK(status.error().message() == b.message);
  }
  CHECK_FALSE(reg.register_tool(spec("x.y"), nullptr).ok());
  CHECK(reg.size() == 1);
  CHECK(reg.find("x.y") == nullptr);
}

TEST_CASE("lookup, names and the OpenAI catalog", "[registry]") {
  rein::ToolRegistry reg;
  REQUIRE(reg.register_tool(spec("tickets.risks"), echo()).ok());
  REQUIRE(reg.register_tool(spec("billing.mrr"), echo()).ok());
  CHECK(reg.names() == std::vector<std::string>{"billing.mrr", "tickets.risks"});
  REQUIRE(reg.find("billing.mrr") != nullptr);
  CHECK(reg.find("billing.mrr")->description == "test tool");
  CHECK(reg.find("nope") == nullptr);
  CHECK(reg.find_by_wire_name("billing__mrr") == reg.find("billing.mrr"));
  CHECK(reg.find_by_wire_name("billing.mrr") == nullptr);

  json catalog = reg.openai_catalog();
  REQUIRE(catalog.size() == 2);
  CHECK(catalog[0]["type"] == "function");
  CHECK(catalog[0]["function"]["name"] == "billing__mrr");
  CHECK(catalog[0]["function"]["description"] == "test tool");
  CHECK(catalog[0]["function"]["parameters"] == spec("x").input_schema);
  CHECK(catalog[1]["function"]["name"] == "tickets__risks");
  CHECK(reg.openai_catalog() == catalog);  // asked again: the same (from the cache)

  // A tool registered later is in the next catalog.
  REQUIRE(reg.register_tool(spec("alerts.page"), echo()).ok());
  json again = reg.openai_catalog();
  REQUIRE(again.size() == 3);
  CHECK(again[0]["function"]["name"] == "alerts__page");
}

TEST_CASE("invoke validates input and reports every violation", "[registry]") {
  rein::ToolRegistry reg;
  std::atomic<int> runs{0};
  REQUIRE(reg.register_tool(spec("billing.mrr"),
                            [&](const json& a, rein::ToolContext& c) {
                              ++runs;
                              return echo()(a, c);
                            })
              .ok());

  auto ok = reg.invoke("billing.mrr", {{"account_id", "A100"}});
  REQUIRE(ok.ok());
  CHECK(ok.data["id"] == "A100");
  CHECK(ok.attempts == 1);
  CHECK(ok.tool_version == "v1");
  CHECK(ok.evidence.at(0).uri == "test://echo");

  auto bad = reg.invoke("billing.mrr", {{"account_id", 7}, {"extra", true}});
  CHECK(bad.status == ToolStatus::invalid_input);
  CHECK(bad.errors == std::vector<std::string>{"/account_id: expected string, got integer",
                                               "/extra: property 'extra' is not allowed"});
  CHECK(bad.attempts == 0);

  auto unknown = reg.invoke("billing.nope", json::object());
  CHECK(unknown.status == ToolStatus::invalid_input);
  CHECK(unknown.errors == std::vector<std::string>{"unknown tool 'billing.nope'"});
  CHECK(runs == 1);

  CHECK(reg.check_arguments("billing.mrr", {{"account_id", "A1"}}).ok());
  CHECK(reg.check_arguments("billing.mrr", {{"account_id", "B1"}}).error().message() ==
        "tool 'billing.mrr' arguments: /account_id: does not match pattern \"^A[0-9]+$\"");
  CHECK(reg.check_arguments("nope", json::object()).error().code() == rein::ErrorCode::not_found);
}

TEST_CASE("a tool that throws becomes an error result", "[registry]") {
  rein::ToolRegistry reg;
  REQUIRE(reg.register_tool(spec("a.throws"),
                            [](const json&, rein::ToolContext&) -> ToolResult {
                              throw std::runtime_error("database exploded");
                            })
              .ok());
  REQUIRE(reg.register_tool(spec("a.throws_int"),
                            [](const json&, rein::ToolContext&) -> ToolResult { throw 42; })
              .ok());
  auto r = reg.invoke("a.throws", {{"account_id", "A1"}});
  CHECK(r.status == ToolStatus::error);
  CHECK(r.errors == std::vector<std::string>{"tool threw: database exploded"});
  CHECK(r.attempts == 1);  // a throw is not known to be transient: no retry
  auto r2 = reg.invoke("a.throws_int", {{"account_id", "A1"}});
  CHECK(r2.errors == std::vector<std::string>{"tool threw a non-standard exception"});
}

TEST_CASE("transient failures retry with backoff, permanent ones never", "[registry]") {
  rein::ManualEnv env;
  rein::ToolRegistry reg({.env = &env});
  std::atomic<int> calls{0};
  REQUIRE(reg.register_tool(spec("flaky.two"),
                            [&](const json&, rein::ToolContext& c) {
                              ++calls;
                              if (c.attempt() < 3)
                                return ToolResult::failure("503", /*transient=*/true);
                              return ToolResult::success({{"ok", true}});
                            })
              .ok());
  auto r = reg.invoke("flaky.two", {{"account_id", "A1"}});
  CHECK(r.ok());
  CHECK(r.attempts == 3);
  CHECK(calls == 3);
  CHECK(env.slept() == 300ms);  // 100 ms then 200 ms, no jitter

  calls = 0;
  REQUIRE(reg.register_tool(spec("broken.always"),
                            [&](const json&, rein::ToolContext&) {
                              ++calls;
                              return ToolResult::failure("404 bad id", /*transient=*/false);
                            })
              .ok());
  auto p = reg.invoke("broken.always", {{"account_id", "A1"}});
  CHECK(p.status == ToolStatus::error);
  CHECK(p.attempts == 1);
  CHECK(calls == 1);

  calls = 0;
  REQUIRE(reg.register_tool(spec("flaky.always"),
                            [&](const json&, rein::ToolContext&) {
                              ++calls;
                              return ToolResult::failure("503", /*transient=*/true);
                            })
              .ok());
  auto exhausted = reg.invoke("flaky.always", {{"account_id", "A1"}});
  CHECK(exhausted.status == ToolStatus::error);
  CHECK(exhausted.transient);
  CHECK(exhausted.attempts == 3);
  CHECK(calls == 3);
}

TEST_CASE("timeouts: an overrunning tool is abandoned and reported", "[registry]") {
  rein::ManualEnv env;
  rein::ToolRegistry reg({.env = &env});
  auto s = spec("slow.tool");
  s.timeout = 1000ms;
  s.retry.max_attempts = 2;
  std::atomic<int> calls{0};
  REQUIRE(reg.register_tool(s,
                            [&](const json&, rein::ToolContext& c) {
                              ++calls;
                              if (c.attempt() == 1) c.sleep_for(5s);  // overruns in manual time
                              return ToolResult::success({{"attempt", c.attempt()}});
                            })
              .ok());
  auto r = reg.invoke("slow.tool", {{"account_id", "A1"}});
  REQUIRE(r.ok());  // the retry succeeded
  CHECK(r.attempts == 2);
  CHECK(r.data["attempt"] == 2);

  s.name = "slow.no_retry";
  s.retry.retry_on_timeout = false;
  REQUIRE(reg.register_tool(s,
                            [](const json&, rein::ToolContext& c) {
                              c.sleep_for(5s);
                              return ToolResult::success({});
                            })
              .ok());
  auto t = reg.invoke("slow.no_retry", {{"account_id", "A1"}});
  CHECK(t.status == ToolStatus::timeout);
  CHECK(t.transient);
  CHECK(t.errors == std::vector<std::string>{"tool 'slow.no_retry' timed out after 1000 ms"});
}

// A tool deaf to cancellation until the test lets it go, like a stuck syscall. Its flags are
// shared, so the callback may outlive the test case on the runner thread that abandoned it.
struct StuckTool {
  struct Flags {
    std::atomic<bool> release{false}, saw_cancel{false}, returned{false};
    std::atomic<int> started{0};
  };
  std::shared_ptr<Flags> flags = std::make_shared<Flags>();

  rein::ToolFn callback() const {
    return [flags = flags](const json&, rein::ToolContext& c) {
      ++flags->started;
      while (!flags->release)
        std::this_thread::sleep_for(1ms);
      flags->saw_cancel = c.cancelled();
      flags->returned = true;
      return ToolResult::success({});
    };
  }
};

TEST_CASE("a hung tool is not waited on forever", "[registry]") {
  // The clock moves only when the test moves it, so the deadline passes after the tool has
  // started, however slow the machine.
  rein::ManualEnv env;
  rein::ToolRegistry reg({.env = &env});
  auto s = spec("hung.tool");
  s.timeout = 50ms;
  s.retry.max_attempts = 1;
  StuckTool stuck;
  REQUIRE(reg.register_tool(s, stuck.callback()).ok());
  ToolResult r;
  std::atomic<bool> invoked{false};
  std::thread caller([&] {
    r = reg.invoke("hung.tool", {{"account_id", "A1"}});
    invoked = true;
  });
  REQUIRE(rein::testing::eventually([&] { return stuck.flags->started == 1; }));
  env.advance(51ms);
  const bool returned_while_stuck = rein::testing::eventually([&] { return invoked.load(); });
  CHECK(returned_while_stuck);
  CHECK_FALSE(stuck.flags->returned);  // invoke() came back while the tool was still stuck
  stuck.flags->release = true;
  caller.join();
  CHECK(r.status == ToolStatus::timeout);
  REQUIRE(rein::testing::eventually([&] { return stuck.flags->returned.load(); }));
  CHECK(stuck.flags->saw_cancel);  // its token was cancelled when it was abandoned
}

TEST_CASE("the caller's cancellation stops a call", "[registry]") {
  rein::ToolRegistry reg;
  auto s = spec("cancel.me");
  s.timeout = std::chrono::minutes(5);
  StuckTool stuck;
  REQUIRE(reg.register_tool(s, stuck.callback()).ok());
  rein::CancellationSource source;
  std::thread canceller([&] {
    (void)rein::testing::eventually([&] { return stuck.flags->started == 1; });
    source.cancel();
  });
  auto r = reg.invoke("cancel.me", {{"account_id", "A1"}},
                      {.idempotency_key = {}, .cancellation = source.token()});
  canceller.join();
  CHECK(r.status == ToolStatus::error);
  CHECK(r.errors == std::vector<std::string>{"cancelled by the caller"});
  CHECK_FALSE(stuck.flags->returned);  // the caller stopped waiting; the tool had not ended
  stuck.flags->release = true;
  CHECK(rein::testing::eventually([&] { return stuck.flags->returned.load(); }));
}

TEST_CASE("the circuit breaker opens on repeated failures and refuses calls", "[registry]") {
  rein::ManualEnv env;
  rein::ToolRegistry reg({.env = &env});
  auto s = spec("down.service");
  s.retry.max_attempts = 1;
  s.circuit_breaker = {.failure_threshold = 2, .open_duration = 30s, .half_open_probes = 1};
  std::atomic<bool> healthy{false};
  std::atomic<int> calls{0};
  REQUIRE(reg.register_tool(s,
                            [&](const json&, rein::ToolContext&) {
                              ++calls;
                              return healthy ? ToolResult::success({})
                                             : ToolResult::failure("503", true);
                            })
              .ok());
  const json args = {{"account_id", "A1"}};
  reg.invoke("down.service", args);
  reg.invoke("down.service", args);
  CHECK(reg.circuit_state("down.service") == rein::CircuitState::open);
  auto refused = reg.invoke("down.service", args);
  CHECK(refused.status == ToolStatus::denied);
  CHECK(refused.transient);
  CHECK(refused.attempts == 0);
  CHECK(refused.errors ==
        std::vector<std::string>{"circuit open for tool 'down.service': retry after 30000 ms"});
  CHECK(calls == 2);
  env.advance(30s);
  healthy = true;
  CHECK(reg.invoke("down.service", args).ok());
  CHECK(reg.circuit_state("down.service") == rein::CircuitState::closed);

  // Permanent errors from a healthy service do not open the circuit.
  auto p = spec("notfound.service");
  p.circuit_breaker.failure_threshold = 1;
  REQUIRE(reg.register_tool(p, [](const json&,
                                  rein::ToolContext&) { return ToolResult::failure("404", false); })
              .ok());
  reg.invoke("notfound.service", args);
  CHECK(reg.circuit_state("notfound.service") == rein::CircuitState::closed);
}

TEST_CASE("output is checked against the output schema", "[registry]") {
  rein::ToolRegistry reg;
  auto s = spec("typed.out");
  s.output_schema = json::parse(R"({"type": "object", "required": ["current_mrr"],
      "properties": {"current_mrr": {"type": "integer", "minimum": 0}}})");
  REQUIRE(reg.register_tool(
                 s,
                 [](const json& a, rein::ToolContext&) {
                   return ToolResult::success({{"current_mrr", a["account_id"] == "A1" ? 5 : -5}});
                 })
              .ok());
  CHECK(reg.invoke("typed.out", {{"account_id", "A1"}}).ok());
  auto bad = reg.invoke("typed.out", {{"account_id", "A2"}});
  CHECK(bad.status == ToolStatus::error);
  CHECK(bad.errors ==
        std::vector<std::string>{"tool 'typed.out' returned output that violates its schema: "
                                 "/current_mrr: must be >= 0"});
}

TEST_CASE("side-effecting tools run once per idempotency key", "[registry]") {
  auto store = std::make_shared<rein::InMemoryIdempotencyStore>();
  rein::ToolRegistry reg({.env = nullptr, .idempotency_store = store});
  auto s = spec("slides.make");
  s.input_schema = json::parse(R"({"type": "object", "properties": {
      "deck_spec": {"type": "object", "properties": {"idem": {"type": "string"}}}},
      "required": ["deck_spec"]})");
  s.side_effects = true;
  s.idempotency.key_pointer = "/deck_spec/idem";
  s.idempotency.key_required = true;
  std::atomic<int> made{0};
  REQUIRE(reg.register_tool(s,
                            [&](const json&, rein::ToolContext& c) {
                              const int n = ++made;
                              return ToolResult::success(
                                  {{"slide_id", "S00" + std::to_string(n)},
                                   {"key", std::string(c.idempotency_key())}});
                            })
              .ok());

  json args = {{"deck_spec", {{"account_id", "A100"}, {"idem", "A100-qbr"}}}};
  auto first = reg.invoke("slides.make", args);
  auto second = reg.invoke("slides.make", args);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(made == 1);
  CHECK(first.data == second.data);
  CHECK(first.data["key"] == "A100-qbr");
  CHECK_FALSE(first.replayed);
  CHECK(second.replayed);
  CHECK(second.attempts == 0);
  CHECK(second.idempotency_key == "A100-qbr");
  CHECK(store->size() == 1);

  json other = {{"deck_spec", {{"account_id", "A200"}, {"idem", "A200-qbr"}}}};
  CHECK(reg.invoke("slides.make", other).data["slide_id"] == "S002");

  auto keyless = reg.invoke("slides.make", {{"deck_spec", json::object()}});
  CHECK(keyless.status == ToolStatus::denied);
  CHECK(keyless.errors ==
        std::vector<std::string>{
            "tool 'slides.make' requires an idempotency key (argument /deck_spec/idem)"});
  CHECK(made == 2);
}

TEST_CASE("failed side effects are not recorded, and keyless ones are never retried",
          "[registry]") {
  rein::ManualEnv env;
  rein::ToolRegistry reg({.env = &env});
  auto s = spec("email.send");
  s.side_effects = true;
  std::atomic<int> calls{0};
  REQUIRE(reg.register_tool(s,
                            [&](const json&, rein::ToolContext&) {
                              return ++calls == 1 ? ToolResult::failure("smtp 451", true)
                                                  : ToolResult::success({{"sent", true}});
                            })
              .ok());
  const json args = {{"account_id", "A1"}};
  auto keyless = reg.invoke("email.send", args);
  CHECK(keyless.status == ToolStatus::error);
  CHECK(keyless.attempts == 1);  // no key: a retry could send twice

  calls = 0;
  auto keyed = reg.invoke("email.send", args, {.idempotency_key = "mail-1", .cancellation = {}});
  CHECK(keyed.ok());
  CHECK(keyed.attempts == 2);  // with a key, the transient failure was retried
  auto again = reg.invoke("email.send", args, {.idempotency_key = "mail-1", .cancellation = {}});
  CHECK(again.replayed);
  CHECK(calls == 2);
}

namespace {
class ThrowingStore final : public rein::IdempotencyStore {
 public:
  rein::Result<ToolResult> find(std::string_view, std::string_view) override {
    throw std::runtime_error("disk on fire");
  }
  rein::Status record(std::string_view, std::string_view, const ToolResult&) override { return {}; }
};
}  // namespace

TEST_CASE("an idempotency store that throws becomes an error result, tool not run", "[registry]") {
  rein::ToolRegistry reg({.env = nullptr, .idempotency_store = std::make_shared<ThrowingStore>()});
  auto s = spec("pay.send");
  s.side_effects = true;
  std::atomic<int> calls{0};
  REQUIRE(reg.register_tool(s,
                            [&](const json&, rein::ToolContext&) {
                              ++calls;
                              return ToolResult::success({});
                            })
              .ok());
  auto r =
      reg.invoke("pay.send", {{"account_id", "A1"}}, {.idempotency_key = "k1", .cancellation = {}});
  CHECK(r.status == ToolStatus::error);
  CHECK(r.transient);
  CHECK(r.errors == std::vector<std::string>{
                        "idempotency ledger unavailable: idempotency store threw: disk on fire"});
  CHECK(calls == 0);
}

TEST_CASE("invalid UTF-8 in arguments yields a clean invalid_input, not an exception",
          "[registry]") {
  rein::ToolRegistry reg;
  auto s = spec("enum.tool");
  s.input_schema =
      json::parse(R"({"type": "object", "properties": {"mode": {"enum": ["a", "b"]}}})");
  REQUIRE(reg.register_tool(s, echo()).ok());
  ToolResult r;
  REQUIRE_NOTHROW(r = reg.invoke("enum.tool", {{"mode", "\xc3\x28"}}));
  CHECK(r.status == ToolStatus::invalid_input);
}

TEST_CASE("with every runner thread stuck, calls queue and time out, abandoned ones never start",
          "[registry]") {
  rein::ManualEnv env;
  rein::ToolRegistry reg({.env = &env, .idempotency_store = nullptr, .max_runner_threads = 1});
  auto s = spec("stuck.tool");
  s.timeout = 30ms;
  s.retry.max_attempts = 1;
  s.circuit_breaker.failure_threshold = 0;
  StuckTool stuck;
  REQUIRE(reg.register_tool(s, stuck.callback()).ok());
  const json args = {{"account_id", "A1"}};
  // Moves the clock past each call's deadline until `call` returns: the deadline is taken when
  // the call starts, which the test cannot see, so it keeps advancing.
  auto time_out = [&](ToolResult& out) {
    std::atomic<bool> done{false};
    std::thread caller([&] {
      out = reg.invoke("stuck.tool", args);
      done = true;
    });
    const bool returned = rein::testing::eventually([&] {
      env.advance(31ms);
      return done.load();
    });
    caller.join();  // returns at the latest when a later advance passes the deadline
    return returned;
  };
  ToolResult first, second;
  std::thread holder([&] {
    first = reg.invoke("stuck.tool", args);  // holds the only thread
  });
  REQUIRE(rein::testing::eventually([&] { return stuck.flags->started == 1; }));
  env.advance(31ms);
  holder.join();
  CHECK(first.status == ToolStatus::timeout);
  REQUIRE(time_out(second));  // queued behind the stuck call, never ran
  CHECK(second.status == ToolStatus::timeout);
  CHECK(stuck.flags->started == 1);
  stuck.flags->release = true;
  // The thread is free again. The queue is first in, first out, so by the time this call ran
  // the abandoned one had been taken off the queue, and skipped.
  CHECK(reg.invoke("stuck.tool", args).ok());
  CHECK(stuck.flags->started == 2);
}

TEST_CASE("schema options: vendor keywords refused by default, accepted when the host says so",
          "[registry]") {
  auto s = spec("vendor.tool");
  s.input_schema = {{"type", "object"},
                    {"x-vendor", "anything"},
                    {"properties", {{"when", {{"type", "string"}, {"format", "date"}}}}}};
  const rein::ToolFn accept = [](const json&, rein::ToolContext&) {
    return ToolResult::success({});
  };
  rein::ToolRegistry strict;
  auto refused = strict.register_tool(s, accept);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message().find("unsupported keyword 'x-vendor'") != std::string::npos);

  rein::ToolRegistry lenient(
      {.schema_options = {.format = rein::FormatMode::assertion,
                          .unknown_keywords = rein::UnknownKeywords::ignore}});
  REQUIRE(lenient.register_tool(s, accept).ok());
  CHECK(lenient.invoke("vendor.tool", {{"when", "2026-11-30"}}).ok());
  auto bad_date = lenient.invoke("vendor.tool", {{"when", "30/11/2026"}});
  CHECK(bad_date.status == ToolStatus::invalid_input);
}
