#include "tools.hpp"

#include <algorithm>
#include <cstdio>

namespace qbr {

using nlohmann::json;

namespace {

rein::ToolSpec spec(std::string name, std::string description, json input, json output) {
  rein::ToolSpec s;
  s.name = std::move(name);
  s.description = std::move(description);
  s.input_schema = std::move(input);
  s.output_schema = std::move(output);
  s.permissions = {"analyst", "manager"};
  s.retry.max_attempts = 1;  // the agent retries once through its critic, as the notebook does
  s.circuit_breaker.failure_threshold = 0;
  return s;
}

json account_input() {
  return json::parse(
      R"({"type": "object", "additionalProperties": false, "required": ["account_id"],
      "properties": {"account_id": {"type": "string", "pattern": "^A[0-9]{3}$"}}})");
}

std::vector<std::int64_t> usage_stale(std::vector<std::int64_t> s) {
  // series[:-7] + [sum(series[-14:-7]) // 7] * 7
  std::int64_t sum = 0;
  for (std::size_t i = s.size() - 14; i < s.size() - 7; ++i)
    sum += s[i];
  std::fill(s.end() - 7, s.end(), sum / 7);
  return s;
}

}  // namespace

rein::FailureRates notebook_failure_rates(double rate) {
  rein::FailureRates r;
  r.timeout = rate * 0.25;
  r.permanent_error = rate * 0.25;
  r.stale = rate * 0.25;
  return r;
}

