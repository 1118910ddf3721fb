#include <sqlite3.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "rein/memory_manager.hpp"

using nlohmann::json;
using rein::MemoryKind;
using rein::MemoryManager;
using rein::MemoryRecord;

namespace {

// Words to concept dimensions, so similarity can find items that share no keyword.
rein::Result<std::vector<float>> concept_embedding(std::string_view text) {
  std::vector<float> v(8, 0.0f);
  std::string word;
  auto add = [&] {
    if (word.empty()) return;
    for (auto& c : word)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (word == "churn" || word == "cancel" || word == "leaving" || word == "cancelled") v[0] += 1;
    if (word == "revenue" || word == "mrr" || word == "billing" || word == "invoice") v[1] += 1;
    if (word == "outage" || word == "incident" || word == "downtime") v[2] += 1;
    v[3] += 0.05f;  // a little common mass so no text is the zero vector
    word.clear();
  };
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word.push_back(c);
    } else {
      add();
    }
  }
  add();
  return v;
}

MemoryRecord fact(std::string content, std::string ns = "app",
                  MemoryKind kind = MemoryKind::semantic) {
  MemoryRecord r;
  r.kind = kind;
  r.ns = std::move(ns);
  r.content = std::move(content);
  r.source = "test";
  return r;
}

std::shared_ptr<MemoryManager> open_memory(rein::MemoryOptions options = {}) {
  auto m = MemoryManager::open(":memory:", std::move(options));
  REQUIRE(m.ok());
  return *m;
}

std::vector<std::string> contents(const rein::Recall& r) {
  std::vector<std::string> out;
  for (const auto& i : r.items)
    out.push_back(i.item.content);
  return out;
}

}  // namespace

TEST_CASE("MemoryManager stores, deduplicates by content hash, and validates", "[memory]") {
  rein::ManualEnv env;
  auto memory = open_memory({.env = &env});
  MemoryRecord r = fact("Acme renews in March");
  r.metadata = {{"account", "A1"}};
  r.confidence = 0.8;
  auto id = memory->remember(r);
  REQUIRE(id.ok());
  r.metadata = {{"account", "A1"}, {"checked", true}};
  r.confidence = 0.9;
  CHECK(*memory->remember(r) == *id);  // the same item, refreshed
  auto item = memory->get(*id);
  REQUIRE(item.ok());
  CHECK(item->metadata["checked"] == true);
  CHECK(item->confidence == 0.9);
  CHECK(item->content_hash.size() == 64);
  CHECK(*memory->remember(fact("Acme renews in March", "principal:ana")) !=
        *id);  // another namespace
  CHECK(*memory->remember(fact("Acme renews in March", "app", MemoryKind::episodic)) !=
        *id);  // another kind
  CHECK(*memory->count() == 3);
  CHECK(*memory->count("app") == 2);
  auto missing = memory->get(9999);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == rein::ErrorCode::not_found);
  CHECK(missing.error().message() == "no memory item 9999");

  CHECK(memory->remember(fact("")).error().message().find("content") != std::string::npos);
  MemoryRecord bad = fact("x");
  bad.confidence = 1.5;
  CHECK(memory->remember(bad).error().message().find("confidence") != std::string::npos);
  bad = fact("x");
  bad.metadata = json::array();
  CHECK(memory->remember(bad).error().code() == rein::ErrorCode::invalid_argument);
}

TEST_CASE("keyword recall ranks by BM25 within namespaces and kinds", "[memory]") {
  auto memory = open_memory();
  REQUIRE(
      memory->remember(fact("Churn risk: Acme opened three tickets about billing errors")).ok());
  REQUIRE(memory->remember(fact("Globex billing moved to annual invoices")).ok());
  REQUIRE(memory->remember(fact("Initech had an outage on Tuesday")).ok());
  REQUIRE(memory->remember(fact("Acme billing billing billing dispute", "principal:bo")).ok());
  REQUIRE(memory
              ->remember(fact("Playbook: for billing disputes, call the owner first", "app",
                              MemoryKind::procedural))
              .ok());

  auto r = memory->recall(
      {.text = "billing errors at Acme", .namespaces = {"app"}, .kinds = {MemoryKind::semantic}});
  REQUIRE(r.ok());
  REQUIRE(r->items.size() == 2);
  CHECK(r->items[0].item.content.find("Churn risk: Acme") == 0);
  CHECK(r->items[0].keyword == 1.0);
  CHECK(r->items[1].keyword < 1.0);
  CHECK(r->items[0].why.find("semantic memory from test in 'app': keyword 1.00") == 0);

  auto everywhere = memory->recall({.text = "billing"});
  REQUIRE(everywhere.ok());
  CHECK(everywhere->items.size() == 4);
  auto procedures = memory->recall({.text = "billing", .kinds = {MemoryKind::procedural}});
  CHECK(contents(*procedures) ==
        std::vector<std::string>{"Playbook: for billing disputes, call the owner first"});
  CHECK(memory->recall({.text = "nothing matches this"})->items.empty());
  CHECK(memory->recall({.text = ""})->items.empty());
}

