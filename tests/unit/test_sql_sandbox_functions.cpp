// The sandbox's deadline against functions whose work grows with their arguments: each allowed
// function at its worst, the guarded functions' refusals and results, and the deadline checked
// on entry to a guarded call.
#include <atomic>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "rein/sql_sandbox.hpp"
#include "sql_sandbox_fixture.hpp"

using nlohmann::json;
using rein::ErrorCode;
using rein::testing::Db;
using rein::testing::mutate;
using rein::testing::read;

namespace {

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A clock that moves one millisecond each time it is read, whatever the machine's speed.
class TickingEnv final : public rein::Env {
 public:
  TimePoint now() override { return TimePoint(std::chrono::milliseconds(++ticks_)); }
  std::int64_t unix_millis() override { return 1'700'000'000'000 + ticks_; }
  bool sleep_for(std::chrono::nanoseconds, const rein::CancellationToken&) override { return true; }
  bool wait_until(const rein::CancellationToken& signal, TimePoint) override {
    return signal.cancelled();
  }
  std::uint64_t random_u64() override { return 4; }
  std::string new_id(std::string_view prefix) override { return std::string(prefix) + "-1"; }

 private:
  std::atomic<std::int64_t> ticks_{0};
};

const std::string kBig(99'000, 'a');                       // near max_value_bytes
const std::string kHalf = std::string(49'000, 'a') + "b";  // never found in kBig
const std::string kSet = std::string(8'000, 'b') + "a";    // trims kBig slowly
const json kParams = {{"big", kBig}, {"half", kHalf}, {"set", kSet}};
const std::string kEndless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) ";

}  // namespace

TEST_CASE("SqlSandbox: guarded functions give the built-ins' results", "[sandbox]") {
  Db db;
  auto sandbox = db.open();
  auto one = [&](const std::string& expr, const json& params = json::object()) {
    auto r = sandbox->execute(read("SELECT " + expr + " AS v;"), params);
    INFO(expr << (r.ok() ? std::string() : ": " + r.error().to_string()));
    REQUIRE(r.ok());
    REQUIRE(sandbox->rollback().ok());  // a finished plan waits for the host's decision
    return r->steps.at(0).rows.at(0)["v"];
  };
  CHECK(one("printf('%05.2f|%s|%-3d|%c', 3.14159, 'x', 7, 'yes')") == "03.14|x|7  |y");
  CHECK(one("format('%.*c-%*d', 3, 'z', 4, 5)") == "zzz-   5");
  CHECK(one("printf('%q', 'it''s')") == "it''s");
  CHECK(one("printf(NULL)").is_null());
  CHECK(one("printf(42)") == "42");
  CHECK(one("instr('hello', 'll')") == 3);
  CHECK(one("instr(x'010203', x'03')") == 3);
  CHECK(one("instr(NULL, 'a')").is_null());
  CHECK(one("instr(12345, 34)") == 3);
  CHECK(one("replace('aXbX', 'X', '-')") == "a-b-");
  CHECK(one("trim('  x  ')") == "x");
  CHECK(one("trim('xxhixx', 'x')") == "hi");
  CHECK(one("ltrim('xxhixx', 'x')") == "hixx");
  CHECK(one("rtrim('xxhixx', 'x')") == "xxhi");
  CHECK(one("typeof(instr(:big, 'a'))", kParams) == "integer");
  CHECK(one("length(replace(:big, 'a', 'b'))", kParams) == 99'000);
}

TEST_CASE("SqlSandbox: calls whose work outgrows their result are refused before they run",
          "[sandbox]") {
  Db db;
  auto sandbox = db.open();
  const std::string before = file_bytes(db.path);
  const std::map<std::string, std::string> refused = {
      {"SELECT length(printf('%.*c', 2000000000, 'x'));",
       "printf(): widths and precisions ask for 2000000000"},
      {"SELECT length(printf('%2000000000d', 1));", "printf()"},
      {"SELECT length(format('%.*f', 1000000, 1.0));", "format()"},
      {"SELECT length(printf('%*s', -2000000000, 'x'));", "printf()"},
      {"SELECT length(printf('%.60000c%.60000c', 'x', 'y'));",
       "printf(): widths and precisions ask for 120000"},
      {"SELECT instr(:big, :half);",
       "instr(): 99000 x 49001 bytes to compare, more than max_function_work"},
      {"SELECT length(replace(:big, :half, 'z'));", "replace(): 99000 x 49001"},
      {"SELECT length(trim(:big, :set));", "trim(): 99000 x 8001"},
      {"SELECT length(ltrim(:big, :set));", "ltrim()"},
      {"SELECT length(rtrim(:big, :set));", "rtrim()"},
  };
  for (const auto& [sql, message] : refused) {
    INFO(sql);
    auto r = sandbox->execute(read(sql), kParams);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::budget_exhausted);
    CHECK(r.error().message().find("plan step 1: " + message) != std::string::npos);
  }
  // A mutate plan that reaches one is rolled back whole.
  auto m = sandbox->execute(mutate("INSERT INTO log(note) VALUES ('first');\n"
                                   "UPDATE items SET qty = instr(:big, :half) WHERE id = 1;"),
                            kParams);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message().find("plan step 2: instr()") != std::string::npos);
  CHECK_FALSE(sandbox->pending());
  CHECK(file_bytes(db.path) == before);
  // The budget is the host's to set.
  auto generous = db.open({.max_function_work = 10'000'000'000});
  CHECK(generous->execute(read("SELECT instr(:big, 'ab') AS v;"), kParams).ok());
  auto strict = db.open({.max_function_work = 1'000});
  CHECK(strict->execute(read("SELECT instr(:big, 'ab') AS v;"), kParams).error().code() ==
        ErrorCode::budget_exhausted);
  CHECK(sandbox->execute(read("SELECT 1;")).ok());  // still usable
}

TEST_CASE("SqlSandbox: the deadline is checked on entry to every guarded call", "[sandbox]") {
  // Progress ticks so rare that only the guarded calls look at the clock; the clock moves a
  // millisecond per look, so the 50 ms deadline passes after about fifty calls of a thousand.
  Db db;
  TickingEnv clock;
  auto sandbox = db.open({.deadline = std::chrono::milliseconds(50),
                          .progress_interval = 1'000'000'000,
                          .env = &clock});
  auto r =
      sandbox->execute(read("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                            "WHERE x < 1000) SELECT sum(instr('abc' || x, 'b')) AS n FROM c;"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::timeout);
  CHECK(r.error().message() == "plan step 1: the plan ran past its deadline of 50 ms");
  // Without guarded calls nothing reads the clock between those ticks, and the plan finishes.
  auto plain =
      sandbox->execute(read("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                            "FROM c WHERE x < 1000) SELECT sum(x) AS n FROM c;"));
  REQUIRE(plain.ok());
  CHECK(plain->steps.at(0).rows.at(0)["n"] == 500500);
}

TEST_CASE("SqlSandbox: every allowed function at its worst ends cleanly, the file unchanged",
          "[sandbox]") {
  // One plan per allowed function, at the sizes the limits allow. Each either finishes within
  // the limits or fails with a budget, timeout or size error; none may hang or change the file.
  const std::map<std::string, std::string> worst = {
      {"abs", "SELECT abs(-9223372036854775807 - 1);"},
      {"avg", kEndless + "SELECT avg(x) FROM c;"},
      {"changes", "SELECT changes();"},
      {"char",
       "SELECT length(char(1114111, 1114111, 1114111, 1114111, 1114111, 1114111, 1114111));"},
      {"coalesce", "SELECT coalesce(NULL, NULL, NULL, NULL, NULL, NULL, NULL, :big);"},
      {"count", kEndless + "SELECT count(*) FROM c;"},
      {"date",
       "SELECT date('now', '+1 day', '+1 day', '+1 day', '+1 day', '+1 day', '+1 day', '+1 day');"},
      {"datetime", "SELECT datetime(:big);"},
      {"dense_rank", kEndless + "SELECT dense_rank() OVER (ORDER BY x) FROM c;"},
      {"first_value", kEndless + "SELECT first_value(x) OVER (ORDER BY x) FROM c;"},
      {"format", "SELECT length(format(:fmt, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5));"},
      {"glob", "SELECT :big GLOB '*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b';"},
      {"group_concat", kEndless + "SELECT length(group_concat(:big)) FROM c;"},
      {"hex", "SELECT length(hex(:big));"},
      {"ifnull", "SELECT length(ifnull(NULL, :big));"},
      {"iif", "SELECT length(iif(1, :big, :big));"},
      {"instr", "SELECT instr(:big, :half);"},
      {"julianday", "SELECT julianday(:big);"},
      {"lag", kEndless + "SELECT lag(x, 1000000) OVER (ORDER BY x) FROM c;"},
      {"last_value", kEndless + "SELECT last_value(x) OVER (ORDER BY x) FROM c;"},
      {"lead", kEndless + "SELECT lead(x, 1000000) OVER (ORDER BY x) FROM c;"},
      {"length", "SELECT length(:big);"},
      {"like", "SELECT :big LIKE '%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%b';"},
      {"likely", "SELECT likely(length(:big));"},
      {"lower", "SELECT length(lower(:big));"},
      {"ltrim", "SELECT length(ltrim(:big, :set));"},
      {"max", kEndless + "SELECT max(x) FROM c;"},
      {"min", kEndless + "SELECT min(x) FROM c;"},
      {"nullif", "SELECT length(nullif(:big, :half));"},
      {"printf", "SELECT length(printf('%.*c', 2000000000, 'x'));"},
      {"quote", "SELECT length(quote(:big));"},
      {"rank", kEndless + "SELECT rank() OVER (ORDER BY x) FROM c;"},
      {"replace", "SELECT length(replace(:big, 'a', :half));"},
      {"round", "SELECT round(1.7976931348623157e308, 30);"},
      {"row_number", kEndless + "SELECT row_number() OVER (ORDER BY x) FROM c;"},
      {"rtrim", "SELECT length(rtrim(:big, :set));"},
      {"strftime", "SELECT length(strftime(:fmt_time, 'now'));"},
      {"substr", "SELECT length(substr(:big, 2, 98998));"},
      {"substring", "SELECT length(substring(:big, 2, 98998));"},
      {"sum", kEndless + "SELECT sum(x) FROM c;"},
      {"time", "SELECT time(:big);"},
      {"total", kEndless + "SELECT total(x) FROM c;"},
      {"trim", "SELECT length(trim(:big, :set));"},
      {"typeof", "SELECT typeof(:big);"},
      {"unicode", "SELECT unicode(:big);"},
      {"unixepoch", "SELECT unixepoch(:big);"},
      {"unlikely", "SELECT unlikely(length(:big));"},
      {"upper", "SELECT length(upper(:big));"},
  };
  // The table covers exactly the default allow-list.
  std::set<std::string> covered;
  for (const auto& [name, sql] : worst)
    covered.insert(name);
  const auto& defaults = rein::default_sql_functions();
  CHECK(covered == std::set<std::string>(defaults.begin(), defaults.end()));

  json params = kParams;
  std::string fmt, fmt_time;
  for (int i = 0; i < 2'000; ++i)
    fmt += "%.40f";
  for (int i = 0; i < 40'000; ++i)
    fmt_time += "%J";
  params["fmt"] = fmt;
  params["fmt_time"] = fmt_time;
  Db db;
  const std::string before = file_bytes(db.path);
  auto sandbox = db.open({.deadline = std::chrono::milliseconds(200)});
  std::map<ErrorCode, int> outcomes;
  for (const auto& [name, sql] : worst) {
    INFO(name << ": " << sql);
    auto r = sandbox->execute(read(sql), params);
    if (!r.ok()) {
      INFO(r.error().to_string());
      CHECK((r.error().code() == ErrorCode::budget_exhausted ||
             r.error().code() == ErrorCode::timeout ||
             r.error().code() == ErrorCode::invalid_argument));
      ++outcomes[r.error().code()];
    } else {
      CHECK(sandbox->rollback().ok());  // a read plan that finished waits for the host
    }
    CHECK_FALSE(sandbox->pending());
  }
  CHECK(outcomes[ErrorCode::timeout] > 0);           // the endless ones met the deadline
  CHECK(outcomes[ErrorCode::budget_exhausted] > 0);  // the guarded ones met their budgets
  CHECK(file_bytes(db.path) == before);
}
