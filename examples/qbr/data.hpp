// The notebook's virtual services: accounts, tickets, and the MRR and daily-active series made
// by gen_series(seed, base) exactly as CPython computes them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qbr {

struct Account {
  std::string account_id, name, owner, region;
};

struct Ticket {
  std::string account_id, severity, title;
  bool open;
};

// gen_series(seed, base): random.seed(seed); v = base + randint(-500, 500); 90 times:
// v += randint(-120, 120); v = max(0, v); append v.
std::vector<std::int64_t> gen_series(std::uint64_t seed, std::int64_t base);

// The notebook's usage trend: (series[-1] - series[-14]) / max(1, series[-14]).
double usage_trend(const std::vector<std::int64_t>& daily_active);

struct Data {
  std::vector<Account> accounts;
  std::vector<Ticket> tickets;
  std::map<std::string, std::vector<std::int64_t>> mrr_series;    // BILLING[id]["mrr_series"]
  std::map<std::string, std::vector<std::int64_t>> daily_active;  // USAGE[id]["daily_active"]

  const Account* find(const std::string& account_id) const;
};

// The notebook's data, computed once.
const Data& notebook_data();

}  // namespace qbr
