// Four worker processes share 1,000 runs through one PostgreSQL schema while the test SIGKILLs
// them at random points, at least 200 times, restarting each. Every run must complete, every
// ledger post must apply exactly once, every audit must verify, and no commit may ever have
// been accepted on a stale fence (a table the test keeps by trigger logs every fence change).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "../support/ledger_tools.hpp"
#include "pg_fixture.hpp"

using namespace rein;
using namespace rein::testing;
using namespace std::chrono_literals;

namespace {

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("multi-worker: 4 processes, 1,000 runs, 200 kills: every run once, fenced",
          "[postgres][multiworker]") {
  const std::string schema = fresh_schema("fleet"), fx = schema + "_fx";
  const std::string log = "/tmp/rein_" + schema + ".log";
  const std::string worker = REIN_PG_WORKER_PATH;
  constexpr int kRuns = 1000, kWorkers = 4, kKills = 200;
  const std::int64_t per_run = account_amount(1) + account_amount(2);  // each run posts both
  pg_sql("CREATE SCHEMA " + fx + "; CREATE TABLE " + fx +
         ".invocations(key text NOT NULL, worker text NOT NULL); CREATE TABLE " + fx +
         ".applied(key text PRIMARY KEY, amount bigint NOT NULL); CREATE TABLE " + fx +
         ".fence_log(run_id text, old_fence bigint, new_fence bigint, old_owner text, owner text, "
         "status text)");
  REQUIRE(wait_exit(spawn({worker, pg_conninfo(), schema, "submit", std::to_string(kRuns)}, log)) ==
          0);
  pg_sql("CREATE FUNCTION " + fx +
         ".log_fence() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
         "INSERT INTO " +
         fx +
         ".fence_log VALUES(NEW.run_id, OLD.fence, NEW.fence, OLD.owner, NEW.owner, "
         "NEW.status); RETURN NEW; END $$; CREATE TRIGGER log_fence AFTER UPDATE ON " +
         schema + ".runs FOR EACH ROW WHEN (OLD.fence <> NEW.fence) EXECUTE FUNCTION " + fx +
         ".log_fence()");

  std::vector<pid_t> workers;
  struct KillLeftOnExit {  // a failed REQUIRE leaves no worker behind
    std::vector<pid_t>& pids;
    ~KillLeftOnExit() {
      for (auto pid : pids)
        if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } kill_left{workers};
  // Each worker process has a name of its own, which its leases and commits carry.
  std::vector<std::string> names(kWorkers);
  int started = 0;
  auto start_worker = [&](std::size_t slot) {
    names[slot] = "w" + std::to_string(slot) + "-" + std::to_string(started++);
    return spawn({worker, pg_conninfo(), schema, "work", names[slot]}, log);
  };
  for (std::size_t i = 0; i < kWorkers; ++i)
    workers.push_back(start_worker(i));
  // The kills follow the work, not the clock: each worker dies after one to three commits of its
  // own (on runs it holds) since it started, so every kill lands in the middle of its work, on
  // any machine, however fast.
  PGconn* watch = PQconnectdb(pg_conninfo().c_str());
  REQUIRE(PQstatus(watch) == CONNECTION_OK);
  auto count = [&](const std::string& sql) {
    PGresult* r = PQexec(watch, sql.c_str());
    const int n = PQresultStatus(r) == PGRES_TUPLES_OK ? std::atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
  };
  std::mt19937 rng(std::random_device{}());
  std::vector<int> dies_after(kWorkers);  // each worker's own commits before its kill
  for (auto& n : dies_after)
    n = 1 + static_cast<int>(rng() % 3);
  int kills = 0, ended_at_last_kill = 0;
  while (kills < kKills) {
    const int ended = count("SELECT count(*) FROM " + schema + ".runs WHERE status <> 'running'");
    if (ended == kRuns) break;  // all done before the kills were: reported below
    for (std::size_t slot = 0; slot < kWorkers && kills < kKills; ++slot) {
      if (count("SELECT count(*) FROM " + fx + ".fence_log WHERE owner = '" + names[slot] +
                "' AND old_owner = owner") < dies_after[slot])
        continue;
      ::kill(workers[slot], SIGKILL);
      ::waitpid(workers[slot], nullptr, 0);
      ++kills;
      ended_at_last_kill = ended;
      workers[slot] = start_worker(slot);
      dies_after[slot] = 1 + static_cast<int>(rng() % 3);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  PQfinish(watch);
  INFO("kills " << kills << ", runs ended at the last kill: " << ended_at_last_kill << " of "
                << kRuns);
  REQUIRE(kills == kKills);  // every kill landed while there was work
  // Now let them finish: each exits 0 once every run has ended.
  for (auto& pid : workers) {
    const int code = wait_exit(pid);
    pid = -1;
    if (code != 0) {
      FAIL("a worker exited with " << code << "; see " << log);
    }
  }

  // Every run completed with the right total; every post applied exactly once.
  CHECK(pg_sql("SELECT count(*) FROM " + schema + ".runs WHERE status = 'completed'") ==
        std::to_string(kRuns));
  CHECK(pg_sql("SELECT count(*) FROM " + fx + ".applied") == std::to_string(2 * kRuns));
  CHECK(pg_sql("SELECT sum(amount) FROM " + fx + ".applied") == std::to_string(kRuns * per_run));
  const std::string invocations = pg_sql("SELECT count(*) FROM " + fx + ".invocations");
  INFO("ledger invocations: " << invocations << " (repeats absorbed by the idempotency key)");
  // No commit was accepted on a stale fence: each fence advanced by one, from each value once.
  CHECK(std::stoi(pg_sql("SELECT count(*) FROM " + fx + ".fence_log")) >= 3 * kRuns);
  CHECK(pg_sql("SELECT count(*) FROM " + fx + ".fence_log WHERE new_fence <> old_fence + 1") ==
        "0");
  CHECK(pg_sql("SELECT count(*) FROM (SELECT run_id, old_fence FROM " + fx +
               ".fence_log GROUP BY 1, 2 HAVING count(*) > 1) twice") == "0");

  auto store = open_pg(schema, {.agent_version = "ledger-1"});
  auto anchors = store->audit_anchors();
  REQUIRE(anchors.ok());
  auto audit = store->read_audit("");
  REQUIRE(audit.ok());
  const auto verified = verify_audit(*audit, &*anchors);
  INFO(verified.reason);
  CHECK(verified.ok);
  for (const auto& r : *store->list_runs()) {
    auto s = store->load(r.run_id);
    REQUIRE(s.ok());
    CHECK(s->final_answer.value_or(nullptr) == nlohmann::json{{"posted_total", per_run}});
  }
  std::remove(log.c_str());
  WARN("kills " << kills << ", runs ended at the last kill " << ended_at_last_kill
                << ", ledger invocations " << invocations << " for " << 2 * kRuns << " posts");
}
