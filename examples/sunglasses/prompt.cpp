#include "prompt.hpp"

namespace sunglasses {
namespace {
constexpr std::string_view kRequestMarker = "\nUser request:\n";
}

const char* const kSystemPrompt =
    "You write safe, well-commented SQLite plans that answer a sunglasses store's customers.";

std::string build_prompt(std::string_view schema_block, std::string_view request) {
  std::string prompt = R"(You are a senior data assistant. PLAN BY WRITING SQL (SQLite).

Database schema and rows (read-only view):
)";
  prompt += schema_block;
  prompt += R"(
Execution environment:
- Your SQL runs in a sandbox, statement by statement, inside one transaction that is verified
  before it is committed. Only the tables above exist for you.
- Named parameters you may use: :now (ISO-8601 time of the request), :user_request (the text).

PLANNING RULES (critical):
- Derive ALL filters and parameters from the user request (shape or keywords in name or
  description, price ranges "under/over/between", stock mentions, quantities, buy/return intent).
  Do NOT hard-code answers: compute them from the tables.
- Be conservative: if the intent is ambiguous, write a read plan.

TRANSACTION POLICY (hard):
- Do NOT create aggregated multi-item transactions: one transactions row PER ITEM line.
- For each item: line total = unit price * quantity; insert ONE transaction with that amount
  (negative for a return); balance_after_transaction = previous balance + amount, in order;
  update that item's quantity_in_stock.
- transaction_summary names the item's item_id, e.g. 'Purchase 3 x Classic (SG005)'.
- New transaction ids continue the sequence (TXN002, TXN003, ...). timestamp = :now.
- If any requested item lacks sufficient stock, change NOTHING and yield insufficient_stock.

ACTION POLICY:
- Declare the intent on its own line: "-- intent: mutate" when the request clearly asks to
  change state (buy, purchase, return), otherwise "-- intent: read". A read plan cannot write.

OUTPUT CONTRACT:
- Return ONLY SQL between these tags, as numbered steps with a comment above each statement:
  <execute_sql>
  -- intent: read
  -- 1. ...
  SELECT ...;
  </execute_sql>
- The LAST statement yields exactly one row with two columns:
  status: one of 'success', 'no_match', 'insufficient_stock', 'invalid_request', 'unsupported_intent'
  answer_text: one or two short, customer-friendly sentences (no tables, no technical details).
- no_match: suggest the closest style or price. insufficient_stock: say how many are available.
  invalid_request: ask for the missing piece (e.g. the quantity). unsupported_intent: offer the
  nearest supported alternative.

TONE EXAMPLES (answer_text):
- success: "Yes, we have our Classic sunglasses, a round frame, for $60."
- no_match: "We don't have round frames under $100 in stock right now, but our Moon round frame is available at $120."
- insufficient_stock: "We only have 1 pair of Classic left; I can reserve that for you."
- invalid_request: "I can help with that. How many pairs would you like to purchase?"
- unsupported_intent: "We can't refurbish frames, but I can suggest similar new models."
)";
  prompt += kRequestMarker;
  prompt += request;
  prompt += "\n";
  return prompt;
}

std::string request_of_prompt(std::string_view prompt) {
  const auto at = prompt.rfind(kRequestMarker);
  if (at == std::string_view::npos) return {};
  std::string_view request = prompt.substr(at + kRequestMarker.size());
  while (!request.empty() && (request.back() == '\n' || request.back() == ' '))
    request.remove_suffix(1);
  return std::string(request);
}

}  // namespace sunglasses
