// The bundled examples talking to a model over HTTP: rein's OpenAiClient (and, for the
// programs, the LlmGateway behind --llm-url) against a loopback server that speaks the OpenAI
// wire format and answers like a model would.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include <rein/openai_client.hpp>

#include "../support/fake_llm_server.hpp"
#include "agent.hpp"
#include "model.hpp"
#include "sunglasses_fixture.hpp"

using nlohmann::json;
using rein::test::FakeLlmServer;
using rein::test::FakeReply;
using rein::test::RecordedRequest;

namespace {

// The wire body back into an LlmRequest, for the offline store model to answer.
rein::LlmRequest from_wire(const json& body) {
  rein::LlmRequest r;
  r.model = body.value("model", "");
  for (const auto& m : body["messages"])
    r.messages.push_back(
        {m["role"], m["content"].is_string() ? m["content"].get<std::string>() : "", {}, "", ""});
  return r;
}

bool is_next_actions_request(const RecordedRequest& r) {
  return r.json["messages"][0]["content"].get<std::string>().find("next actions") !=
         std::string::npos;
}

// Answers store requests with the offline model's plan, and next-action requests in JSON.
FakeReply model_like(const RecordedRequest& r) {
  if (is_next_actions_request(r)) {
    return FakeReply::answer(
        R"({"next_actions": ["Call the owner this week", "Agree a renewal plan"]})");
  }
  auto answer = sunglasses::builtin_store_model()(from_wire(r.json));
  if (!answer) return FakeReply::error(500, answer.error().message());
  return FakeReply::answer(answer->content, nullptr, 900, 300);
}

std::string run_command(const std::string& command, int& exit_code) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr)
    out += buffer;
  exit_code = WEXITSTATUS(::pclose(pipe));
  return out;
}

rein::LlmCallback client_for(const FakeLlmServer& server) {
  rein::OpenAiOptions o;
  o.base_url = server.base_url();
  o.model = "fake-model";
  auto client = rein::OpenAiClient::create(o);
  REQUIRE(client.ok());
  return client->callback();
}

}  // namespace

TEST_CASE("the sunglasses agent plans through an OpenAI-compatible server", "[examples][llm]") {
  FakeLlmServer server;
  server.set_handler(model_like);
  StoreFixture store;
  sunglasses::AgentOptions options{.db_path = store.db, .llm = client_for(server)};
  auto a = sunglasses::answer_request("Return 2 Aviator sunglasses I bought last week.", options);
  REQUIRE(a.ok());
  CHECK(a->committed);
  CHECK(a->status == "success");
  CHECK(store.stock("SG001") == 25);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].json["model"] == "fake-model");
  CHECK(requests[0].json["messages"][1]["content"].get<std::string>().find("Return 2 Aviator") !=
        std::string::npos);
}

TEST_CASE("a plan the critic rejects goes back to the model with the reasons", "[examples][llm]") {
  FakeLlmServer server;
  server.push(FakeReply::answer("I would check the inventory table."));  // no <execute_sql> block
  server.set_handler(model_like);
  StoreFixture store;
  sunglasses::AgentOptions options{
      .db_path = store.db, .llm = client_for(server), .max_replans = 2};
  auto a = sunglasses::answer_request(
      "Do you have any round sunglasses in stock that are under $100?", options);
  REQUIRE(a.ok());
  CHECK(a->status == "success");
  CHECK(a->answer_text.find("Classic") != std::string::npos);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  const auto& retry = requests[1].json["messages"];
  REQUIRE(retry.size() == 4);
  CHECK(retry[2]["content"] == "I would check the inventory table.");
  CHECK(retry[3]["content"].get<std::string>().find(
            "That plan was rejected and nothing was changed") != std::string::npos);

  SECTION("without replans the first rejection is final") {
    FakeLlmServer once;
    once.push(FakeReply::answer("no plan here"));
    StoreFixture s;
    auto r = sunglasses::answer_request("Return 2 Aviator sunglasses I bought last week.",
                                        {.db_path = s.db, .llm = client_for(once)});
    REQUIRE(r.ok());
    CHECK_FALSE(r->committed);
    CHECK_FALSE(r->error.empty());
    CHECK(once.requests().size() == 1);
  }
}

#if defined(REIN_SUNGLASSES_PATH) && defined(REIN_QBR_PATH)

TEST_CASE("sunglasses --llm-url --model uses the server, with usage reported", "[examples][llm]") {
  FakeLlmServer server;
  server.set_handler(model_like);
  StoreFixture store;
  int code = -1;
  const std::string out = run_command(
      std::string(REIN_SUNGLASSES_PATH) + " --db " + store.db +
          " --audit-dir '' --json --llm-url " + server.base_url() +
          " --model fake-model 'Do you have any round sunglasses in stock that are under $100?'",
      code);
  CHECK(code == 0);
  const json answer = json::parse(out);
  CHECK(answer["status"] == "success");
  CHECK(answer["llm_usage"]["calls"] == 1);  // temperature 0: the answer is now cached
  CHECK(answer["llm_usage"]["prompt_tokens"] == 900);
  CHECK(server.requests().size() == 1);

  int bad = -1;
  run_command(
      std::string(REIN_SUNGLASSES_PATH) + " --db " + store.db + " --model x 'hi' 2>/dev/null", bad);
  CHECK(bad == 2);  // --model needs --llm-url
}

TEST_CASE("qbr --llm-url --model has a model word the next actions, checked", "[examples][llm]") {
  FakeLlmServer server;
  server.set_handler(model_like);
  // A fresh working directory: the programs cache answers under out/qbr/.
  const auto dir = std::filesystem::temp_directory_path() / rein::Env::system().new_id("qbr-llm");
  std::filesystem::create_directories(dir);
  int code = -1;
  const std::string command = "cd " + dir.string() + " && " + REIN_QBR_PATH +
                              " --failure-rate 0 --json --out run1 --llm-url " + server.base_url() +
                              " --model fake-model";
  const json out = json::parse(run_command(command, code));
  CHECK(code == 0);
  REQUIRE(out["slides"].size() == 3);
  for (const auto& slide : out["slides"])
    CHECK(slide["next_actions"] ==
          json::array({"Call the owner this week", "Agree a renewal plan"}));
  CHECK(out["metrics"]["next_actions"]["by_model"] == 3);
  CHECK(out["metrics"]["llm_usage"]["calls"] == 3);
  CHECK(server.requests().size() == 3);
  // Ticket titles reached the model only inside untrusted blocks.
  for (const auto& r : server.requests()) {
    CHECK(r.json["messages"][1]["content"].get<std::string>().find(
              "<untrusted source=\"tool:tickets.risks\">") != std::string::npos);
  }

  SECTION("an answer that fails the checks keeps the rules' actions") {
    FakeLlmServer sloppy;
    sloppy.set_handler(
        [](const RecordedRequest&) { return FakeReply::answer(R"({"next_actions": []})"); });
    const std::string again = "cd " + dir.string() + " && " + REIN_QBR_PATH +
                              " --failure-rate 0 --json --region east --out run2 --llm-url " +
                              sloppy.base_url() + " --model other-model";
    const json o = json::parse(run_command(again, code));
    CHECK(code == 0);
    CHECK(o["metrics"]["next_actions"]["by_rules"].get<int>() ==
          static_cast<int>(o["slides"].size()));
    CHECK(o["slides"][0]["next_actions"].back().get<std::string>().rfind("Schedule the QBR with",
                                                                         0) == 0);
    CHECK(o["metrics"]["next_actions"]["notes"][0].get<std::string>().find("1 to 5 strings") !=
          std::string::npos);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

#endif