TEST_CASE("recall treats query text as words, never as SQL or FTS5 syntax", "[memory]") {
  auto memory = open_memory();
  REQUIRE(memory->remember(fact("Acme renews in March")).ok());
  for (const char* hostile :
       {"\"", "acme\" OR content:*", "NEAR(acme march)", "acme*", "'); DROP TABLE memory_items; --",
        "content:acme", "^acme", "acme AND NOT march", "\x01\xff\xfe", "(((((", "-acme"}) {
    INFO(hostile);
    auto r = memory->recall({.text = hostile});
    REQUIRE(r.ok());
  }
  CHECK(memory->recall({.text = "'); DROP TABLE memory_items; -- acme"})->items.size() == 1);
  std::string novel;
  for (int i = 0; i < 5000; ++i)
    novel += "word" + std::to_string(i) + " ";
  CHECK(memory->recall({.text = novel + "acme"})
            ->items.empty());  // only the first 64 words are searched
  CHECK(memory->recall({.text = "acme " + novel})->items.size() == 1);
  CHECK(*memory->count() == 1);
}

TEST_CASE("expired items are never recalled and are purged", "[memory]") {
  rein::ManualEnv env;
  auto memory = open_memory({.env = &env, .default_ttl = std::chrono::hours(1)});
  REQUIRE(memory->remember(fact("short-lived note about Acme")).ok());
  MemoryRecord lasting = fact("lasting note about Acme");
  lasting.ttl = std::chrono::hours(48);
  REQUIRE(memory->remember(lasting).ok());
  CHECK(memory->recall({.text = "Acme"})->items.size() == 2);
  env.advance(std::chrono::hours(2));
  CHECK(contents(*memory->recall({.text = "Acme"})) ==
        std::vector<std::string>{"lasting note about Acme"});
  CHECK(*memory->purge_expired() == 1);
  CHECK(*memory->count() == 1);
}

TEST_CASE("retention keeps the newest items of a namespace", "[memory]") {
  rein::ManualEnv env;
  auto memory = open_memory({.env = &env, .max_items_per_namespace = 3});
  for (int i = 0; i < 5; ++i) {
    REQUIRE(memory->remember(fact("episode " + std::to_string(i), "run:r1", MemoryKind::episodic))
                .ok());
    env.advance(std::chrono::seconds(1));
  }
  REQUIRE(memory->remember(fact("other namespace")).ok());
  CHECK(*memory->count("run:r1") == 3);
  CHECK(contents(*memory->recall({.text = "episode"})).size() == 3);
  CHECK(memory->recall({.text = "episode 0"})->items.size() == 3);  // "0" itself is gone
  CHECK(*memory->forget_namespace("run:r1") == 3);
  CHECK(*memory->count() == 1);
}

TEST_CASE("similarity recall finds related items without shared words, and ranks hybrid",
          "[memory]") {
  rein::ManualEnv env;
  auto memory = open_memory({.env = &env, .embed = concept_embedding});
  REQUIRE(memory->remember(fact("Acme may cancel next quarter")).ok());
  REQUIRE(memory->remember(fact("Globex invoice overdue")).ok());
  REQUIRE(memory->remember(fact("Initech downtime last week")).ok());

  // No keyword in common with "Acme may cancel": similarity alone finds it.
  auto r = memory->recall({.text = "customers leaving", .top_k = 1});
  REQUIRE(r.ok());
  REQUIRE(r->items.size() == 1);
  CHECK(r->items[0].item.content == "Acme may cancel next quarter");
  CHECK(r->items[0].keyword == 0.0);
  CHECK(r->items[0].similarity > 0.9);

  // Keyword and similarity together beat either alone.
  REQUIRE(memory->remember(fact("Globex cancelled the incident review")).ok());
  auto both = memory->recall({.text = "Globex churn"});
  REQUIRE(both.ok());
  REQUIRE(both->items.size() >= 2);
  CHECK(both->items[0].item.content == "Globex cancelled the incident review");

  SECTION("recency and confidence break ties") {
    auto m = open_memory({.env = &env});
    REQUIRE(m->remember(fact("renewal call scheduled")).ok());
    env.advance(std::chrono::hours(24 * 30));
    REQUIRE(m->remember(fact("renewal call scheduled again")).ok());
    auto newer =
        m->recall({.text = "renewal",
                   .weights = {.keyword = 0, .similarity = 0, .recency = 1, .confidence = 0}});
    CHECK(newer->items[0].item.content == "renewal call scheduled again");
    CHECK(newer->items[1].recency == Approx(std::pow(0.5, 30.0 / 7.0)));
  }
  SECTION("embedding errors are reported, not stored") {
    auto bad = open_memory({.embed = [](std::string_view) -> rein::Result<std::vector<float>> {
      return std::vector<float>(8, 0.0f);
    }});
    CHECK(bad->remember(fact("zero")).error().message().find("zero or non-finite") !=
          std::string::npos);
    auto sized = open_memory(
        {.embed = [n = 0](std::string_view) mutable -> rein::Result<std::vector<float>> {
          return std::vector<float>(++n == 1 ? 4 : 5, 1.0f);
        }});
    REQUIRE(sized->remember(fact("four")).ok());
    CHECK(sized->remember(fact("five")).error().message().find("has 5 dimensions, the memory 4") !=
          std::string::npos);
    CHECK(*sized->count() == 1);
  }
}

