// An agent offered as a tool: each call starts (or, after a crash, finds) a child run on the
// child agent's runtime and completes when that run ends. See agent_tool.hpp.
#include "rein/agent_tool.hpp"

#include <algorithm>
#include <mutex>

#include "rein/delegation.hpp"

namespace rein {

using nlohmann::json;

namespace {

json default_schema(const std::string& goal_field) {
  return {{"type", "object"},
          {"properties",
           {{goal_field, {{"type", "string"}, {"description", "what the agent should do"}}},
            {"input", {{"description", "data the agent may need"}}}}},
          {"required", {goal_field}}};
}

// The parent's result for a child run that has stopped for good.
ToolResult result_of(const AgentState& s) {
  ToolResult r;
  if (s.status == RunStatus::completed || s.status == RunStatus::needs_review) {
    json data{{"run_id", s.run_id},
              {"status", std::string(to_string(s.status))},
              {"answer", s.final_answer.value_or(json())}};
    if (!s.needs_review.empty()) {
      json review = json::array();
      for (const auto& item : s.needs_review)
        for (const auto& issue : item.issues)
          review.push_back(issue);
      data["review"] = std::move(review);
    }
    r = ToolResult::success(std::move(data));
    r.label = s.answer_label;
  } else {
    r = ToolResult::failure("agent run '" + s.run_id + "' ended " +
                            std::string(to_string(s.status)) + ": " + s.status_reason);
    r.data = {{"run_id", s.run_id},
              {"status", std::string(to_string(s.status))},
              {"partial_outputs", s.outputs}};
    r.label = s.context_label;  // the outputs are whatever the child had read
  }
  r.spent = {s.usage.steps, s.usage.tool_calls, s.usage.tokens, s.usage.cost};
  return r;
}

// One call's wait for its child: told at every stop of the child run, it completes the call at
// the first one that ends the run (suspensions for a person are the host's to settle through
// the child's runtime). Holds the child runtime weakly: a child suspended for approval must
// not keep its runtime alive through its own callback.
struct ChildWait {
  AsyncToolCall call{nullptr};
  std::weak_ptr<Runtime> child;
  std::string run_id;
  std::mutex mutex;
  CancellationRegistration on_cancel;  // the parent's call cancelled → the child cancelled
  bool done = false;

