// The QBR example: faithful to the notebook's data, and never wrong under failures.
#include <catch2/catch.hpp>
#include <numeric>
#include <set>

#include "agent.hpp"
#include "python_random.hpp"
#include "tools.hpp"

using nlohmann::json;

// Runs without injected failures must not meet a timeout however slow the machine: their
// tools' deadline is a hang guard. (The failure tests keep short deadlines on purpose: an
// injected timeout waits for it.)
constexpr std::chrono::milliseconds kNoTimeoutHere{60'000};

TEST_CASE("qbr: the notebook's failure mix splits a rate into quarters", "[qbr]") {
  auto r = qbr::notebook_failure_rates(0.4);
  CHECK(r.timeout == Approx(0.1));
  CHECK(r.permanent_error == Approx(0.1));
  CHECK(r.stale == Approx(0.1));
  CHECK(r.transient_error == 0.0);
  CHECK(qbr::notebook_failure_rates(0.0).timeout == 0.0);
}

TEST_CASE("qbr: CPython's random is reproduced bit for bit", "[qbr]") {
  // Values printed by CPython 3.11: random.seed(7); [random.random() for _ in range(3)]
  qbr::PythonRandom seven(7);
  CHECK(seven.random() == 0.32383276483316237);
  CHECK(seven.random() == 0.15084917392450192);
  CHECK(seven.random() == 0.6509344730398537);
  // random.seed(2**40 + 5): randint(-500, 500) == 16, then getrandbits(32) == 2220160828
  qbr::PythonRandom big((std::uint64_t{1} << 40) + 5);
  CHECK(big.randint(-500, 500) == 16);
  CHECK(big.getrandbits(32) == 2220160828u);
}

TEST_CASE("qbr: the notebook's series equal CPython's", "[qbr]") {
  const auto& d = qbr::notebook_data();
  struct Pin {
    const char* id;
    bool mrr;
    std::vector<std::int64_t> first3, last3;
    std::int64_t sum;
  };
  // From CPython: gen_series(seed, base) as in the notebook.
  const std::vector<Pin> pins = {
      {"A100", true, {12191, 12120, 12232}, {11284, 11202, 11185}, 1070299},
      {"A200", true, {8260, 8305, 8305}, {8268, 8344, 8286}, 755140},
      {"A300", true, {14473, 14542, 14471}, {15206, 15121, 15225}, 1311342},
      {"A400", true, {5707, 5690, 5798}, {5122, 5080, 5010}, 478397},
      {"A100", false, {364, 387, 486}, {164, 118, 96}, 50933},
      {"A200", false, {743, 658, 600}, {1120, 1078, 1102}, 69999},
      {"A300", false, {506, 547, 486}, {1533, 1444, 1340}, 112879},
      {"A400", false, {51, 69, 128}, {683, 679, 762}, 19319},
  };
  for (const auto& p : pins) {
    const auto& s = (p.mrr ? d.mrr_series : d.daily_active).at(p.id);
    INFO(p.id << (p.mrr ? " mrr" : " dau"));
    REQUIRE(s.size() == 90);
    CHECK(std::vector<std::int64_t>(s.begin(), s.begin() + 3) == p.first3);
    CHECK(std::vector<std::int64_t>(s.end() - 3, s.end()) == p.last3);
    CHECK(std::accumulate(s.begin(), s.end(), std::int64_t{0}) == p.sum);
  }
  CHECK(d.accounts.size() == 4);
  CHECK(d.tickets.size() == 5);
}

TEST_CASE("qbr: with no failures every account of the region gets its correct slide", "[qbr]") {
  for (const std::string region : {"west", "east"}) {
    auto o = qbr::run_qbr({.region = region, .failure_rate = 0.0, .tool_timeout = kNoTimeoutHere});
    REQUIRE(o.ok());
    CHECK(o->state.status == rein::RunStatus::completed);
    CHECK(o->needs_review.empty());
    const json truth = qbr::ground_truth(qbr::notebook_data(), region);
    REQUIRE(o->slides.size() == truth.size());
    for (auto slide : o->slides) {
      CHECK(slide["slide_id"].get<std::string>().rfind("S", 0) == 0);
      slide.erase("slide_id");
      CHECK(std::find(truth.begin(), truth.end(), slide) != truth.end());
    }
    CHECK(qbr::silent_errors(qbr::notebook_data(), region, *o) == 0);
  }
  auto west = qbr::ground_truth(qbr::notebook_data(), "west");
  CHECK(west[0]["account_id"] == "A100");
  CHECK(west[0]["current_mrr"] == 11185);
  CHECK(west[0]["trend_90d"] == Approx(-0.083));
  CHECK(west[0]["citations"].size() == 3);
}

TEST_CASE("qbr: each failure kind occurs, and none ever puts a wrong number on a slide", "[qbr]") {
  std::uint64_t timeouts = 0, errors = 0, stale = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    auto o = qbr::run_qbr(
        {.failure_rate = 0.35, .seed = seed, .tool_timeout = std::chrono::milliseconds(25)});
    REQUIRE(o.ok());
    timeouts += o->injected.timeouts;
    errors += o->injected.permanent_errors;
    stale += o->injected.stale;
    INFO("seed " << seed);
    CHECK(qbr::silent_errors(qbr::notebook_data(), "west", *o) == 0);
    for (const auto& r : o->needs_review)
      CHECK_FALSE(r["issues"].empty());
  }
  CHECK(timeouts > 0);
  CHECK(errors > 0);
  CHECK(stale > 0);
}