TEST_CASE("pack_into_budget packs greedily, skipping what does not fit", "[memory]") {
  auto item = [](std::string content, std::int64_t tokens) {
    rein::RecalledItem r;
    r.item.content = std::move(content);
    r.tokens = tokens;
    return r;
  };
  const std::vector<rein::RecalledItem> ranked = {item("a", 50), item("big", 200), item("b", 30),
                                                  item("c", 20), item("d", 1)};
  auto packed = rein::pack_into_budget(ranked, 100, 10);
  CHECK(contents(packed) == std::vector<std::string>{"a", "b", "c"});  // exactly 100
  CHECK(packed.tokens == 100);
  CHECK(packed.skipped == 2);  // big, then d (no room left)
  CHECK(rein::pack_into_budget(ranked, 0, 10).items.empty());
  CHECK(rein::pack_into_budget(ranked, 1000, 2).items.size() == 2);  // top_k
  CHECK(rein::pack_into_budget({}, 100, 10).items.empty());
  CHECK(contents(rein::pack_into_budget(ranked, 10, 10)) == std::vector<std::string>{"d"});
}

TEST_CASE("remember_document splits text into overlapping chunks", "[memory]") {
  auto memory = open_memory({.chunk_chars = 100, .chunk_overlap = 20});
  std::string text;
  for (int i = 0; i < 12; ++i)
    text += "Sentence number " + std::to_string(i) +
            " talks about r\xC3\xA9sum\xC3\xA9s and renewals. ";
  MemoryRecord doc = fact(text);
  doc.metadata = {{"doc", "handbook"}};
  auto ids = memory->remember_document(doc);
  REQUIRE(ids.ok());
  REQUIRE(ids->size() > 5);
  std::string joined;
  for (std::size_t i = 0; i < ids->size(); ++i) {
    auto chunk = memory->get((*ids)[i]);
    REQUIRE(chunk);
    const auto& c = *chunk;
    CHECK(c.content.size() <= 100);
    CHECK(c.metadata["doc"] == "handbook");
    CHECK(c.metadata["chunk"] == i);
    CHECK(c.metadata["chunks"] == ids->size());
    CHECK(json(c.content).dump().find("\\ufffd") ==
          std::string::npos);  // never cut inside a character
  }
  auto last = memory->get(ids->back());
  REQUIRE(last);
  CHECK(text.substr(text.size() - 20) == last->content.substr(last->content.size() - 20));
}

