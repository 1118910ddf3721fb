#include "critic.hpp"

#include <cmath>
#include <map>

namespace sunglasses {
namespace {

using nlohmann::json;

bool near(double a, double b) {
  return std::fabs(a - b) < 0.005;
}

int sentence_count(const std::string& text) {
  int count = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '.' || c == '!' || c == '?') && (i + 1 == text.size() || text[i + 1] == ' ')) ++count;
  }
  return std::max(count, text.empty() ? 0 : 1);
}

// The yield: one row with status and answer_text (column names compared case-insensitively).
void check_yield(const rein::SqlOutcome& outcome, std::vector<std::string>& problems,
                 std::string& status) {
  if (!outcome.result.is_array() || outcome.result.size() != 1) {
    problems.push_back(
        "the plan's last statement must yield exactly one row (status, answer_text); it yielded " +
        std::to_string(outcome.result.size()));
    return;
  }
  const json row = yield_row(outcome);
  if (!row.contains("status") || !row["status"].is_string() ||
      !is_known_status(row["status"].get<std::string>())) {
    problems.push_back(
        "status must be one of success, no_match, insufficient_stock, invalid_request, "
        "unsupported_intent; got " +
        (row.contains("status") ? row["status"].dump() : "nothing"));
  } else {
    status = row["status"].get<std::string>();
  }
  if (!row.contains("answer_text") || !row["answer_text"].is_string() ||
      row["answer_text"].get<std::string>().empty()) {
    problems.push_back("answer_text is missing or empty");
    return;
  }
  const std::string answer = row["answer_text"].get<std::string>();
  if (answer.size() > 300 || sentence_count(answer) > 2) {
    problems.push_back("answer_text must be one or two short sentences (" +
                       std::to_string(answer.size()) + " characters, " +
                       std::to_string(sentence_count(answer)) + " sentences)");
  }
}

bool number(const json& row, const char* column, double& out) {
  if (!row.is_object() || !row.contains(column) || !row[column].is_number()) return false;
  out = row[column].get<double>();
  return true;
}

}  // namespace

json yield_row(const rein::SqlOutcome& outcome) {
  if (!outcome.result.is_array() || outcome.result.size() != 1) return nullptr;
  json row = json::object();
  for (const auto& [key, value] : outcome.result[0].items()) {
    std::string name = key;
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    row[name] = value;
  }
  return row;
}

bool is_known_status(const std::string& status) {
  return status == "success" || status == "no_match" || status == "insufficient_stock" ||
         status == "invalid_request" || status == "unsupported_intent";
}

