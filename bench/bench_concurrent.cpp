// concurrent_runs_1k, concurrent_runs_10k: N runs at once in one process, each two model turns
//   of 200 ms and one round of two parallel 50 ms tool calls (ideal wall time 450 ms), with an
//   asynchronous fake model and asynchronous tools completing on the executor's timers, the
//   asynchronous ReactPlanner, a rule critic and the in-memory store; every final answer is
//   checked. Fields: wall_ms, ideal_ms, peak_rss_mb, threads (peak), runs, failed.
// concurrent_runs_10k_sync: the same with a synchronous model callback and synchronous tools
//   that sleep, on a blocking pool of 256 threads.
// http_concurrent_1k: concurrent_runs_1k with the model behind HTTP: an OpenAiClient (its
//   asynchronous callback) talking to a local OpenAI-compatible server (tests/support's
//   FakeLlmServer, in a process of its own) that answers each request after 200 ms. Same
//   fields; threads counts this process only.
// concurrent_durable_steps: 1,000 runs stepping at once against a SqliteStore with
//   synchronous=FULL (every acknowledged turn is on disk before commit() returns), each run a
//   chain of ten no-op tool calls and its answer (eleven turns, eleven commits). Fields:
//   steps_per_s (turns committed per second, all runs together), single_run_steps_per_s (one
//   run alone, the same way), ratio, and the store's commits and transactions.
// Each runs in a process of its own (rein_bench --scenario NAME), so that its peak RSS and
// thread count are its own. REIN_BENCH_RUN_THREADS=N sets the executor's run threads of the
// concurrent_runs scenarios (default: one per core).
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "../tests/support/fake_llm_server.hpp"
#include "../tests/support/process_stats.hpp"
#include "benchmarks.hpp"
#include "rein/openai_client.hpp"
#include "rein/rein.hpp"