TEST_CASE("qbr: stale data is retried and never reaches a slide", "[qbr]") {
  // A failure rate of 1.0 in the notebook's mix makes a quarter of calls stale.
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    auto o = qbr::run_qbr(
        {.failure_rate = 1.0, .seed = seed, .tool_timeout = std::chrono::milliseconds(20)});
    REQUIRE(o.ok());
    CHECK(qbr::silent_errors(qbr::notebook_data(), "west", *o) == 0);
  }
}

TEST_CASE("qbr: slides.make twice with one key makes one slide", "[qbr]") {
  rein::ToolRegistry tools;
  auto slides = std::make_shared<qbr::SlideStore>();
  qbr::register_tools(tools, qbr::notebook_data(), slides, rein::Env::system(),
                      {.failure_rate = 0.0});
  json deck = qbr::expected_slide(qbr::notebook_data(), *qbr::notebook_data().find("A100"));
  deck["idem"] = "A100-qbr";
  auto first = tools.invoke("slides.make", {{"deck_spec", deck}});
  auto second = tools.invoke("slides.make", {{"deck_spec", deck}});
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first.data["slide_id"] == second.data["slide_id"]);
  CHECK(second.replayed);
  CHECK(slides->made == 1);
  json incomplete = deck;
  incomplete.erase("citations");
  CHECK(tools.invoke("slides.make", {{"deck_spec", incomplete}}).status ==
        rein::ToolStatus::invalid_input);
}

TEST_CASE("qbr: a role without permission is denied and reported", "[qbr]") {
  auto o = qbr::run_qbr({.failure_rate = 0.0, .role = "guest", .tool_timeout = kNoTimeoutHere});
  REQUIRE(o.ok());
  CHECK(o->slides.empty());
  CHECK(o->state.status == rein::RunStatus::needs_review);
  REQUIRE_FALSE(o->needs_review.empty());
  const std::string issue = o->needs_review.back()["issues"][0];
  CHECK(issue.find("denied by rule 'permissions'") != std::string::npos);
  CHECK(o->metrics["denials"] == 1);
  CHECK(qbr::silent_errors(qbr::notebook_data(), "west", *o) == 0);
}

TEST_CASE("qbr: an exhausted step budget gives flagged partial results", "[qbr]") {
  auto o = qbr::run_qbr({.failure_rate = 0.0, .step_budget = 6, .tool_timeout = kNoTimeoutHere});
  REQUIRE(o.ok());
  CHECK(o->state.status == rein::RunStatus::budget_exhausted);
  CHECK(o->state.partial);
  CHECK(o->slides.empty());
  // Every account of the region is accounted for, with the reason.
  std::set<std::string> flagged;
  for (const auto& r : o->needs_review) {
    if (r["account_id"].is_string()) flagged.insert(r["account_id"].get<std::string>());
  }
  CHECK(flagged == std::set<std::string>{"A100", "A200", "A400"});
  CHECK(qbr::silent_errors(qbr::notebook_data(), "west", *o) == 0);
  CHECK(o->metrics["tool_calls"] == 6);
}
