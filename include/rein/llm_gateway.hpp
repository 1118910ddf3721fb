// rein::LlmGateway: one LlmCallback in front of several models, with routing, fallback, a
// response cache, token and cost accounting, and budgets.
//
// For each request:
//   1. route: the first GatewayRoute whose complexity and tags match the request names the
//      chain of endpoints to try; no match (or no routes): every endpoint, in the given order;
//   2. for each endpoint of the chain, in order:
//      a. cache: a fresh cached answer to the same request for that model is returned (no
//         tokens, no cost, LlmResponse::cached set). Only requests with temperature 0 are
//         cached unless cache_nonzero_temperature is set (an unset temperature means the
//         server's default, which is not 0);
//      b. budgets: the prompt's estimated tokens plus max_tokens (or
//         default_completion_estimate), priced for this model, are checked against the run's
//         and the principal's usage (GatewayOptions::run_budget, principal_budget, checked
//         as PolicyEngine::check_llm_call checks a run's); a call that would go over is
//         refused before it is sent (budget_exhausted, naming the rule);
//      c. the call; on success its cost is computed from the price table (unless the endpoint
//         reported one), usage is recorded per run, per principal and per model, the answer is
//         cached, and returned;
//      d. on failure the next endpoint is tried (cancelled and budget_exhausted stop at once,
//         and so does a failed stream that already reached the caller's on_delta);
//   3. every endpoint failed: the last error's code, with each endpoint's message.
//
// Usage per run is kept until forget_run(); hosts running many runs call it when a run ends.
//
// Thread safety: complete() may be called from any number of threads at once; copies of a
// gateway share its endpoints, cache and accounting.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/budget.hpp"
#include "rein/env.hpp"
#include "rein/error.hpp"
#include "rein/llm.hpp"
#include "rein/llm_cache.hpp"

namespace rein {

// Prices in the host's currency per million tokens (the unit providers publish).
struct ModelPrice {
  double input_per_million = 0.0;
  double output_per_million = 0.0;

  double cost(std::int64_t prompt_tokens, std::int64_t completion_tokens) const {
    return (static_cast<double>(prompt_tokens) * input_per_million +
            static_cast<double>(completion_tokens) * output_per_million) /
           1e6;
  }
};

struct ModelEndpoint {
  std::string name{};                 // unique; routes refer to it
  std::string model{};                // sent as LlmRequest::model; "" keeps the request's
  LlmCallback call{};                 // e.g. OpenAiClient::callback()
  std::optional<ModelPrice> price{};  // else GatewayOptions::prices[model], else free
};

struct GatewayRoute {
  std::string complexity{};          // matches LlmRequest::complexity; "" matches any
  std::vector<std::string> tags{};   // all must be among the request's tags; empty matches any
  std::vector<std::string> chain{};  // endpoint names: the first choice, then its fallbacks
};

struct GatewayOptions {
  std::vector<ModelEndpoint> endpoints{};                   // at least one
  std::vector<GatewayRoute> routes{};                       // first match wins
  std::map<std::string, ModelPrice, std::less<>> prices{};  // by model name

  std::shared_ptr<LlmCache> cache{};  // nullptr: no caching
  std::chrono::milliseconds cache_ttl{std::chrono::minutes(10)};
  bool cache_nonzero_temperature = false;

  LlmBudget run_budget{};        // tokens and cost per run (unset: no limit)
  LlmBudget principal_budget{};  // tokens and cost per principal, over all its runs
  std::int64_t default_completion_estimate = 512;  // tokens, when a request sets no max_tokens

  Env* env = nullptr;  // the cache's clock; nullptr: Env::system()
};

struct LlmUsage {
  std::int64_t calls = 0;       // answered by a model
  std::int64_t cache_hits = 0;  // answered from the cache
  std::int64_t failures = 0;    // endpoint attempts that failed
  std::int64_t fallbacks = 0;   // times a later endpoint was tried after a failure
  std::int64_t refused = 0;     // calls refused by a budget
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost = 0.0;

  std::int64_t tokens() const { return prompt_tokens + completion_tokens; }
  nlohmann::json to_json() const;
};

class LlmGateway {
 public:
  // Checks the options: endpoints present with unique names and callbacks, routes naming
  // known endpoints, prices and estimates not negative. The error names the field.
  static Result<LlmGateway> create(GatewayOptions options);

  Result<LlmResponse> complete(const LlmRequest& request) const;
  Result<LlmResponse> operator()(const LlmRequest& request) const { return complete(request); }
  LlmCallback callback() const;  // shares this gateway

  // The endpoint names tried for `request`, in order.
  std::vector<std::string> chain_for(const LlmRequest& request) const;
  // The cache key: SHA-256 of the canonical JSON of what the model sees (model, messages,
  // tools, response format, sampling settings); tags, ids and callbacks are not part of it.
  static std::string cache_key(const LlmRequest& request, std::string_view model);

  LlmUsage total() const;
  LlmUsage usage_of_run(std::string_view run_id) const;
  LlmUsage usage_of_principal(std::string_view principal) const;
  LlmUsage usage_of_model(std::string_view model) const;
  void forget_run(std::string_view run_id) const;

 private:
  struct Impl;
  explicit LlmGateway(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace rein