namespace rein::bench {
namespace {

using testing::peak_rss_mb;
using testing::threads_now;

using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kThink = 200ms;
constexpr auto kWork = 50ms;

// The model's next turn, in short: nullopt asks for both tools, a number answers with that sum.
// What the fake model keeps while it "thinks" (a remote model keeps nothing in this process).
using Turn = std::optional<std::int64_t>;

LlmResponse response_for(Turn turn) {
  LlmResponse r;
  r.prompt_tokens = 100;
  r.completion_tokens = 20;
  if (!turn) {
    r.finish_reason = "tool_calls";
    r.tool_calls = {{"a", "data__a", {{"n", 1}}, R"({"n":1})"},
                    {"b", "data__b", {{"n", 2}}, R"({"n":2})"}};
    return r;
  }
  r.finish_reason = "stop";
  r.content = json{{"sum", *turn}}.dump();
  return r;
}

Turn next_turn(const LlmRequest& request) {
  const bool have_results = std::any_of(request.messages.begin(), request.messages.end(),
                                        [](const Message& m) { return m.role == "tool"; });
  if (!have_results) return std::nullopt;
  // The tools' outputs, as the planner showed them ("value": N); a plain scan, so that the
  // fake model costs little beside the runtime it feeds.
  std::int64_t sum = 0;
  constexpr std::string_view kKey = "\"value\":";
  for (const auto& m : request.messages) {
    if (m.role != "tool") continue;
    for (auto at = m.content.find(kKey); at != std::string::npos;
         at = m.content.find(kKey, at + 1)) {
      std::size_t i = at + kKey.size();
      while (i < m.content.size() && m.content[i] == ' ')
        ++i;
      std::int64_t n = 0;
      while (i < m.content.size() && m.content[i] >= '0' && m.content[i] <= '9')
        n = n * 10 + (m.content[i++] - '0');
      sum += n;
    }
  }
  return sum;
}

LlmResponse model_turn(const LlmRequest& request) {
  return response_for(next_turn(request));
}

ToolSpec data_tool(const char* name) {
  ToolSpec s;
  s.name = name;
  s.description = "returns n as value";
  s.input_schema = {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}};
  s.timeout = 0ms;
  s.retry.max_attempts = 1;
  return s;
}

enum class Model { timer, sleeping, http };

// A thousand connections need more descriptors than some systems allow by default.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// A FakeLlmServer in a child process, answering like model_turn after kThink.
class ServerProcess {
 public:
  ServerProcess() {
    int fds[2];  // both ways: the port up, end of file down
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
      throw std::runtime_error("socketpair failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      serve(fds[1]);
    }
    ::close(fds[1]);
    pipe_ = fds[0];
    int port = 0;
    if (::read(pipe_, &port, sizeof port) != static_cast<ssize_t>(sizeof port))
      throw std::runtime_error("the server process did not start");
    base_url_ = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  }
  ~ServerProcess() {
    ::close(pipe_);  // the server sees end of file and exits
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  const std::string& base_url() const { return base_url_; }

 private:
  [[noreturn]] static void serve(int to_parent) {
    {
      test::FakeLlmServer server;
      server.set_handler([](const test::RecordedRequest& r) {
        LlmRequest request;
        for (const auto& m : r.json["messages"]) {
          const auto& content = m["content"];  // null beside tool calls
          request.messages.push_back({m.value("role", ""),
                                      content.is_string() ? content.get<std::string>() : "",
                                      {},
                                      "",
                                      ""});
        }
        const LlmResponse turn = model_turn(request);
        json calls = nullptr;
        if (!turn.tool_calls.empty()) {
          calls = json::array();
          for (const auto& c : turn.tool_calls)
            calls.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
        }
        test::FakeReply reply = test::FakeReply::answer(turn.content, calls, 100, 20);
        reply.delay = kThink;
        return reply;
      });
      const int port = server.port();
      (void)::write(to_parent, &port, sizeof port);
      char byte;
      while (::read(to_parent, &byte, 1) > 0) {
      }
    }
    ::_exit(0);
  }

  pid_t pid_ = -1;
  int pipe_ = -1;
  std::string base_url_;
};

json concurrent_runs(int runs, Model model) {
  const bool synchronous = model == Model::sleeping;
  std::optional<ServerProcess> server;
  if (model == Model::http) {
    raise_descriptor_limit();
    server.emplace();  // forked before any thread of this process starts
  }
  ExecutorOptions eo;
  eo.blocking_threads = synchronous ? 256 : 64;
  if (const char* t = std::getenv("REIN_BENCH_RUN_THREADS"))  // default: one per core
    eo.threads = static_cast<std::size_t>(std::atoi(t));
  auto executor = std::make_shared<Executor>(eo);
  auto tools = std::make_shared<ToolRegistry>();
  RuntimeOptions options;
  options.executor = executor;
  AgentConfig agent{.name = "bench",
                    .tools = tools,
                    .policy = allow_tools("data.*"),
                    .planner = std::make_shared<ReactPlanner>()};
  if (synchronous) {
    agent.llm = [](const LlmRequest& request) -> Result<LlmResponse> {
      std::this_thread::sleep_for(kThink);
      return model_turn(request);
    };
    for (const char* name : {"data.a", "data.b"}) {
      (void)tools->register_tool(data_tool(name), [](const json& args, ToolContext&) {
        std::this_thread::sleep_for(kWork);
        return ToolResult::success({{"value", args.value("n", 0)}});
      });
    }
  } else {
    if (model == Model::http) {
      OpenAiOptions o;
      o.base_url = server->base_url();
      o.model = "fake-model";
      o.max_idle_connections = static_cast<std::size_t>(runs);
      auto client = OpenAiClient::create(o);
      if (!client) throw std::runtime_error(client.error().message());
      agent.llm_async = client->async_callback();
    } else {
      agent.llm_async = [executor](LlmRequest request, LlmCompletion done) {
        const Turn turn = next_turn(request);
        executor->call_at(executor->env().now() + kThink,
                          [done, turn] { done.complete(response_for(turn)); });
      };
    }
    for (const char* name : {"data.a", "data.b"}) {
      (void)tools->register_async_tool(data_tool(name), [executor](AsyncToolCall call) {
        const auto n = call.args().value("n", 0);
        executor->call_at(executor->env().now() + kWork, [call, n] {
          call.complete(ToolResult::success({{"value", n}}));
        });
      });
    }
  }
  Runtime runtime(std::move(agent), std::move(options));

  std::mutex m;
  std::condition_variable all_done;
  int stopped = 0, failed = 0;
  std::string first_failure;  // what went wrong, when something did
  testing::PeakThreads peak_threads;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) {
    auto id = runtime.run_async(
        RunRequest{"add the values", {"bench", {"analyst"}}, nullptr, "run-" + std::to_string(i)},
        [&](const Result<AgentState>& s) {
          const bool ok =
              s && s->status == RunStatus::completed && s->final_answer == json{{"sum", 3}};
          std::lock_guard lock(m);
          ++stopped;
          failed += ok ? 0 : 1;
          if (!ok && first_failure.empty())
            first_failure = s ? std::string(to_string(s->status)) + ": " + s->status_reason
                              : s.error().message();
          if (stopped == runs) all_done.notify_one();
        });
    if (!id) ++failed;
  }
  const auto submitted = std::chrono::steady_clock::now();
  {
    std::unique_lock lock(m);
    all_done.wait(lock, [&] { return stopped == runs; });
  }
  const auto wall = std::chrono::steady_clock::now() - start;
  const std::size_t threads = peak_threads.stop();
  return {{"wall_ms", std::chrono::duration<double, std::milli>(wall).count()},
          {"ideal_ms", 450},
          {"submit_ms", std::chrono::duration<double, std::milli>(submitted - start).count()},
          {"peak_rss_mb", peak_rss_mb()},
          {"threads", threads},
          {"runs", runs},
          {"failed", failed},
          {"first_failure", first_failure}};
}

std::filesystem::path fresh_db(const std::string& name) {
  auto path = std::filesystem::temp_directory_path() /
              ("rein_bench_" + name + "_" + std::to_string(::getpid()) + ".db");
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path.string() + suffix);
  return path;
}

}  // namespace

