// A fresh, seeded sunglasses store in a temporary directory, and helpers to query it.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <rein/env.hpp>
#include <rein/sql_sandbox.hpp>

#include "agent.hpp"
#include "store.hpp"

struct StoreFixture {
  std::filesystem::path dir;
  std::string db;

  StoreFixture() {
    dir = std::filesystem::temp_directory_path() / rein::Env::system().new_id("sunglasses-test");
    std::filesystem::create_directories(dir);
    db = (dir / "store.db").string();
    REQUIRE(sunglasses::prepare_store(db, true).ok());
  }
  ~StoreFixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  sunglasses::Answer ask(const std::string& request) {
    auto answer = sunglasses::answer_request(request, {.db_path = db});
    REQUIRE(answer.ok());
    return *answer;
  }
  sunglasses::Answer run_plan(const std::string& plan) {
    auto answer = sunglasses::answer_request("(hostile plan)", {.db_path = db, .plan_text = plan});
    REQUIRE(answer.ok());
    return *answer;
  }
  nlohmann::json query(const std::string& sql) {
    auto sandbox = rein::SqlSandbox::open(db, sunglasses::store_sandbox_options());
    REQUIRE(sandbox.ok());
    auto rows = (*sandbox)->inspect(sql);
    REQUIRE(rows.ok());
    return *rows;
  }
  std::int64_t stock(const std::string& item) {
    return query("SELECT quantity_in_stock FROM inventory WHERE item_id = '" + item +
                 "'")[0]["quantity_in_stock"];
  }
  // A fingerprint of the store file's bytes: equal before and after means the file is unchanged.
  std::string file_digest() const {
    std::ifstream in(db, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    const std::string all = bytes.str();
    return std::to_string(all.size()) + ":" + std::to_string(std::hash<std::string>{}(all));
  }
};
