// Shared pieces for tests of asynchronous runs: a model and tools that answer later, on the
// executor's timers (so they also run in virtual time), and a run collector.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "rein/rein.hpp"
#include "runtime_fixture.hpp"

namespace rein::testing {

// The concurrent-runs workload: a model turn that calls two tools, then one that answers with
// their sum; each model turn takes `think`, each tool `work`, on the executor's clock.
struct TimedWorkload {
  std::shared_ptr<Executor> executor;
  std::chrono::milliseconds think{200};
  std::chrono::milliseconds work{50};
  std::atomic<int> model_calls{0};
  std::atomic<int> tool_calls{0};

  AsyncLlmCallback model() {
    return [this](LlmRequest request, LlmCompletion done) {
      ++model_calls;
      const bool have_results =
          std::any_of(request.messages.begin(), request.messages.end(), [](const Message& m) {
            return m.role == "tool" && m.content.find("\"value\"") != std::string::npos;
          });
      LlmResponse r;
      r.prompt_tokens = 100;
      r.completion_tokens = 20;
      r.model = "timed";
      if (!have_results) {
        r.finish_reason = "tool_calls";
        r.tool_calls = {{"a", "data__a", {{"n", 1}}, R"({"n":1})"},
                        {"b", "data__b", {{"n", 2}}, R"({"n":2})"}};
      } else {
        // The tools' outputs, as the planner showed them to the model.
        static const std::regex value(R"re("value":\s*(\d+))re");
        std::int64_t sum = 0;
        for (const auto& m : request.messages) {
          if (m.role != "tool") continue;
          for (std::sregex_iterator it(m.content.begin(), m.content.end(), value), end; it != end;
               ++it) {
            sum += std::stoll((*it)[1].str());
          }
        }
        r.finish_reason = "stop";
        r.content = nlohmann::json{{"sum", sum}}.dump();
      }
      executor->call_at(executor->env().now() + think, [done, r] { done.complete(r); });
    };
  }

  void register_tools(ToolRegistry& tools) {
    for (const char* name : {"data.a", "data.b"}) {
      ToolSpec s = spec(name);
      s.input_schema = {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}};
      s.timeout = std::chrono::seconds(30);
      (void)tools.register_async_tool(s, [this](AsyncToolCall call) {
        ++tool_calls;
        const auto n = call.args().value("n", 0);
        executor->call_at(executor->env().now() + work, [call, n] {
          call.complete(ToolResult::success({{"value", n}}));
        });
      });
    }
  }
};

// Collects what run_async tells, per run, thread-safely.
struct Stops {
  std::mutex mutex;
  std::map<std::string, std::vector<Result<AgentState>>> by_run;
  std::vector<std::string> order;  // run ids in the order their stops arrived
  std::atomic<int> count{0};

  RunCallback callback() {
    return [this](const Result<AgentState>& stopped) {
      std::lock_guard lock(mutex);
      const std::string id = stopped ? stopped->run_id : std::string("(error)");
      by_run[id].push_back(stopped);
      order.push_back(id);
      ++count;
    };
  }
  Result<AgentState> last(const std::string& run_id) {
    std::lock_guard lock(mutex);
    return by_run.at(run_id).back();
  }
  std::size_t stops_of(const std::string& run_id) {
    std::lock_guard lock(mutex);
    auto it = by_run.find(run_id);
    return it == by_run.end() ? 0 : it->second.size();
  }
};

}  // namespace rein::testing