ChainFigures chain_steps(const std::vector<std::shared_ptr<RunStore>>& stores, int runs,
                         const std::string& prefix) {
  auto tools = std::make_shared<ToolRegistry>();
  (void)tools->register_tool(data_tool("data.a"),
                             [](const json&, ToolContext&) { return ToolResult::success(1); });
  std::vector<PlanStep> chain;
  for (int i = 0; i < 10; ++i) {
    chain.push_back({"s" + std::to_string(i), "data.a", json::object(),
                     i == 0 ? std::vector<std::string>{}
                            : std::vector<std::string>{"s" + std::to_string(i - 1)},
                     ""});
  }
  // One executor between the runtimes, so that more workers do not mean more threads.
  auto executor = std::make_shared<Executor>();
  std::vector<Runtime> runtimes;
  for (const auto& store : stores) {
    runtimes.emplace_back(
        AgentConfig{"bench", tools, allow_tools("data.*"), StaticPlanner::fixed(chain), nullptr},
        RuntimeOptions{.store = store, .executor = executor});
  }
  std::mutex m;
  std::condition_variable all_done;
  int stopped = 0;
  std::int64_t turns = 0;
  ChainFigures figures;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) {
    auto& runtime = runtimes[static_cast<std::size_t>(i) % runtimes.size()];
    (void)runtime.run_async(
        RunRequest{"chain", {"bench", {"analyst"}}, nullptr, prefix + std::to_string(i)},
        [&](const Result<AgentState>& s) {
          std::lock_guard lock(m);
          if (s && s->status == RunStatus::completed) {
            turns += s->step_index;
          } else if (figures.failed++ == 0) {
            figures.first_failure = s ? s->status_reason : s.error().message();
          }
          if (++stopped == runs) all_done.notify_one();
        });
  }
  std::unique_lock lock(m);
  all_done.wait(lock, [&] { return stopped == runs; });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  figures.steps_per_s = static_cast<double>(turns) / seconds;
  return figures;
}

namespace {

json concurrent_durable_steps() {
  const auto path = fresh_db("durable_steps");
  auto store = *SqliteStore::open(path, SqliteStoreOptions{.synchronous_normal = false});
  double single = 0;
  for (int i = 0; i < 5; ++i)
    single += chain_steps({store}, 1, "single-" + std::to_string(i) + "-").steps_per_s / 5;
  const auto before = store->write_stats();
  const double many = chain_steps({store}, 1'000, "run-").steps_per_s;
  const auto after = store->write_stats();
  store.reset();
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path.string() + suffix);
  return {{"steps_per_s", many},
          {"single_run_steps_per_s", single},
          {"ratio", many / single},
          {"runs", 1'000},
          {"commits", after.commits - before.commits},
          {"transactions", after.transactions - before.transactions},
          {"synchronous", "FULL"}};
}

}  // namespace

PolicyEngine allow_tools(const std::string& glob) {
  PolicySpec p;
  PolicyRule allow;
  allow.id = "allow";
  allow.decision = Decision::allow;
  allow.tool = ToolMatch::glob(glob);
  p.rules.push_back(allow);
  return *PolicyEngine::create(p);
}

void add_concurrent_scenarios(std::vector<Scenario>& out) {
  out.push_back({"concurrent_runs_1k", [] { return concurrent_runs(1'000, Model::timer); }});
  out.push_back({"concurrent_runs_10k", [] { return concurrent_runs(10'000, Model::timer); }});
  out.push_back(
      {"concurrent_runs_10k_sync", [] { return concurrent_runs(10'000, Model::sleeping); }});
  out.push_back({"http_concurrent_1k", [] { return concurrent_runs(1'000, Model::http); }});
  out.push_back({"concurrent_durable_steps", [] { return concurrent_durable_steps(); }});
}

}  // namespace rein::bench
