// The notebook's virtual services as rein tools: crm.search, billing.mrr, product.usage,
// tickets.risks and slides.make, each behind a seeded FailureInjector that produces the
// notebook's failure kinds (timeouts, bad ids, stale data in its shapes, latency).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include <rein/rein.hpp>

#include "data.hpp"

namespace qbr {

// The slide service: idempotent by key, as the notebook's SLIDE_STORE.
struct SlideStore {
  std::mutex mutex;
  std::map<std::string, std::string> slide_by_key;
  int made = 0;  // slides actually created (a repeated key creates none)
};

struct ToolOptions {
  double failure_rate = 0.15;
  std::uint64_t seed = 7;
  std::chrono::milliseconds latency{0};     // added to every call
  std::chrono::milliseconds timeout{1000};  // per attempt
};

// Freshness: results carry "as_of" (Unix ms); stale ones are this old.
inline constexpr std::int64_t kStaleAgeMillis = 3LL * 24 * 3600 * 1000;

// The notebook's mix of failures for a failure rate r: timeouts r/4, bad ids (permanent errors)
// r/4, stale data r/4; no transient errors.
rein::FailureRates notebook_failure_rates(double rate);

// Registers the five tools; returns the injector so callers can read what it injected.
// The tools share `slides`, so a call abandoned at its deadline can never outlive it. `data` and
// `env` must outlive the registry's calls (the notebook data and Env::system() are static).
rein::FailureInjector register_tools(rein::ToolRegistry& registry, const Data& data,
                                     std::shared_ptr<SlideStore> slides, rein::Env& env,
                                     const ToolOptions& options);

}  // namespace qbr
