// The concurrent-runs workload of rein_bench (concurrent_runs_1k / _10k) in LangGraph.js:
// N runs at once in one process, each two model turns of 200 ms and one round of two parallel
// 50 ms tool calls (ideal wall time 450 ms). The model is a stand-in that calls both tools,
// then answers with the sum of their values; every answer is checked.
//
//   node langgraph_concurrent.mjs RUNS      prints {"wall_ms", "ideal_ms", "peak_rss_mb", ...}
import { readFileSync } from "node:fs";
import { AIMessage, ToolMessage, HumanMessage } from "@langchain/core/messages";
import { StateGraph, MessagesAnnotation, START, END } from "@langchain/langgraph";

const THINK_MS = 200;
const WORK_MS = 50;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function model(state) {
  await sleep(THINK_MS);
  const results = state.messages.filter((m) => m instanceof ToolMessage);
  if (results.length === 0) {
    return {
      messages: [
        new AIMessage({
          content: "",
          tool_calls: [
            { id: "a", name: "data_a", args: { n: 1 } },
            { id: "b", name: "data_b", args: { n: 2 } },
          ],
        }),
      ],
    };
  }
  const sum = results.reduce((total, m) => total + JSON.parse(m.content).value, 0);
  return { messages: [new AIMessage({ content: JSON.stringify({ sum }) })] };
}

async function tools(state) {
  const last = state.messages[state.messages.length - 1];
  const done = await Promise.all(
    last.tool_calls.map(async (call) => {
      await sleep(WORK_MS);
      return new ToolMessage({ content: JSON.stringify({ value: call.args.n }), tool_call_id: call.id });
    }),
  );
  return { messages: done };
}

const graph = new StateGraph(MessagesAnnotation)
  .addNode("model", model)
  .addNode("tools", tools)
  .addEdge(START, "model")
  .addConditionalEdges("model", (state) => (state.messages.at(-1).tool_calls?.length ? "tools" : END))
  .addEdge("tools", "model")
  .compile();

function peakRssMb() {
  const line = readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith("VmHWM:"));
  return Number(line.split(/\s+/)[1]) / 1024;
}

const runs = Number(process.argv[2] ?? 1000);
const start = performance.now();
const outcomes = await Promise.all(
  Array.from({ length: runs }, (_, i) =>
    graph.invoke({ messages: [new HumanMessage("add the values")] }, { configurable: { thread_id: `run-${i}` } }),
  ),
);
const wall = performance.now() - start;
const failed = outcomes.filter((o) => JSON.parse(o.messages.at(-1).content).sum !== 3).length;
console.log(JSON.stringify({ wall_ms: wall, ideal_ms: 450, peak_rss_mb: peakRssMb(), runs, failed }));
