// The blackboard (blackboard.hpp): a shared context scoped to one orchestration, entries with
// provenance, read back as untrusted data unless the host says otherwise.
#include <catch2/catch.hpp>

#include "runtime_fixture.hpp"

using namespace rein;
using namespace rein::testing;
using nlohmann::json;

namespace {

// An orchestration: a researcher writes what it found, a writer (after it) reads the board.
struct Team {
  std::shared_ptr<Blackboard> board;
  std::shared_ptr<Runtime> researcher, writer;
  std::unique_ptr<Runtime> lead;

  explicit Team(std::shared_ptr<Blackboard> b) : board(std::move(b)) {
    auto make_worker = [&](std::string name, std::vector<PlanStep> steps) {
      auto tools = std::make_shared<ToolRegistry>();
      REQUIRE(register_blackboard_tools(*tools, board));
      return std::make_shared<Runtime>(AgentConfig{
          std::move(name), tools, allow_all(), StaticPlanner::fixed(std::move(steps)), nullptr});
    };
    researcher = make_worker(
        "researcher",
        {call("note", "blackboard.write", {{"key", "vendors"}, {"value", {"acme", "globex"}}})});
    writer = make_worker("writer", {call("look", "blackboard.read", {{"prefix", "vend"}})});
    auto tools = std::make_shared<ToolRegistry>();
    REQUIRE(register_agent_tool(*tools, researcher));
    REQUIRE(register_agent_tool(*tools, writer));
    lead = std::make_unique<Runtime>(
        AgentConfig{"lead", tools, allow_all(),
                    StaticPlanner::fixed(
                        {call("research", "agent.researcher", {{"task", "find vendors"}}),
                         call("write", "agent.writer", {{"task", "write it up"}}, {"research"})}),
                    nullptr});
  }
};

}  // namespace

TEST_CASE("blackboard: workers of one orchestration share entries with provenance",
          "[blackboard]") {
  Team team(Blackboard::in_memory());
  auto run = team.lead->run(RunRequest{"market", {"alice", {}}, nullptr, "orch"});
  REQUIRE(run);
  CHECK(run->status == RunStatus::completed);
  const json read = run->outputs["write"]["answer"]["look"]["entries"];
  REQUIRE(read.size() == 1);
  CHECK(read[0]["key"] == "vendors");
  CHECK(read[0]["value"] == json{"acme", "globex"});
  CHECK(read[0]["agent"] == "researcher");
  CHECK(read[0]["run_id"] == "orch:research");
  CHECK(read[0]["step_id"] == "note");
  CHECK(read[0]["at_millis"].get<std::int64_t>() > 0);
  // Scoped to the orchestration: the root run's id.
  CHECK(team.board->read("orch")->size() == 1);
  CHECK(team.board->read("other")->empty());
  // Shown to the reader's model as untrusted data.
  auto writer_run = team.writer->state("orch:write");
  REQUIRE(writer_run);
  CHECK_FALSE(writer_run->context_label.trusted);
  CHECK(writer_run->find_step("look")->output_label.sources ==
        std::vector<std::string>{"blackboard"});

  SECTION("another orchestration does not see it") {
    auto second = team.writer->run(RunRequest{"alone", {"bob", {}}, nullptr, "solo"});
    REQUIRE(second);
    CHECK(second->outputs["look"]["entries"].empty());
  }
  SECTION("clearing forgets the orchestration's entries") {
    REQUIRE(team.board->clear("orch"));
    CHECK(team.board->read("orch")->empty());
  }
}

TEST_CASE("blackboard: trusted when the host says so, but an entry keeps its own label",
          "[blackboard]") {
  auto board = Blackboard::in_memory({.trusted = true});
  Team team(board);
  REQUIRE(team.lead->run(RunRequest{"market", {"alice", {}}, nullptr, "trusted"}));
  auto writer_run = team.writer->state("trusted:write");
  REQUIRE(writer_run);
  CHECK(writer_run->find_step("look")->output_label.trusted);
  // An entry written from untrusted arguments stays untrusted however the board is read.
  REQUIRE(board->write("trusted", {"rumour", "x", "w", "r", "s", 1, Label::untrusted("tool:web")}));
  ToolRegistry tools;
  REQUIRE(register_blackboard_tools(tools, board));
  auto read = board->read("trusted");
  REQUIRE(read);
  CHECK(read->size() == 2);
  CHECK_FALSE(read->front().label.trusted);  // "rumour" sorts first
}

TEST_CASE("blackboard: limits and misuse are refused, named", "[blackboard]") {
  auto board = Blackboard::in_memory({.max_entries = 2, .max_value_bytes = 16});
  CHECK(board->write("s", {"", 1}).error().code() == ErrorCode::invalid_argument);
  CHECK(board->write("s", {"big", std::string(40, 'x')}).error().message().find("over the limit") !=
        std::string::npos);
  REQUIRE(board->write("s", {"a", 1}));
  REQUIRE(board->write("s", {"b", 2}));
  REQUIRE(board->write("s", {"a", 3}));  // replacing a key needs no room
  CHECK(board->write("s", {"c", 4}).error().code() == ErrorCode::budget_exhausted);
  CHECK(board->read("s")->front().value == 3);

  ToolRegistry tools;
  CHECK_FALSE(register_blackboard_tools(tools, nullptr));
  REQUIRE(register_blackboard_tools(tools, board));
  InvokeOptions keyed;
  keyed.idempotency_key = "k";
  auto outside = tools.invoke("blackboard.write", {{"key", "x"}, {"value", 1}}, keyed);
  CHECK_FALSE(outside.ok());
  CHECK(outside.errors.front().find("must be called by a run") != std::string::npos);
  CHECK(tools.invoke("blackboard.read", {{"prefix", 5}}).status == ToolStatus::invalid_input);
}

TEST_CASE("blackboard: in a SQLite file, entries outlive the process's board", "[blackboard]") {
  const auto path = temp_db_path("blackboard");
  {
    auto board = Blackboard::open(path);
    REQUIRE(board);
    Team team(*board);
    REQUIRE(team.lead->run(RunRequest{"market", {"alice", {}}, nullptr, "kept"}));
  }
  auto reopened = Blackboard::open(path);
  REQUIRE(reopened);
  auto entries = (*reopened)->read("kept");
  REQUIRE(entries);
  REQUIRE(entries->size() == 1);
  CHECK(entries->front().agent == "researcher");
  CHECK(entries->front().value == json{"acme", "globex"});
  CHECK(entries->front().label == Label{});  // written from the lead's trusted request
  CHECK((*reopened)->read("kept", "zzz")->empty());

  // A file that is not a database is refused, named.
  const auto junk = temp_db_path("blackboard_junk");
  { std::ofstream(junk) << "not a database, not at all, not even close to one"; }
  auto refused = Blackboard::open(junk);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find("blackboard '") != std::string::npos);
}
