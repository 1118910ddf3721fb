#include <catch2/catch.hpp>

#include "rein/working_memory.hpp"

using rein::Message;
using rein::ToolCall;

namespace {

Message msg(std::string role, std::string content) {
  return {std::move(role), std::move(content), {}, "", ""};
}
Message calls(std::vector<std::string> ids) {
  Message m{"assistant", "", {}, "", ""};
  for (auto& id : ids)
    m.tool_calls.push_back({id, "crm__search", nlohmann::json::object(), "{}"});
  return m;
}
Message result(std::string id, std::string content) {
  return {"tool", std::move(content), {}, std::move(id), ""};
}

// Every tool message follows an assistant message calling it, and every call has its result.
bool pairs_intact(const std::vector<Message>& window) {
  for (std::size_t i = 0; i < window.size(); ++i) {
    if (window[i].role == "tool") {
      bool found = false;
      for (std::size_t j = i; j-- > 0 && !found;) {
        for (const auto& c : window[j].tool_calls)
          found = found || c.id == window[i].tool_call_id;
        if (window[j].role != "tool") break;
      }
      if (!found) return false;
    }
    for (const auto& c : window[i].tool_calls) {
      bool answered = false;
      for (std::size_t j = i + 1; j < window.size() && window[j].role == "tool"; ++j)
        answered = answered || window[j].tool_call_id == c.id;
      if (!answered) return false;
    }
  }
  return true;
}

std::vector<Message> conversation(int turns) {
  std::vector<Message> m = {msg("system", "rules"), msg("user", "the task")};
  for (int t = 0; t < turns; ++t) {
    const std::string a = "a" + std::to_string(t), b = "b" + std::to_string(t);
    m.push_back(calls({a, b}));
    m.push_back(result(a, std::string(200, 'x')));
    m.push_back(result(b, std::string(200, 'y')));
    m.push_back(msg("assistant", "thinking " + std::to_string(t)));
  }
  return m;
}

}  // namespace

TEST_CASE("estimate_tokens counts about four bytes a token plus framing", "[memory][working]") {
  CHECK(rein::estimate_tokens(msg("user", "")) == 4);
  CHECK(rein::estimate_tokens(msg("user", "abcd")) == 5);
  CHECK(rein::estimate_tokens(msg("user", "abcde")) == 6);
  CHECK(rein::estimate_tokens(calls({"c1"})) == 4 + 4);  // "c1" + "crm__search" + "{}" = 15 bytes
}

TEST_CASE("trim_to_budget keeps pinned messages and never splits a call from its results",
          "[memory][working]") {
  const auto all = conversation(10);
  const std::int64_t full = rein::estimate_tokens(all);
  rein::WorkingMemoryOptions o;
  o.budget_tokens = full;  // fits: unchanged
  auto same = rein::trim_to_budget(all, o);
  CHECK(same.messages == all);
  CHECK(same.dropped == 0);

  for (std::int64_t budget : {full - 1, full / 2, std::int64_t{400}, std::int64_t{150},
                              std::int64_t{10}, std::int64_t{0}}) {
    INFO("budget " << budget);
    o.budget_tokens = budget;
    auto w = rein::trim_to_budget(all, o);
    CHECK(pairs_intact(w.messages));
    REQUIRE(w.messages.size() >= 3);
    CHECK(w.messages[0].content == "rules");
    CHECK(w.messages[1].content == "the task");
    CHECK(w.messages.back().content == "thinking 9");  // the newest unit always stays
    CHECK(w.tokens == rein::estimate_tokens(w.messages));
    CHECK(w.over_budget == (w.tokens > budget));
    CHECK(w.dropped + w.messages.size() == all.size());
    if (!w.over_budget) {
      CHECK(w.tokens <= budget);
    }
  }
  o.budget_tokens = 400;
  auto w = rein::trim_to_budget(all, o);
  CHECK_FALSE(w.over_budget);
  // Oldest first: what remains is a suffix of the turns.
  CHECK(w.messages[2].role == "assistant");
}

TEST_CASE("trim_to_budget drops tool messages whose call is gone, and can leave the task unpinned",
          "[memory][working]") {
  std::vector<Message> m = {msg("user", "task"), result("ghost", "orphan"), msg("assistant", "ok")};
  rein::WorkingMemoryOptions o;
  o.budget_tokens = 1000;
  auto w = rein::trim_to_budget(m, o);
  REQUIRE(w.messages.size() == 2);
  CHECK(w.messages[1].content == "ok");
  CHECK(w.dropped == 1);

  o.pin_first_user = false;
  o.budget_tokens = 6;
  auto unpinned =
      rein::trim_to_budget({msg("user", "a long task text here"), msg("assistant", "ok")}, o);
  REQUIRE(unpinned.messages.size() == 1);
  CHECK(unpinned.messages[0].content == "ok");
}

TEST_CASE("trim_to_budget summarises what it trims through the host's callback",
          "[memory][working]") {
  const auto all = conversation(6);
  std::vector<Message> seen;
  rein::WorkingMemoryOptions o;
  o.budget_tokens = 500;
  o.summarise = [&](const std::vector<Message>& trimmed) -> rein::Result<std::string> {
    seen = trimmed;
    return std::string("searched CRM ") + std::to_string(trimmed.size()) + " times";
  };
  auto w = rein::trim_to_budget(all, o);
  CHECK(w.summarised);
  REQUIRE(w.messages.size() > 3);
  CHECK(w.messages[2].role == "system");
  CHECK(w.messages[2].content.rfind(o.summary_prefix, 0) == 0);
  CHECK(w.messages[2].content.find("searched CRM") != std::string::npos);
  CHECK(seen.size() == w.dropped);
  CHECK(pairs_intact(seen));  // trimmed whole units
  CHECK(w.tokens <= 500);
  CHECK(pairs_intact(w.messages));

  SECTION("a failing summariser leaves a plain trim and says why") {
    o.summarise = [](const std::vector<Message>&) -> rein::Result<std::string> {
      return rein::Error(rein::ErrorCode::unavailable, "model down");
    };
    auto plain = rein::trim_to_budget(all, o);
    CHECK_FALSE(plain.summarised);
    CHECK(plain.note == "no summary: model down");
    CHECK(plain.tokens <= 500);
  }
  SECTION("a summary too long for the budget is left out") {
    o.budget_tokens = 200;
    o.summarise = [](const std::vector<Message>&) -> rein::Result<std::string> {
      return std::string(4000, 's');
    };
    auto plain = rein::trim_to_budget(all, o);
    CHECK_FALSE(plain.summarised);
    CHECK(plain.note == "no summary: it does not fit the budget");
  }
  SECTION("nothing trimmed: the summariser is not called") {
    bool called = false;
    o.budget_tokens = 100000;
    o.summarise = [&](const std::vector<Message>&) -> rein::Result<std::string> {
      called = true;
      return std::string("x");
    };
    CHECK_FALSE(rein::trim_to_budget(all, o).summarised);
    CHECK_FALSE(called);
  }
}
