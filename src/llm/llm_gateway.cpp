#include "rein/llm_gateway.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <unordered_map>

#include "core/host_call.hpp"
#include "core/json_text.hpp"
#include "core/sha256.hpp"
#include "rein/policy.hpp"

namespace rein {

using nlohmann::json;

json LlmUsage::to_json() const {
  return {{"calls", calls},
          {"cache_hits", cache_hits},
          {"failures", failures},
          {"fallbacks", fallbacks},
          {"refused", refused},
          {"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"cost", cost}};
}

namespace {

// Usage plus what calls in flight are expected to use (so concurrent calls cannot together
// overshoot a budget).
struct Account {
  LlmUsage usage;
  std::int64_t reserved_tokens = 0;
  double reserved_cost = 0.0;

  Usage as_policy_usage() const {
    Usage u;
    u.tokens = usage.tokens() + reserved_tokens;
    u.cost = usage.cost + reserved_cost;
    return u;
  }
};

bool has_all_tags(const std::vector<std::string>& wanted, const std::vector<std::string>& tags) {
  return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& t) {
    return std::find(tags.begin(), tags.end(), t) != tags.end();
  });
}

}  // namespace

struct LlmGateway::Impl {
  GatewayOptions options;
  Env* env = nullptr;
  mutable std::mutex mutex;
  Account total;
  std::unordered_map<std::string, Account> runs, principals, models;

  const ModelEndpoint* endpoint(std::string_view name) const {
    for (const auto& e : options.endpoints) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }

  ModelPrice price_of(const ModelEndpoint& e, const std::string& model) const {
    if (e.price) return *e.price;
    if (auto it = options.prices.find(model); it != options.prices.end()) return it->second;
    return {};
  }

  // Applies `fn` to every account a request is charged to.
  template <typename Fn>
  void for_accounts(const LlmRequest& r, const std::string& model, Fn&& fn) {
    fn(total);
    if (!r.run_id.empty()) fn(runs[r.run_id]);
    if (!r.principal.empty()) fn(principals[r.principal]);
    fn(models[model]);
  }

  // Reserves the estimate when the budgets allow it; the error names the budget otherwise.
  Status reserve(const LlmRequest& r, const std::string& model, std::int64_t tokens, double cost) {
    std::lock_guard lock(mutex);
    auto check = [&](const LlmBudget& budget, const std::string& key,
                     std::unordered_map<std::string, Account>& accounts,
                     const char* scope) -> Status {
      if ((!budget.max_tokens && !budget.max_cost) || key.empty()) return {};
      auto it = accounts.find(key);
      const Usage used = it == accounts.end() ? Usage{} : it->second.as_policy_usage();
      if (auto denied = PolicyEngine::check_llm_call(budget, used, tokens, cost)) {
        return Error(ErrorCode::budget_exhausted, std::string(scope) + " '" + key +
                                                      "': " + denied->rule + ": " + denied->reason);
      }
      return {};
    };
    Status s = check(options.run_budget, r.run_id, runs, "run");
    if (s) s = check(options.principal_budget, r.principal, principals, "principal");
    if (!s) {
      for_accounts(r, model, [](Account& a) { ++a.usage.refused; });
      return s;
    }
    for_accounts(r, model, [&](Account& a) {
      a.reserved_tokens += tokens;
      a.reserved_cost += cost;
    });
    return {};
  }

  void settle(const LlmRequest& r, const std::string& model, std::int64_t tokens, double cost,
              const LlmResponse* response, bool fell_back) {
    std::lock_guard lock(mutex);
    for_accounts(r, model, [&](Account& a) {
      a.reserved_tokens -= tokens;
      a.reserved_cost -= cost;
      if (fell_back) ++a.usage.fallbacks;
      if (response == nullptr) {
        ++a.usage.failures;
        return;
      }
      ++a.usage.calls;
      a.usage.prompt_tokens += response->prompt_tokens;
      a.usage.completion_tokens += response->completion_tokens;
      a.usage.cost += response->cost;
    });
  }

  void count_hit(const LlmRequest& r, const std::string& model) {
    std::lock_guard lock(mutex);
    for_accounts(r, model, [](Account& a) { ++a.usage.cache_hits; });
  }