rein::FailureInjector register_tools(rein::ToolRegistry& registry, const Data& data,
                                     std::shared_ptr<SlideStore> slides, rein::Env& env,
                                     const ToolOptions& options) {
  rein::FailureRates rates = notebook_failure_rates(options.failure_rate);
  rates.latency_min = rates.latency_max = options.latency;
  rein::FailureInjector chaos(rates, options.seed);
  auto stamp_stale = [&env](rein::ToolResult& r) {
    r.data["as_of"] = env.unix_millis() - kStaleAgeMillis;
  };
  auto with_timeout = [&options](rein::ToolSpec s) {
    s.timeout = options.timeout;
    return s;
  };

  (void)registry.register_tool(
      with_timeout(spec(
          "crm.search", "Accounts of a sales region, with owner",
          json::parse(R"({"type": "object", "additionalProperties": false, "required": ["region"],
                            "properties": {"region": {"type": "string", "enum": ["east", "west"]}}})"),
          json::parse(R"({"type": "object", "required": ["accounts", "as_of"]})"))),
      chaos.wrap(
          [&data, &env](const json& args, rein::ToolContext&) {
            json accounts = json::array();
            for (const auto& a : data.accounts) {
              if (a.region == args["region"]) {
                accounts.push_back({{"account_id", a.account_id},
                                    {"name", a.name},
                                    {"owner", a.owner},
                                    {"region", a.region}});
              }
            }
            return rein::ToolResult::success(
                {{"accounts", accounts}, {"as_of", env.unix_millis()}},
                {rein::Evidence::source("crm://accounts?region=" +
                                        args["region"].get<std::string>())});
          },
          [stamp_stale](rein::ToolResult& r) {
            auto& accounts = r.data["accounts"];  // the notebook: accounts[:-1] or accounts
            if (accounts.size() > 1) accounts.erase(accounts.size() - 1);
            stamp_stale(r);
          }));

  (void)registry.register_tool(
      with_timeout(spec(
          "billing.mrr", "Monthly recurring revenue of an account: current value and 90-day series",
          account_input(),
          json::parse(R"({"type": "object", "required": ["current_mrr", "mrr_series", "as_of"],
                            "properties": {"current_mrr": {"type": "integer"}, "mrr_series": {"type": "array", "items": {"type": "integer"}}}})"))),
      chaos.wrap(
          [&data, &env](const json& args, rein::ToolContext&) {
            const std::string id = args["account_id"];
            auto it = data.mrr_series.find(id);
            if (it == data.mrr_series.end())
              return rein::ToolResult::failure("404: no billing account " + id);
            return rein::ToolResult::success({{"current_mrr", it->second.back()},
                                              {"mrr_series", it->second},
                                              {"as_of", env.unix_millis()}},
                                             {rein::Evidence::source("billing://mrr/" + id)});
          },
          [stamp_stale](rein::ToolResult& r) {
            // series[:-5] + [series[-6]] * 5
            auto series = r.data["mrr_series"].get<std::vector<std::int64_t>>();
            std::fill(series.end() - 5, series.end(), *(series.end() - 6));
            r.data["mrr_series"] = series;
            r.data["current_mrr"] = series.back();
            stamp_stale(r);
          }));

  (void)registry.register_tool(
      with_timeout(spec(
          "product.usage", "Daily active users of an account over 90 days, and the two-week trend",
          account_input(),
          json::parse(
              R"({"type": "object", "required": ["daily_active", "usage_trend", "as_of"]})"))),
      chaos.wrap(
          [&data, &env](const json& args, rein::ToolContext&) {
            const std::string id = args["account_id"];
            auto it = data.daily_active.find(id);
            if (it == data.daily_active.end())
              return rein::ToolResult::failure("404: no usage for " + id);
            return rein::ToolResult::success({{"daily_active", it->second},
                                              {"usage_trend", usage_trend(it->second)},
                                              {"as_of", env.unix_millis()}},
                                             {rein::Evidence::source("usage://dau/" + id)});
          },
          [stamp_stale](rein::ToolResult& r) {
            auto series = usage_stale(r.data["daily_active"].get<std::vector<std::int64_t>>());
            r.data["daily_active"] = series;
            r.data["usage_trend"] = usage_trend(series);
            stamp_stale(r);
          }));

  (void)registry.register_tool(
      with_timeout(spec("tickets.risks",
                        "Open support tickets of an account, as risks with severity",
                        account_input(),
                        json::parse(R"({"type": "object", "required": ["top_risks", "as_of"]})"))),
      chaos.wrap(
          [&data, &env](const json& args, rein::ToolContext&) {
            const std::string id = args["account_id"];
            if (data.find(id) == nullptr) return rein::ToolResult::failure("404: no account " + id);
            json risks = json::array();
            for (const auto& t : data.tickets) {
              if (t.account_id == id && t.open)
                risks.push_back({{"severity", t.severity}, {"title", t.title}});
            }
            return rein::ToolResult::success({{"top_risks", risks}, {"as_of", env.unix_millis()}},
                                             {rein::Evidence::source("tickets://open/" + id)});
          },
          stamp_stale));

  auto slide_spec = spec(
      "slides.make", "Creates the QBR slide of an account from a complete, cited deck spec",
      json::parse(R"({"type": "object", "additionalProperties": false, "required": ["deck_spec"],
                           "properties": {"deck_spec": {"type": "object", "additionalProperties": false,
                             "required": ["account_id", "account_name", "owner", "current_mrr", "trend_90d", "top_risks",
                                          "next_actions", "citations", "idem"],
                             "properties": {
                               "account_id": {"type": "string", "pattern": "^A[0-9]{3}$"},
                               "account_name": {"type": "string", "minLength": 1},
                               "owner": {"type": "string", "minLength": 1},
                               "current_mrr": {"type": "integer", "minimum": 0},
                               "trend_90d": {"type": "number"},
                               "top_risks": {"type": "array", "maxItems": 5},
                               "next_actions": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                               "citations": {"type": "array", "minItems": 1,
                                             "items": {"type": "object", "required": ["type", "uri"]}},
                               "idem": {"type": "string", "pattern": "^A[0-9]{3}-qbr$"}}}}})"),
      json::parse(
          R"({"type": "object", "required": ["slide_id"], "properties": {"slide_id": {"type": "string"}}})"));
  slide_spec.side_effects = true;
  slide_spec.idempotency.key_pointer = "/deck_spec/idem";
  slide_spec.idempotency.key_required = true;
  (void)registry.register_tool(
      with_timeout(slide_spec), chaos.wrap([slides](const json& args, rein::ToolContext&) {
        const std::string key = args["deck_spec"]["idem"];
        std::lock_guard lock(slides->mutex);
        auto [it, fresh] = slides->slide_by_key.try_emplace(key);
        if (fresh) {
          char id[16];
          std::snprintf(id, sizeof id, "S%03d", ++slides->made);
          it->second = id;
        }
        return rein::ToolResult::success({{"slide_id", it->second}},
                                         {rein::Evidence::artifact("slides://" + it->second)});
      }));
  return chaos;
}

}  // namespace qbr
