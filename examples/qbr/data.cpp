#include "data.hpp"

#include <algorithm>

#include "python_random.hpp"

namespace qbr {

std::vector<std::int64_t> gen_series(std::uint64_t seed, std::int64_t base) {
  PythonRandom random(seed);
  std::vector<std::int64_t> s;
  std::int64_t v = base + random.randint(-500, 500);
  for (int i = 0; i < 90; ++i) {
    v += random.randint(-120, 120);
    v = std::max<std::int64_t>(0, v);
    s.push_back(v);
  }
  return s;
}

double usage_trend(const std::vector<std::int64_t>& s) {
  const double before = static_cast<double>(s[s.size() - 14]);
  return (static_cast<double>(s.back()) - before) / std::max(1.0, before);
}

const Account* Data::find(const std::string& account_id) const {
  for (const auto& a : accounts) {
    if (a.account_id == account_id) return &a;
  }
  return nullptr;
}

const Data& notebook_data() {
  static const Data data = [] {
    Data d;
    d.accounts = {{"A100", "Acme Health", "Riley", "west"},
                  {"A200", "Beacon Retail", "Zhu", "west"},
                  {"A300", "Cobalt Finance", "Sam", "east"},
                  {"A400", "Delta Studios", "Riley", "west"}};
    d.tickets = {{"A100", "high", "SLA breach risk", true},
                 {"A200", "medium", "Billing confusion", true},
                 {"A200", "high", "Integration failing", true},
                 {"A300", "low", "Feature request", false},
                 {"A400", "high", "Renewal at risk", true}};
    d.mrr_series = {{"A100", gen_series(101, 12000)},
                    {"A200", gen_series(202, 8000)},
                    {"A300", gen_series(303, 15000)},
                    {"A400", gen_series(404, 6000)}};
    d.daily_active = {{"A100", gen_series(11, 300)},
                      {"A200", gen_series(22, 150)},
                      {"A300", gen_series(33, 500)},
                      {"A400", gen_series(44, 120)}};
    return d;
  }();
  return data;
}

}  // namespace qbr
