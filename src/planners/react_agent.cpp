#include "rein/react_agent.hpp"

namespace rein {

AgentConfig react_agent(ReactAgentOptions options) {
  AgentConfig agent;
  agent.name = std::move(options.name);
  agent.tools = std::move(options.tools);
  agent.policy = std::move(options.policy);
  agent.planner = std::make_shared<ReactPlanner>(std::move(options.react));
  agent.llm = std::move(options.model);
  agent.llm_async = std::move(options.model_async);
  return agent;
}

}  // namespace rein