std::vector<std::string> store_invariant_violations(const rein::SqlOutcome& outcome,
                                                    rein::SqlSandbox& sandbox) {
  std::vector<std::string> problems;
  std::string status;
  check_yield(outcome, problems, status);
  if (outcome.intent == rein::SqlIntent::read && !outcome.changes.empty()) {
    problems.push_back("a read plan changed " + std::to_string(outcome.changes.size()) + " rows");
  }
  if (!status.empty() && status != "success" && !outcome.changes.empty()) {
    problems.push_back("status is " + status + " but the plan changed " +
                       std::to_string(outcome.changes.size()) +
                       " rows; only a successful plan may change anything");
  }

  // Inventory: only stock levels move, never below zero.
  struct StockMove {
    std::string item_id;
    std::string name;
    double delta = 0;
    double price = 0;
    double booked = 0;  // sum of the new transactions naming it
  };
  std::map<std::string, StockMove> moves;
  std::vector<json> inserted;
  for (const auto& change : outcome.changes) {
    if (change.table == "inventory") {
      if (change.op != rein::SqlRowChange::Op::update) {
        problems.push_back("inventory rows may only be updated, not " +
                           std::string(rein::to_string(change.op)) + "d");
        continue;
      }
      for (const auto& column : change.changed_columns) {
        if (column != "quantity_in_stock")
          problems.push_back("inventory." + column + " must not change");
      }
      double before = 0;
      double after = 0;
      double price = 0;
      if (!number(change.before, "quantity_in_stock", before) ||
          !number(change.after, "quantity_in_stock", after) ||
          !number(change.after, "price", price)) {
        problems.push_back("inventory row " + change.after.value("item_id", "?") +
                           " has a non-numeric stock or price");
        continue;
      }
      if (after < 0)
        problems.push_back("stock of " + change.after.value("item_id", "?") +
                           " would be negative (" + std::to_string(static_cast<long long>(after)) +
                           ")");
      const std::string id = change.after.value("item_id", "");
      moves[id] = {id, change.after.value("name", ""), after - before, price, 0};
    } else if (change.table == "transactions") {
      if (change.op != rein::SqlRowChange::Op::insert) {
        problems.push_back("transactions are append-only; a plan " +
                           std::string(rein::to_string(change.op)) + "d " +
                           change.before.value("transaction_id", "?"));
        continue;
      }
      inserted.push_back(change.after);
    } else {
      problems.push_back("the plan changed table " + change.table);
    }
  }
  if (auto negative =
          sandbox.inspect("SELECT count(*) AS n FROM inventory WHERE quantity_in_stock < 0");
      !negative || (*negative)[0]["n"].get<std::int64_t>() != 0) {
    problems.push_back("the inventory would hold negative stock");
  }
  if (status == "success" && outcome.intent == rein::SqlIntent::mutate &&
      (moves.empty() || inserted.empty())) {
    problems.push_back("a successful mutation must change stock and record its transactions");
  }

  // One transaction per item line: each new row names exactly one moved item, and each item's
  // rows add up to unit price x the units that left (purchase) or came back (return).
  for (const auto& row : inserted) {
    const std::string id = row.value("transaction_id", "?");
    const std::string summary =
        row.contains("transaction_summary") && row["transaction_summary"].is_string()
            ? row["transaction_summary"].get<std::string>()
            : "";
    double amount = 0;
    double balance = 0;
    if (!number(row, "transaction_amount", amount) ||
        !number(row, "balance_after_transaction", balance)) {
      problems.push_back("transaction " + id + " has a non-numeric amount or balance");
      continue;
    }
    if (!row.contains("timestamp") || !row["timestamp"].is_string() ||
        row["timestamp"].get<std::string>().empty()) {
      problems.push_back("transaction " + id + " has no timestamp");
    }
    std::vector<StockMove*> named;
    for (auto& [item, move] : moves) {
      if (summary.find(item) != std::string::npos) named.push_back(&move);
    }
    if (named.size() != 1) {
      problems.push_back("transaction " + id +
                         " must name exactly one item whose stock changed (it names " +
                         std::to_string(named.size()) + "): one transaction per item line");
      continue;
    }
    named[0]->booked += amount;
  }
  for (const auto& [item, move] : moves) {
    const double expected = -move.delta * move.price;
    if (!near(move.booked, expected)) {
      problems.push_back("stock of " + item + " changed by " +
                         std::to_string(static_cast<long long>(move.delta)) + " at $" +
                         std::to_string(move.price) + " but its transactions add up to " +
                         std::to_string(move.booked) + " instead of " + std::to_string(expected));
    }
  }

  // The running balance continues row by row from the last balance before the plan.
  if (!inserted.empty()) {
    auto tail = sandbox.inspect(
        "SELECT transaction_id, transaction_amount, balance_after_transaction FROM transactions "
        "ORDER BY rowid DESC LIMIT :n",
        {{"n", static_cast<std::int64_t>(inserted.size() + 1)}});
    if (!tail || tail->size() != inserted.size() + 1) {
      problems.push_back("cannot read the balance before the plan");
    } else {
      std::vector<json> rows(tail->rbegin(), tail->rend());
      double balance = 0;
      if (!number(rows[0], "balance_after_transaction", balance))
        problems.push_back("the previous balance is not a number");
      for (std::size_t i = 1; i < rows.size(); ++i) {
        const std::string id = rows[i].value("transaction_id", "?");
        const bool is_new = std::any_of(inserted.begin(), inserted.end(), [&](const json& r) {
          return r.value("transaction_id", "") == id;
        });
        double amount = 0;
        double after = 0;
        if (!is_new) {
          problems.push_back("new transactions must be appended after " +
                             rows[0].value("transaction_id", "?"));
          break;
        }
        if (!number(rows[i], "transaction_amount", amount) ||
            !number(rows[i], "balance_after_transaction", after))
          break;
        if (!near(after, balance + amount)) {
          problems.push_back("transaction " + id + ": balance " + std::to_string(after) +
                             " should be " + std::to_string(balance + amount) +
                             " (previous balance + amount)");
        }
        balance = after;
      }
    }
  }
  return problems;
}

}  // namespace sunglasses
