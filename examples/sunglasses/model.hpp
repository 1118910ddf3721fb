// The offline store model: a deterministic stand-in for an LLM that reads the request out of
// the plan-as-code prompt and answers with a commented SQL plan inside <execute_sql> tags.
//
// It parses intent (browse, purchase, return, out-of-scope), item lines with quantities in
// digits or words, a customer name, price filters (under, over, between), shape and keyword
// filters, and stock questions. Every fact in the answer is computed by the SQL from the
// tables, never by this code: the plan is the program.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rein/llm.hpp>

namespace sunglasses {

struct ItemLine {
  std::string wanted;  // the style asked for, lower case ("classic", "retro square")
  long quantity = 0;
};

struct StoreRequest {
  enum class Kind { browse, purchase, give_back, unsupported, invalid };
  Kind kind = Kind::browse;
  std::vector<ItemLine> lines;        // purchase and return
  std::string customer;               // purchase and return ("" when not named)
  std::vector<std::string> keywords;  // browse: words that must appear in name or description
  std::optional<double> min_price;
  std::optional<double> max_price;
  bool in_stock = false;  // the request restricts to items in stock
  std::string verb;       // unsupported: what was asked ("refurbish"); invalid: "purchase"/"return"
};

StoreRequest parse_request(std::string_view text);

// The SQL plan for a parsed request, wrapped in <execute_sql> tags.
std::string plan_for(const StoreRequest& request);

// An LlmCallback answering plan-as-code prompts built by build_prompt().
rein::LlmCallback builtin_store_model();

}  // namespace sunglasses