TEST_CASE("outcome learning reports mean effectiveness with a 95% interval", "[memory]") {
  auto memory = open_memory();
  for (double e : {0.8, 0.9, 1.0})
    REQUIRE(memory->record_outcome({"send_alert", {{"severity", "high"}}, "", e}).ok());
  REQUIRE(memory->record_outcome({"send_alert", {{"severity", "low"}}, "", 0.4}).ok());
  REQUIRE(memory->record_outcome({"escalate", {}, "to-manager", 0.7}).ok());
  auto stats = memory->action_stats("send_alert");
  REQUIRE(stats.ok());
  REQUIRE(stats->size() == 2);
  const auto& high = (*stats)[0];
  CHECK(high.signature == R"({"severity":"high"})");
  CHECK(high.samples == 3);
  CHECK(high.mean == Approx(0.9));
  // s = 0.1, t(0.975, 2) = 4.303: 0.9 ± 0.2484, clamped at 1.
  CHECK(high.ci95_low == Approx(0.9 - 4.303 * 0.1 / std::sqrt(3.0)).epsilon(1e-4));
  CHECK(high.ci95_high == 1.0);
  CHECK((*stats)[1].samples == 1);
  CHECK((*stats)[1].ci95_low == 0.0);
  CHECK((*stats)[1].ci95_high == 1.0);
  CHECK((*memory->action_stats())[0].action_kind == "send_alert");
  CHECK((*memory->action_stats("escalate"))[0].signature == "to-manager");
  CHECK(high.to_json()["ci95"].size() == 2);
  CHECK(memory->record_outcome({"x", {}, "", 1.5}).error().message().find("effectiveness") !=
        std::string::npos);
  CHECK(memory->record_outcome({"", {}, "", 0.5}).error().code() ==
        rein::ErrorCode::invalid_argument);

  SECTION("large samples use t close to 1.96") {
    for (int i = 0; i < 200; ++i)
      REQUIRE(memory->record_outcome({"poll", {}, "", i % 2 == 0 ? 0.2 : 0.6}).ok());
    auto poll = (*memory->action_stats("poll"))[0];
    const double s = std::sqrt(0.04 * 200.0 / 199.0);
    CHECK(poll.mean == Approx(0.4));
    CHECK(poll.ci95_high - poll.mean == Approx(1.972 * s / std::sqrt(200.0)).epsilon(2e-3));
  }
}

TEST_CASE("MemoryManager reports unusable files and corrupt vectors as data_loss", "[memory]") {
  const auto dir = std::filesystem::temp_directory_path();
  const auto junk = dir / "rein_test_memory_junk.db";
  { std::ofstream(junk) << std::string(4096, 'j'); }
  auto broken = MemoryManager::open(junk);
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().code() == rein::ErrorCode::data_loss);
  std::filesystem::remove(junk);

  const auto path = dir / "rein_test_memory_vectors.db";
  for (const char* s : {"", "-wal", "-shm"})
    std::filesystem::remove(path.string() + s);
  {
    auto m = MemoryManager::open(path, {.embed = concept_embedding});
    REQUIRE(m.ok());
    REQUIRE((*m)->remember(fact("Acme may cancel")).ok());
  }
  {
    auto m = MemoryManager::open(path, {.embed = concept_embedding});  // reloads the vectors
    REQUIRE(m.ok());
    CHECK((*m)->recall({.text = "leaving"})->items.size() == 1);
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE memory_items SET metadata = '{broken'", nullptr, nullptr,
                       nullptr) == SQLITE_OK);
  {
    auto m = MemoryManager::open(path, {.embed = concept_embedding});
    REQUIRE(m.ok());
    auto r = (*m)->recall({.text = "Acme"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == rein::ErrorCode::data_loss);
    CHECK(r.error().message() == "memory item 1: metadata is not JSON");
  }
  REQUIRE(sqlite3_exec(db, "UPDATE memory_vectors SET vec = x'0102'", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  sqlite3_close(db);
  auto corrupt = MemoryManager::open(path);
  REQUIRE_FALSE(corrupt.ok());
  CHECK(corrupt.error().code() == rein::ErrorCode::data_loss);
  CHECK(corrupt.error().message().find("vector of item") != std::string::npos);
  for (const char* s : {"", "-wal", "-shm"})
    std::filesystem::remove(path.string() + s);
}

TEST_CASE("MemoryManager may be used from many threads at once", "[memory][concurrency]") {
  auto memory = open_memory({.embed = concept_embedding});
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (!memory
                 ->remember(fact("thread " + std::to_string(t) + " note " + std::to_string(i) +
                                 " about billing"))
                 .ok())
          ++failures;
        if (!memory->recall({.text = "billing note"}).ok()) ++failures;
        if (!memory->record_outcome({"note", {{"t", t}}, "", 0.5}).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(failures == 0);
  CHECK(*memory->count() == 100);
  CHECK((*memory->action_stats("note")).size() == 4);
}

TEST_CASE("remember_all stores many items in one transaction, all or none", "[memory]") {
  auto memory = open_memory();
  auto ids = memory->remember_all({fact("one"), fact("two"), fact("one")});
  REQUIRE(ids.ok());
  REQUIRE(ids->size() == 3);
  CHECK((*ids)[0] == (*ids)[2]);  // deduplicated within the batch too
  CHECK(*memory->count() == 2);
  auto bad = memory->remember_all({fact("three"), fact("")});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() == "records[1]: MemoryRecord.content must not be empty");
  CHECK(*memory->count() == 2);  // nothing of the failed batch was stored
}
