// Where the labels of a run come from (the model is in labels.hpp): observations, recalled
// memory and tool results. The stages join them into AgentState::context_label as they take
// them in, and label each planned step's arguments from it.
#include "loop/turn.hpp"

namespace rein::detail {

Label observation_label(const Observation& o) {
  // Recalled memory says so in its source already ("memory:semantic").
  std::string source = o.source.rfind("memory:", 0) == 0 ? o.source : "observation:" + o.source;
  Label label = o.trusted ? Label{} : Label::untrusted(source);
  if (!o.level.empty()) label.join(Label::at_level(o.level, std::move(source)));
  return label;
}

Label result_label(const ToolRegistry& tools, const StepState& st, const ToolResult& result) {
  // A refusal before the tool ran quotes the arguments back: it is as trusted as they are.
  if (result.status == ToolStatus::invalid_input) return st.arg_labels.whole();
  if (result.label) return *result.label;
  const ToolSpec* spec = tools.find(st.step.tool);
  Label label;
  label.trusted = spec != nullptr && spec->trusted_output;
  if (spec != nullptr && !spec->output_level.empty()) label.levels.push_back(spec->output_level);
  if (!label.is_plain()) label.sources.push_back("tool:" + st.step.tool);
  return label;
}

}  // namespace rein::detail
