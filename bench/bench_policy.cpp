// policy_decide_N: a policy of N rules, a fifth of them with argument regexes, where the
// request is decided by the last rule in evaluation order, so every rule is examined: all
// rules name the requested tool (exactly, by glob or by regex) and fail on roles or arguments.
#include <memory>

#include "benchmarks.hpp"
#include "harness.hpp"
#include "rein/policy.hpp"

namespace rein::bench {
namespace {

using nlohmann::json;

struct PolicyCase {
  PolicyEngine engine;
  json args;
  Principal principal;
  Usage usage;
};

std::shared_ptr<PolicyCase> make_case(int rules) {
  PolicySpec spec;
  for (int i = 0; i < rules - 1; ++i) {
    PolicyRule r;
    r.id = "rule-" + std::to_string(i);
    r.priority = rules - i;  // declaration order is evaluation order
    r.decision = i % 3 == 0 ? Decision::deny : Decision::allow;
    switch (i % 10) {
      case 1:
        r.tool = ToolMatch::glob("billing.*");
        break;
      case 2:
        r.tool = ToolMatch::regex("billing\\.(mrr|invoice)");
        break;
      default:
        r.tool = ToolMatch::exact("billing.mrr");
        break;
    }
    if (i % 5 == 0) {
      // The argument regex is evaluated and fails.
      r.args.push_back(ArgConstraint::regex("/account_id", "Z[0-9]{3}-" + std::to_string(i)));
    } else if (i % 5 == 1) {
      r.roles = {"auditor-" + std::to_string(i)};
    } else {
      r.args.push_back(ArgConstraint::equals("/region", "region-" + std::to_string(i)));
    }
    spec.rules.push_back(std::move(r));
  }
  PolicyRule last;
  last.id = "analysts-read-billing";
  last.priority = 0;
  last.decision = Decision::allow;
  last.tool = ToolMatch::exact("billing.mrr");
  last.roles = {"analyst"};
  last.args.push_back(ArgConstraint::regex("/account_id", "A[0-9]{3}"));
  spec.rules.push_back(std::move(last));
  spec.budgets.max_tool_calls = 1000;
  spec.rate_limits.push_back({"billing.*", 100, std::chrono::milliseconds(1000)});

  auto engine = PolicyEngine::create(std::move(spec));
  if (!engine) std::abort();
  auto c = std::make_shared<PolicyCase>(PolicyCase{
      *engine, {{"account_id", "A100"}, {"region", "west"}}, {"riley", {"analyst"}}, {}});
  c->usage.record_call("billing.mrr", 0, c->engine.longest_rate_window());
  c->usage.now_millis = 10;
  if (!c->engine.decide("billing.mrr", c->args, c->principal, c->usage).allowed()) std::abort();
  return c;
}

}  // namespace

void add_policy_benchmarks(std::vector<Benchmark>& out) {
  for (int n : {10, 100, 1000}) {
    auto c = make_case(n);
    out.push_back({"policy_decide_" + std::to_string(n), [c] {
                     auto d = c->engine.decide("billing.mrr", c->args, c->principal, c->usage);
                     keep(d);
                   }});
  }
}

}  // namespace rein::bench