  void stopped(const Result<AgentState>& s) {
    if (s && !is_terminal(s->status)) return;
    {
      std::lock_guard lock(mutex);
      if (done) return;
      done = true;
      on_cancel = {};
    }
    if (!s) {
      call.complete(ToolResult::failure(
          "agent run '" + run_id + "' could not go on: " + s.error().message(), true));
      return;
    }
    call.complete(result_of(*s));
  }
};

void start_child(const std::shared_ptr<Runtime>& child, const AgentToolOptions& o,
                 const std::string& tool, AsyncToolCall call) {
  const ToolContext& ctx = call.context();
  const CallerRun* caller = ctx.caller();
  if (caller == nullptr || ctx.idempotency_key().empty()) {
    call.complete(ToolResult::failure("agent tool '" + tool +
                                      "' must be called by a run (Runtime), which it "
                                      "delegates from"));
    return;
  }
  if (ctx.cancelled()) {
    call.complete(ToolResult::failure("cancelled before the agent run started"));
    return;
  }
  // The caller sits below its ancestors; its child would sit one deeper.
  const auto caller_depth = caller->delegation ? caller->delegation->ancestors.size() : 0;
  if (caller_depth + 1 > static_cast<std::size_t>(std::max(o.max_depth, 0))) {
    call.complete(ToolResult::failure("agent tool '" + tool + "': the delegation depth limit of " +
                                      std::to_string(o.max_depth) + " is reached (run '" +
                                      caller->run_id + "' is at depth " +
                                      std::to_string(caller_depth) + ")"));
    return;
  }
  const json& args = call.args();
  const auto goal = args.find(o.goal_field);
  if (goal == args.end() || !goal->is_string()) {
    ToolResult bad = ToolResult::failure("agent tool '" + tool + "': field '" + o.goal_field +
                                         "' must be a string (the child's goal)");
    bad.status = ToolStatus::invalid_input;
    call.complete(std::move(bad));
    return;
  }
  RunRequest request;
  request.goal = goal->get<std::string>();
  request.principal.id = caller->principal.id + "/" + child->agent().name;
  for (const auto& role : caller->principal.roles) {
    if (o.roles.empty() || std::find(o.roles.begin(), o.roles.end(), role) != o.roles.end())
      request.principal.roles.push_back(role);
  }
  request.input = args;
  // The call's key names the parent's run, step and retry: the same child after a crash, a
  // fresh one for a retry.
  request.run_id = std::string(ctx.idempotency_key());
  request.delegation = std::make_shared<const Delegation>(caller->for_child());

  auto wait = std::make_shared<ChildWait>();
  wait->call = call;
  wait->child = child;
  wait->run_id = request.run_id;
  RunCallback on_stop = [wait](const Result<AgentState>& s) { wait->stopped(s); };
  {
    std::lock_guard lock(wait->mutex);
    wait->on_cancel = ctx.cancellation().on_cancel([weak = wait->child, id = wait->run_id] {
      if (auto runtime = weak.lock()) (void)runtime->cancel(id);
    });
  }
  auto started = child->run_async(std::move(request), on_stop);
  if (started) return;
  Status resumed = started.error();
  if (started.error().code() == ErrorCode::already_exists) {
    // Started before a crash (or by an earlier attempt of this very call): wait for it again.
    resumed = child->resume_async(wait->run_id, on_stop);
    if (resumed) return;
  }
  // Driven by another call right now, or a store that is down: worth another try later.
  const bool transient = resumed.error().code() == ErrorCode::already_exists ||
                         resumed.error().code() == ErrorCode::unavailable;
  call.complete(ToolResult::failure("agent tool '" + tool + "' could not start run '" +
                                        wait->run_id + "': " + resumed.error().message(),
                                    transient));
}

}  // namespace

Status register_agent_tool(ToolRegistry& parent_tools, std::shared_ptr<Runtime> child,
                           AgentToolOptions options) {
  if (!child) {
    return Error(ErrorCode::invalid_argument, "register_agent_tool: the child runtime is null");
  }
  const std::string agent = child->agent().name;
  if (options.goal_field.empty()) {
    return Error(ErrorCode::invalid_argument, "register_agent_tool: goal_field is empty");
  }
  ToolSpec spec;
  spec.name = options.name.empty() ? "agent." + agent : options.name;
  spec.description = options.description.empty()
                         ? "Ask the " + agent + " agent to do a task; returns its answer."
                         : options.description;
  spec.input_schema =
      options.input_schema.is_null() ? default_schema(options.goal_field) : options.input_schema;
  const auto properties = spec.input_schema.find("properties");
  if (properties == spec.input_schema.end() || !properties->is_object() ||
      !properties->contains(options.goal_field)) {
    return Error(ErrorCode::invalid_argument,
                 "register_agent_tool: input_schema has no property '" + options.goal_field +
                     "' (goal_field) for the child's goal");
  }
  spec.side_effects = true;  // it starts a run: keyed, journaled, never replayed blindly
  spec.idempotency.key_required = true;
  spec.timeout = std::chrono::milliseconds(0);  // the child's own budgets bound it
  spec.retry.max_attempts = 1;  // a failed child is the critic's to retry, with a fresh child
  spec.wants_caller = true;
  const std::string tool = spec.name;
  return parent_tools.register_async_tool(
      std::move(spec), [child = std::move(child), options = std::move(options),
                        tool](AsyncToolCall call) { start_child(child, options, tool, call); });
}

}  // namespace rein
