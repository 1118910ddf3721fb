// The lab's outcomes, end to end through the agent: offline model, sandbox, critic, commit.
#include "sunglasses_fixture.hpp"

#include "critic.hpp"
#include "model.hpp"

using nlohmann::json;

TEST_CASE("sunglasses: round under $100 finds SG005 Classic at $60, read-only") {
  StoreFixture store;
  const std::string before = store.file_digest();
  auto a = store.ask("Do you have any round sunglasses in stock that are under $100?");
  CHECK(a.status == "success");
  CHECK(a.answer_text.find("Classic") != std::string::npos);
  CHECK(a.answer_text.find("$60") != std::string::npos);
  CHECK(a.answer_text.find("Moon") == std::string::npos);
  CHECK(a.plan.find("-- intent: read") != std::string::npos);
  CHECK(a.changes.empty());
  CHECK(a.committed);
  CHECK(a.steps[0]["rows"].size() == 1);
  CHECK(a.steps[0]["rows"][0]["item_id"] == "SG005");
  CHECK(store.file_digest() == before);
}

TEST_CASE("sunglasses: returning 2 Aviator raises stock 23 -> 25 and records a refund row") {
  StoreFixture store;
  auto a = store.ask("Return 2 Aviator sunglasses I bought last week.");
  REQUIRE(a.status == "success");
  CHECK(a.committed);
  CHECK(store.stock("SG001") == 25);
  const json rows = store.query("SELECT * FROM transactions ORDER BY rowid");
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]["transaction_id"] == "TXN002");
  CHECK(rows[1]["transaction_amount"].get<double>() == Approx(-160.0));
  CHECK(rows[1]["balance_after_transaction"].get<double>() == Approx(340.0));
  CHECK(rows[1]["transaction_summary"].get<std::string>().find("SG001") != std::string::npos);
  REQUIRE(a.changes.size() == 2);
  CHECK(a.changes[0]["table"] == "inventory");
  CHECK(a.changes[0]["before"]["quantity_in_stock"] == 23);
  CHECK(a.changes[0]["after"]["quantity_in_stock"] == 25);
  CHECK(a.changes[1]["op"] == "insert");
}

TEST_CASE("sunglasses: purchase 3 Wayfarer for Alice") {
  StoreFixture store;
  auto a = store.ask("Purchase 3 Wayfarer sunglasses for customer Alice.");
  REQUIRE(a.status == "success");
  CHECK(store.stock("SG002") == 12);
  const json rows = store.query("SELECT * FROM transactions ORDER BY rowid");
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]["customer_name"] == "Alice");
  CHECK(rows[1]["transaction_amount"].get<double>() == Approx(285.0));
  CHECK(rows[1]["balance_after_transaction"].get<double>() == Approx(785.0));
  CHECK(a.answer_text.find("Alice") != std::string::npos);
}

TEST_CASE("sunglasses: 3 Classic and 1 Aviator make two rows with sequential balances") {
  StoreFixture store;
  auto a =
      store.ask("I want to buy 3 pairs of classic sunglasses and 1 pair of aviator sunglasses.");
  REQUIRE(a.status == "success");
  CHECK(store.stock("SG005") == 7);
  CHECK(store.stock("SG001") == 22);
  const json rows = store.query("SELECT * FROM transactions ORDER BY rowid");
  REQUIRE(rows.size() == 3);
  CHECK(rows[1]["transaction_amount"].get<double>() == Approx(180.0));
  CHECK(rows[1]["balance_after_transaction"].get<double>() == Approx(680.0));
  CHECK(rows[1]["transaction_summary"].get<std::string>().find("SG005") != std::string::npos);
  CHECK(rows[2]["transaction_amount"].get<double>() == Approx(80.0));
  CHECK(rows[2]["balance_after_transaction"].get<double>() == Approx(760.0));
  CHECK(rows[2]["transaction_id"] == "TXN003");
}

TEST_CASE("sunglasses: more than in stock is insufficient_stock and changes nothing") {
  StoreFixture store;
  const std::string before = store.file_digest();
  auto a = store.ask("I want to buy 3 classic and 30 aviator sunglasses");
  CHECK(a.status == "insufficient_stock");
  CHECK(a.answer_text.find("23") != std::string::npos);  // says what is available
  CHECK(a.changes.empty());
  CHECK(store.stock("SG005") == 10);
  CHECK(store.query("SELECT count(*) AS n FROM transactions")[0]["n"] == 1);
  CHECK(store.file_digest() == before);
}