  LlmUsage usage_in(const std::unordered_map<std::string, Account>& accounts,
                    std::string_view key) const {
    std::lock_guard lock(mutex);
    auto it = accounts.find(std::string(key));
    return it == accounts.end() ? LlmUsage{} : it->second.usage;
  }
};

Result<LlmGateway> LlmGateway::create(GatewayOptions options) {
  auto bad = [](const std::string& message) {
    return Error(ErrorCode::invalid_argument, "GatewayOptions." + message);
  };
  if (options.endpoints.empty()) return bad("endpoints: at least one endpoint is needed");
  std::set<std::string> names;
  for (std::size_t i = 0; i < options.endpoints.size(); ++i) {
    const auto& e = options.endpoints[i];
    const std::string where = "endpoints[" + std::to_string(i) + "]";
    if (e.name.empty()) return bad(where + ".name must not be empty");
    if (!names.insert(e.name).second) return bad(where + ".name '" + e.name + "' is used twice");
    if (!e.call) return bad(where + ".call is empty");
    if (e.price && (e.price->input_per_million < 0 || e.price->output_per_million < 0))
      return bad(where + ".price must not be negative");
  }
  for (std::size_t i = 0; i < options.routes.size(); ++i) {
    const auto& route = options.routes[i];
    const std::string where = "routes[" + std::to_string(i) + "]";
    if (route.chain.empty()) return bad(where + ".chain must name at least one endpoint");
    for (const auto& name : route.chain) {
      if (names.count(name) == 0)
        return bad(where + ".chain names unknown endpoint '" + name + "'");
    }
  }
  for (const auto& [model, price] : options.prices) {
    if (price.input_per_million < 0 || price.output_per_million < 0)
      return bad("prices['" + model + "'] must not be negative");
  }
  if (options.default_completion_estimate < 0)
    return bad("default_completion_estimate must not be negative");
  if (options.cache_ttl.count() <= 0) return bad("cache_ttl must be positive");
  auto impl = std::make_shared<Impl>();
  impl->env = options.env != nullptr ? options.env : &Env::system();
  impl->options = std::move(options);
  return LlmGateway(std::move(impl));
}

std::vector<std::string> LlmGateway::chain_for(const LlmRequest& request) const {
  for (const auto& route : impl_->options.routes) {
    if (!route.complexity.empty() && route.complexity != request.complexity) continue;
    if (!has_all_tags(route.tags, request.tags)) continue;
    return route.chain;
  }
  std::vector<std::string> all;
  for (const auto& e : impl_->options.endpoints)
    all.push_back(e.name);
  return all;
}

std::string LlmGateway::cache_key(const LlmRequest& r, std::string_view model) {
  json messages = json::array();
  for (const auto& m : r.messages)
    messages.push_back(to_json(m));
  // nlohmann's object keeps keys sorted, so equal requests dump to equal text.
  const json canonical = {{"model", model},
                          {"messages", std::move(messages)},
                          {"tools", r.tools},
                          {"response_format", r.response_format},
                          {"temperature", r.temperature ? json(*r.temperature) : json(nullptr)},
                          {"max_tokens", r.max_tokens ? json(*r.max_tokens) : json(nullptr)},
                          {"stop", r.stop},
                          {"seed", r.seed ? json(*r.seed) : json(nullptr)}};
  return sha256_hex(detail::json_text(canonical));
}

Result<LlmResponse> LlmGateway::complete(const LlmRequest& request) const {
  Impl& impl = *impl_;
  const auto chain = chain_for(request);
  const bool cacheable =
      impl.options.cache != nullptr && (impl.options.cache_nonzero_temperature ||
                                        (request.temperature && *request.temperature == 0.0));
  const std::int64_t prompt_estimate = estimate_prompt_tokens(request);
  const std::int64_t completion_estimate =
      request.max_tokens.value_or(impl.options.default_completion_estimate);
  std::string failures;
  std::optional<Error> last;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const ModelEndpoint& e = *impl.endpoint(chain[i]);
    LlmRequest sent = request;
    if (!e.model.empty()) sent.model = e.model;
    // A caller that has seen part of a streamed answer must not get a second one spliced on.
    auto streamed = std::make_shared<std::atomic<bool>>(false);
    if (request.on_delta) {
      sent.on_delta = [streamed, deliver = request.on_delta](const LlmDelta& d) {
        streamed->store(true);
        deliver(d);
      };
    }
    const std::string& model = sent.model;
    std::string key;
    if (cacheable) {
      key = cache_key(sent, model);
      if (auto hit = impl.options.cache->get(key, impl.env->unix_millis())) {
        impl.count_hit(request, model);
        hit->cached = true;
        hit->prompt_tokens = hit->completion_tokens = 0;
        hit->cost = 0.0;
        if (request.on_delta && !hit->content.empty())
          request.on_delta(LlmDelta{hit->content, -1, {}, {}, {}});
        return std::move(*hit);
      }
    }
    const ModelPrice price = impl.price_of(e, model);
    const double cost_estimate = price.cost(prompt_estimate, completion_estimate);
    if (auto s = impl.reserve(request, model, prompt_estimate + completion_estimate, cost_estimate);
        !s)
      return s.error();

    Result<LlmResponse> response = detail::call_host("the endpoint", [&] { return e.call(sent); });
    if (response) {
      if (response->model.empty()) response->model = model;
      if (response->cost == 0.0)
        response->cost = price.cost(response->prompt_tokens, response->completion_tokens);
      impl.settle(request, model, prompt_estimate + completion_estimate, cost_estimate, &*response,
                  i > 0);
      if (cacheable) {
        impl.options.cache->put(key, *response,
                                impl.env->unix_millis() + impl.options.cache_ttl.count());
      }
      return response;
    }
    impl.settle(request, model, prompt_estimate + completion_estimate, cost_estimate, nullptr,
                i > 0);
    failures += (failures.empty() ? "" : "; ") + e.name + ": " + response.error().message();
    last = response.error();
    const ErrorCode code = response.error().code();
    if (code == ErrorCode::cancelled || code == ErrorCode::budget_exhausted || streamed->load())
      break;
  }
  if (chain.size() == 1) return *last;
  return Error(last->code(), "every model failed (" + failures + ")");
}

LlmCallback LlmGateway::callback() const {
  LlmGateway self = *this;
  return [self](const LlmRequest& request) { return self.complete(request); };
}

LlmUsage LlmGateway::total() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->total.usage;
}
LlmUsage LlmGateway::usage_of_run(std::string_view run_id) const {
  return impl_->usage_in(impl_->runs, run_id);
}
LlmUsage LlmGateway::usage_of_principal(std::string_view p) const {
  return impl_->usage_in(impl_->principals, p);
}
LlmUsage LlmGateway::usage_of_model(std::string_view model) const {
  return impl_->usage_in(impl_->models, model);
}

void LlmGateway::forget_run(std::string_view run_id) const {
  std::lock_guard lock(impl_->mutex);
  impl_->runs.erase(std::string(run_id));
}

}  // namespace rein