TEST_CASE("sunglasses: the other statuses") {
  StoreFixture store;
  const std::string before = store.file_digest();
  SECTION("no_match offers the nearest alternative") {
    auto a = store.ask("Do you have any round sunglasses under $50?");
    CHECK(a.status == "no_match");
    CHECK(a.answer_text.find("Classic") != std::string::npos);  // the round frame closest in price
  }
  SECTION("no_match for an unknown style in a purchase") {
    auto a = store.ask("Buy 2 pairs of Gucci sunglasses");
    CHECK(a.status == "no_match");
  }
  SECTION("a purchase without a quantity is invalid_request") {
    auto a = store.ask("I want to buy aviator sunglasses");
    CHECK(a.status == "invalid_request");
    CHECK(a.answer_text.find("How many") != std::string::npos);
  }
  SECTION("refurbishing is unsupported_intent") {
    auto a = store.ask("Can you refurbish my old frames?");
    CHECK(a.status == "unsupported_intent");
    CHECK(a.answer_text.find("refurbish") != std::string::npos);
  }
  CHECK(store.file_digest() == before);
}

TEST_CASE("sunglasses: price filters, keywords and quantities in words") {
  StoreFixture store;
  CHECK(store.ask("Anything between $60 and $80?").answer_text.find("Mystique") !=
        std::string::npos);
  CHECK(store.ask("Do you have frames over $100 in stock?").answer_text.find("Navigator") !=
        std::string::npos);
  CHECK(store.ask("Any cat-eye styles?").answer_text.find("Mystique") != std::string::npos);
  auto a = store.ask("Please buy two pairs of Moon sunglasses for Bob Smith");
  CHECK(a.status == "success");
  CHECK(store.stock("SG006") == 3);
  CHECK(
      store.query(
          "SELECT customer_name FROM transactions ORDER BY rowid DESC LIMIT 1")[0]
                                                                               ["customer_name"] ==
      "Bob Smith");
  CHECK(store.ask("Buy 1 Retro Square").status == "insufficient_stock");  // out of stock
}

TEST_CASE("sunglasses: request parsing") {
  using sunglasses::StoreRequest;
  auto r = sunglasses::parse_request(
      "I want to buy 3 pairs of classic sunglasses and 1 pair of aviators.");
  REQUIRE(r.kind == StoreRequest::Kind::purchase);
  REQUIRE(r.lines.size() == 2);
  CHECK(r.lines[0].wanted == "classic");
  CHECK(r.lines[0].quantity == 3);
  CHECK(r.lines[1].wanted == "aviator");
  CHECK(r.lines[1].quantity == 1);
  r = sunglasses::parse_request("Return a couple of Wayfarers");
  REQUIRE(r.kind == StoreRequest::Kind::give_back);
  CHECK(r.lines.at(0).quantity == 2);
  r = sunglasses::parse_request("round frames between $50 and $150");
  CHECK(r.kind == StoreRequest::Kind::browse);
  CHECK(r.min_price == 50.0);
  CHECK(r.max_price == 150.0);
  CHECK(r.keywords == std::vector<std::string>{"round"});
  CHECK(sunglasses::parse_request("buy 0 aviator").kind == StoreRequest::Kind::invalid);
  CHECK(sunglasses::parse_request("buy 3 sunglasses").kind == StoreRequest::Kind::invalid);
  CHECK(sunglasses::parse_request("can you repair my hinge").kind ==
        StoreRequest::Kind::unsupported);
}

TEST_CASE("sunglasses: every JSON answer has the documented fields") {
  StoreFixture store;
  const json j =
      store.ask("Do you have any round sunglasses in stock that are under $100?").to_json();
  for (const char* key : {"status", "answer_text", "plan", "changes", "committed"})
    CHECK(j.contains(key));
  CHECK_FALSE(j.contains("error"));
  const json rejected = store.run_plan("-- intent: read\nDELETE FROM transactions;").to_json();
  CHECK(rejected["committed"] == false);
  CHECK(rejected["error"].get<std::string>().find("read plan") != std::string::npos);
  CHECK(rejected["status"].is_null());
}
