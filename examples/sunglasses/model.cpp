#include "model.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "prompt.hpp"

namespace sunglasses {
namespace {

struct Token {
  std::string text;   // as written
  std::string lower;  // lower case
  enum class Kind { word, number, money, punct } kind = Kind::word;
  double value = 0;  // number and money
};

std::vector<Token> tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isspace(c)) {
      ++i;
    } else if (c == '$' || std::isdigit(c)) {
      const bool money = c == '$';
      std::size_t j = money ? i + 1 : i;
      const std::size_t digits = j;
      while (j < text.size() &&
             (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == ',' ||
              (text[j] == '.' && j + 1 < text.size() &&
               std::isdigit(static_cast<unsigned char>(text[j + 1]))))) {
        ++j;
      }
      std::string number;
      for (std::size_t k = digits; k < j; ++k) {
        if (text[k] != ',') number += text[k];
      }
      if (number.empty()) {
        ++i;
        continue;
      }
      Token t{std::string(text.substr(i, j - i)), "",
              money ? Token::Kind::money : Token::Kind::number,
              std::min(1e9, std::stod(number.substr(0, 12)))};
      t.lower = t.text;
      tokens.push_back(std::move(t));
      i = j;
    } else if (std::isalpha(c) || c == '\'') {
      std::size_t j = i;
      while (j < text.size() && (std::isalpha(static_cast<unsigned char>(text[j])) ||
                                 text[j] == '\'' || text[j] == '-'))
        ++j;
      Token t{std::string(text.substr(i, j - i)), "", Token::Kind::word, 0};
      for (char ch : t.text)
        t.lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      tokens.push_back(std::move(t));
      i = j;
    } else {
      tokens.push_back({std::string(1, text[i]), std::string(1, text[i]), Token::Kind::punct, 0});
      ++i;
    }
  }
  // "100 dollars" is money too.
  for (std::size_t k = 0; k + 1 < tokens.size(); ++k) {
    if (tokens[k].kind == Token::Kind::number &&
        (tokens[k + 1].lower == "dollars" || tokens[k + 1].lower == "usd")) {
      tokens[k].kind = Token::Kind::money;
    }
  }
  return tokens;
}

const std::map<std::string, long>& number_words() {
  static const std::map<std::string, long> words = {
      {"one", 1},     {"two", 2},     {"three", 3},  {"four", 4}, {"five", 5},
      {"six", 6},     {"seven", 7},   {"eight", 8},  {"nine", 9}, {"ten", 10},
      {"eleven", 11}, {"twelve", 12}, {"dozen", 12}, {"zero", 0}, {"single", 1}};
  return words;
}

bool in(const std::set<std::string>& set, const std::string& word) {
  return set.count(word) != 0;
}

const std::set<std::string> kProductNouns = {"sunglasses", "sunglass", "glasses", "shades",
                                             "frames",     "frame",    "pair",    "pairs",
                                             "style",      "styles",   "model",   "models"};
const std::set<std::string> kLineStops = {
    "and",  "for", "i",    "please", "that", "which", "from", "to",      "last",
    "this", "at",  "with", "by",     "so",   "but",   "if",   "because", "in",
    "on",   "we",  "you",  "my",     "me",   "under", "over", "today",   "now"};
const std::set<std::string> kFillers = {"pair", "pairs", "of",   "the", "our",
                                        "your", "x",     "more", "new"};
const std::set<std::string> kStopwords = {
    "do",       "does",      "you",        "have",    "has",        "any",       "in",
    "stock",    "that",      "are",        "is",      "under",      "over",      "below",
    "above",    "than",      "less",       "more",    "between",    "and",       "or",
    "the",      "a",         "an",         "of",      "for",        "with",      "what",
    "which",    "how",       "many",       "much",    "there",      "your",      "our",
    "some",     "show",      "me",         "i",       "i'm",        "want",      "to",
    "looking",  "look",      "find",       "need",    "would",      "like",      "cost",
    "costs",    "price",     "priced",     "prices",  "dollars",    "available", "can",
    "could",    "please",    "something",  "kind",    "type",       "sell",      "carry",
    "got",      "left",      "still",      "all",     "see",        "list",      "at",
    "least",    "most",      "up",         "cheaper", "pricier",    "within",    "max",
    "maximum",  "minimum",   "from",       "it",      "they",       "them",      "its",
    "be",       "any",       "pairs",      "pair",    "hi",         "hello",     "hey",
    "thanks",   "thank",     "on",         "sale",    "currently",  "right",     "now",
    "today",    "we",        "my",         "is",      "it's",       "there's",   "usd",
    "cheap",    "expensive", "good",       "nice",    "which",      "options",   "option",
    "anything", "something", "everything", "else",    "sunglasses", "glasses",   "shades",
    "got",      "sell"};

std::string stem(std::string word) {
  if (word.size() > 4 && word.back() == 's' && word[word.size() - 2] != 's') word.pop_back();
  return word;
}

std::string sql_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string format_amount(double value) {
  char buffer[32];
  if (value == static_cast<double>(static_cast<long long>(value))) {
    std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(value));
  } else {
    std::snprintf(buffer, sizeof buffer, "%.2f", value);
  }
  return buffer;
}

// SQL for a dollar amount as the tone examples write it: $60, $59.50.
std::string money_sql(const std::string& expr) {
  return "printf('$%s', CASE WHEN " + expr + " = CAST(" + expr + " AS INTEGER) THEN CAST(CAST(" +
         expr + " AS INTEGER) AS TEXT) ELSE printf('%.2f', " + expr + ") END)";
}

// Whole-word match of `word` in name and description, punctuation ignored.
std::string word_match_sql(std::string word) {
  std::replace(word.begin(), word.end(), '-', ' ');
  return "(' ' || replace(replace(replace(lower(name || ' ' || description), ',', ' '), '.', ' '), "
         "'-', ' ') || ' ') "
         "LIKE " +
         sql_literal("% " + word + " %");
}

std::string unsupported_verb(const std::vector<Token>& tokens) {
  static const std::map<std::string, std::string> verbs = {{"repair", "repair"},
                                                           {"repaired", "repair"},
                                                           {"fix", "repair"},
                                                           {"fixed", "repair"},
                                                           {"refurbish", "refurbish"},
                                                           {"refurbished", "refurbish"},
                                                           {"refurbishing", "refurbish"},
                                                           {"engrave", "engrave"},
                                                           {"engraving", "engrave"},
                                                           {"engraved", "engrave"},
                                                           {"tint", "tint"},
                                                           {"resize", "resize"},
                                                           {"rent", "rent"},
                                                           {"rental", "rent"},
                                                           {"polish", "polish"}};
  for (const auto& t : tokens) {
    const auto it = verbs.find(t.lower);
    if (it != verbs.end()) return it->second;
  }
  return {};
}

std::string customer_of(const std::vector<Token>& tokens) {
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    std::size_t at = i + 1;
    if (tokens[i].lower == "for" || tokens[i].lower == "customer") {
      if (tokens[i].lower == "for" && tokens[at].lower == "customer") ++at;
    } else if (tokens[i].lower == "is" && i > 0 && tokens[i - 1].lower == "name") {
    } else {
      continue;
    }
    std::string name;
    for (std::size_t k = at; k < tokens.size() && k < at + 2; ++k) {
      const Token& t = tokens[k];
      if (t.kind != Token::Kind::word || !std::isupper(static_cast<unsigned char>(t.text[0])) ||
          t.lower == "i")
        break;
      name += (name.empty() ? "" : " ") + t.text;
    }
    if (!name.empty()) return name;
  }
  return {};
}

std::optional<long> quantity_at(const std::vector<Token>& tokens, std::size_t i,
                                std::size_t* next) {
  const Token& t = tokens[i];
  *next = i + 1;
  if (t.kind == Token::Kind::number) {
    if (t.text.find('.') != std::string::npos) return std::nullopt;
    return static_cast<long>(t.value);
  }
  if (t.kind != Token::Kind::word) return std::nullopt;
  if (const auto it = number_words().find(t.lower); it != number_words().end()) return it->second;
  if ((t.lower == "a" || t.lower == "an") && i + 1 < tokens.size()) {
    if (tokens[i + 1].lower == "pair") return 1;
    if (tokens[i + 1].lower == "couple") {
      *next = i + 2;
      return 2;
    }
    if (tokens[i + 1].lower == "dozen") {
      *next = i + 2;
      return 12;
    }
  }
  return std::nullopt;
}

std::vector<ItemLine> item_lines(const std::vector<Token>& tokens) {
  std::vector<ItemLine> lines;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::size_t k = 0;
    const auto quantity = quantity_at(tokens, i, &k);
    if (!quantity) continue;
    std::string wanted;
    while (k < tokens.size() && tokens[k].kind == Token::Kind::word &&
           in(kFillers, tokens[k].lower))
      ++k;
    while (k < tokens.size() && tokens[k].kind == Token::Kind::word &&
           !in(kLineStops, tokens[k].lower) && !in(kProductNouns, tokens[k].lower) &&
           wanted.size() < 40) {
      wanted += (wanted.empty() ? "" : " ") + tokens[k].lower;
      ++k;
    }
    lines.push_back({stem(wanted), *quantity});
    i = k == 0 ? i : k - 1;
  }
  return lines;
}

void price_filters(const std::vector<Token>& tokens, StoreRequest& request) {
  static const std::set<std::string> below = {"under", "below",   "less", "cheaper", "within",
                                              "max",   "maximum", "most", "to"};
  static const std::set<std::string> above = {"over",    "above",   "more", "least",
                                              "minimum", "pricier", "from"};
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].kind != Token::Kind::money) continue;
    // "between $50 and $100", "$50 to $100", "$50-$100"
    if (i + 2 < tokens.size() && tokens[i + 2].kind == Token::Kind::money &&
        (tokens[i + 1].lower == "and" || tokens[i + 1].lower == "to" ||
         tokens[i + 1].lower == "-")) {
      request.min_price = std::min(tokens[i].value, tokens[i + 2].value);
      request.max_price = std::max(tokens[i].value, tokens[i + 2].value);
      return;
    }
    for (std::size_t back = 1; back <= 3 && back <= i; ++back) {
      const std::string& word = tokens[i - back].lower;
      if (in(below, word)) {
        request.max_price = tokens[i].value;
        break;
      }
      if (in(above, word)) {
        request.min_price = tokens[i].value;
        break;
      }
    }
  }
}

}  // namespace

StoreRequest parse_request(std::string_view text) {
  const std::vector<Token> tokens = tokenize(text);
  StoreRequest request;
  auto has = [&](std::initializer_list<std::string_view> words) {
    return std::any_of(tokens.begin(), tokens.end(), [&](const Token& t) {
      return std::find(words.begin(), words.end(), t.lower) != words.end();
    });
  };
  if (std::string verb = unsupported_verb(tokens); !verb.empty()) {
    request.kind = StoreRequest::Kind::unsupported;
    request.verb = std::move(verb);
  } else if (has({"return", "returning", "refund", "returned"})) {
    request.kind = StoreRequest::Kind::give_back;
  } else if (has({"buy", "purchase", "order", "take", "buying", "purchasing"})) {
    request.kind = StoreRequest::Kind::purchase;
  }
  if (request.kind == StoreRequest::Kind::purchase ||
      request.kind == StoreRequest::Kind::give_back) {
    const std::string verb = request.kind == StoreRequest::Kind::purchase ? "purchase" : "return";
    request.lines = item_lines(tokens);
    request.customer = customer_of(tokens);
    const bool bad_quantity =
        std::any_of(request.lines.begin(), request.lines.end(),
                    [](const ItemLine& l) { return l.quantity <= 0 || l.quantity > 1000; });
    const bool no_style = std::any_of(request.lines.begin(), request.lines.end(),
                                      [](const ItemLine& l) { return l.wanted.empty(); });
    if (request.lines.empty() || bad_quantity) {
      request.kind = StoreRequest::Kind::invalid;
      request.verb = verb;
    } else if (no_style) {
      request.kind = StoreRequest::Kind::invalid;
      request.verb = verb + "-style";
    }
    return request;
  }
  price_filters(tokens, request);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.lower == "stock" || t.lower == "available" || t.lower == "left") request.in_stock = true;
    if (t.kind != Token::Kind::word || t.lower.size() < 3 || in(kStopwords, t.lower) ||
        in(kProductNouns, t.lower)) {
      continue;
    }
    if (number_words().count(t.lower) != 0) continue;
    const std::string word = stem(t.lower);
    if (std::find(request.keywords.begin(), request.keywords.end(), word) ==
            request.keywords.end() &&
        request.keywords.size() < 4) {
      request.keywords.push_back(word);
    }
  }
  return request;
}

namespace {

std::string describe_filters(const StoreRequest& r, bool frames) {
  std::string text;
  for (const auto& k : r.keywords)
    text += k + " ";
  text += frames ? "frames" : "styles";
  if (r.min_price && r.max_price) {
    text += " between $" + format_amount(*r.min_price) + " and $" + format_amount(*r.max_price);
  } else if (r.max_price) {
    text += " under $" + format_amount(*r.max_price);
  } else if (r.min_price) {
    text += " over $" + format_amount(*r.min_price);
  }
  if (r.in_stock && frames) text += " in stock";
  return text;
}

std::string browse_plan(const StoreRequest& r) {
  std::vector<std::string> conditions;
  for (const auto& k : r.keywords)
    conditions.push_back(word_match_sql(k));
  if (r.min_price) conditions.push_back("price >= " + format_amount(*r.min_price));
  if (r.max_price) conditions.push_back("price <= " + format_amount(*r.max_price));
  if (r.in_stock) conditions.push_back("quantity_in_stock > 0");
  std::string where = "1";
  for (std::size_t i = 0; i < conditions.size(); ++i)
    where = i == 0 ? conditions[i] : where + "\n  AND " + conditions[i];
  std::string style = "1";
  for (std::size_t i = 0; i < r.keywords.size(); ++i) {
    style =
        i == 0 ? word_match_sql(r.keywords[i]) : style + " AND " + word_match_sql(r.keywords[i]);
  }
  const double target = r.max_price ? *r.max_price : r.min_price ? *r.min_price : 0.0;
  // ", a round frame" unless the style is the item's name.
  std::string shape = "''";
  if (!r.keywords.empty()) {
    std::string words;
    for (const auto& k : r.keywords)
      words += (words.empty() ? "" : " ") + k;
    shape = "CASE WHEN instr(lower(name), " + sql_literal(words) + ") > 0 THEN '' ELSE " +
            sql_literal(", a " + words + " frame") + " END";
  }
  std::string plan = "<execute_sql>\n-- intent: read\n";
  plan += "-- Filters taken from the request: " + describe_filters(r, true) + ".\n";
  plan += "-- 1. Find the matching items (the evidence for the answer).\n";
  plan += "SELECT item_id, name, description, quantity_in_stock, price\nFROM inventory\nWHERE " +
          where + "\nORDER BY price, item_id;\n\n";
  plan +=
      "-- 2. Yield STATUS and answer_text: the matches, or else the nearest alternative in stock\n";
  plan += "--    (same style first, then the closest price).\n";
  plan += "WITH matches AS (\n  SELECT name, quantity_in_stock, price FROM inventory\n  WHERE " +
          where +
          "\n  ORDER BY price, item_id),\nalternative AS (\n  SELECT name, price FROM inventory "
          "WHERE quantity_in_stock > 0\n"
          "  ORDER BY (" +
          style + ") DESC, abs(price - " + format_amount(target) + "), item_id LIMIT 1)\n";
  plan +=
      "SELECT CASE WHEN (SELECT count(*) FROM matches) > 0 THEN 'success' ELSE 'no_match' END AS "
      "status,\n";
  plan += "  CASE\n";
  plan +=
      "    WHEN (SELECT count(*) FROM matches) = 1 THEN (SELECT printf('Yes, we have our %s "
      "sunglasses%s, for %s%s.', name, " +
      shape + ", " + money_sql("price") +
      ", CASE WHEN quantity_in_stock > 0 THEN printf(' (%d in stock)', quantity_in_stock) ELSE ', "
      "but it is out of stock right now' END) FROM matches)\n";
  plan += "    WHEN (SELECT count(*) FROM matches) > 1 THEN (SELECT printf('Yes, we have %d " +
          describe_filters(r, false) + ": %s.', count(*), group_concat(name || ' at ' || " +
          money_sql("price") + ", ', ')) FROM matches)\n";
  plan += "    WHEN EXISTS (SELECT 1 FROM alternative) THEN (SELECT printf('We don''t have " +
          describe_filters(r, true) + " right now, but our %s is available at %s.', name, " +
          money_sql("price") + ") FROM alternative)\n";
  plan +=
      "    ELSE 'We don''t have anything like that right now; would you like to try another style "
      "or price range?'\n";
  plan += "  END AS answer_text;\n</execute_sql>\n";
  return plan;
}

std::string lines_cte(const StoreRequest& r, bool purchase) {
  std::string values;
  for (std::size_t i = 0; i < r.lines.size(); ++i) {
    values += (i == 0 ? "" : ", ") +
              ("(" + std::to_string(i + 1) + ", " + sql_literal(r.lines[i].wanted) + ", " +
               std::to_string(r.lines[i].quantity) + ")");
  }
  std::string cte = "WITH lines(line, wanted, qty) AS (VALUES " + values + "),\n";
  cte +=
      "resolved AS (\n  SELECT l.line, l.wanted, l.qty,\n"
      "    coalesce((SELECT item_id FROM inventory WHERE lower(name) = l.wanted ORDER BY item_id "
      "LIMIT 1),\n"
      "             (SELECT item_id FROM inventory WHERE (' ' || lower(name) || ' ') LIKE '% ' || "
      "l.wanted || ' %'\n"
      "              ORDER BY item_id LIMIT 1)) AS item_id\n  FROM lines l),\n";
  cte += "fillable AS (SELECT NOT EXISTS (SELECT 1 FROM resolved WHERE item_id IS NULL)";
  if (purchase) {
    cte +=
        "\n  AND NOT EXISTS (SELECT 1 FROM (SELECT item_id, sum(qty) AS total FROM resolved GROUP "
        "BY item_id) w\n"
        "                  JOIN inventory i ON i.item_id = w.item_id WHERE i.quantity_in_stock < "
        "w.total)";
  }
  return cte + " AS ok)\n";
}

std::string mutation_plan(const StoreRequest& r) {
  const bool purchase = r.kind == StoreRequest::Kind::purchase;
  const std::string customer = r.customer.empty() ? "Walk-in customer" : r.customer;
  const std::string cte = lines_cte(r, purchase);
  const std::string sign = purchase ? "" : "-";
  std::string request_text;
  for (std::size_t i = 0; i < r.lines.size(); ++i) {
    request_text += (i == 0 ? "" : ", ") + std::to_string(r.lines[i].quantity) + " x \"" +
                    r.lines[i].wanted + "\"";
  }
  std::string plan = "<execute_sql>\n-- intent: mutate\n";
  plan += std::string("-- ") + (purchase ? "Purchase" : "Return") + " of " + request_text +
          " for " + customer + ".\n";
  plan +=
      "-- Policy: one transaction row per item line, line total = unit price x quantity, balance\n"
      "-- updated in order, stock updated per item; if any line cannot be filled, nothing "
      "changes.\n";
  plan += std::string("-- 1. Resolve each line to an inventory item") +
          (purchase ? " and check its stock.\n" : ".\n");
  plan += cte +
          "SELECT r.line, r.wanted, r.qty, i.item_id, i.name, i.quantity_in_stock, i.price,\n"
          "  (SELECT ok FROM fillable) AS fillable\nFROM resolved r LEFT JOIN inventory i ON "
          "i.item_id = r.item_id\n"
          "ORDER BY r.line;\n\n";
  std::size_t step = 2;
  for (std::size_t i = 0; i < r.lines.size(); ++i, ++step) {
    plan += "-- " + std::to_string(step) + ". Line " + std::to_string(i + 1) +
            ": one transaction for " + std::to_string(r.lines[i].quantity) + " x \"" +
            r.lines[i].wanted + "\", balance = previous balance " + (purchase ? "+" : "-") +
            " line total (only if every line can be filled).\n";
    plan += cte +
            "INSERT INTO transactions (transaction_id, customer_name, transaction_summary, "
            "transaction_amount,\n"
            "                          balance_after_transaction, timestamp)\n"
            "SELECT printf('TXN%03d', coalesce((SELECT max(CAST(substr(transaction_id, 4) AS "
            "INTEGER)) FROM transactions), 0) + 1),\n"
            "       " +
            sql_literal(customer) +
            ",\n"
            "       printf('" +
            (purchase ? "Purchase" : "Return") +
            " %d x %s (%s)', r.qty, i.name, i.item_id),\n"
            "       round(" +
            sign +
            "i.price * r.qty, 2),\n"
            "       round((SELECT balance_after_transaction FROM transactions ORDER BY rowid DESC "
            "LIMIT 1) " +
            (purchase ? "+" : "-") +
            " i.price * r.qty, 2),\n"
            "       :now\n"
            "FROM resolved r JOIN inventory i ON i.item_id = r.item_id\n"
            "WHERE r.line = " +
            std::to_string(i + 1) + " AND (SELECT ok FROM fillable);\n\n";
  }
  plan += "-- " + std::to_string(step++) +
          ". Update the stock of every item once (only if every line can be filled).\n";
  plan += cte + "UPDATE inventory\nSET quantity_in_stock = quantity_in_stock " +
          (purchase ? "-" : "+") +
          " (SELECT sum(r.qty) FROM resolved r WHERE r.item_id = inventory.item_id)\n"
          "WHERE item_id IN (SELECT item_id FROM resolved) AND (SELECT ok FROM fillable);\n\n";
  plan += "-- " + std::to_string(step) +
          ". Yield STATUS and answer_text (changes() counts the rows the update changed).\n";
  plan += cte;
  plan +=
      "SELECT\n  CASE WHEN changes() > 0 THEN 'success'\n"
      "       WHEN EXISTS (SELECT 1 FROM resolved WHERE item_id IS NULL) THEN 'no_match'\n"
      "       ELSE 'insufficient_stock' END AS status,\n  CASE\n";
  if (purchase) {
    plan += "    WHEN changes() > 0 THEN (SELECT printf('Thank you" +
            (r.customer.empty() ? std::string() : ", " + r.customer) +
            "! Your order of %s is confirmed, %s in total.', group_concat(qty || ' ' || name, ' "
            "and '), " +
            money_sql("sum(total)") +
            ")\n      FROM (SELECT r.qty, i.name, r.qty * i.price AS total FROM resolved r JOIN "
            "inventory i ON i.item_id = r.item_id ORDER BY r.line))\n";
  } else {
    plan +=
        "    WHEN changes() > 0 THEN (SELECT printf('Your return of %s is complete; we have "
        "refunded %s.', "
        "group_concat(qty || ' ' || name, ' and '), " +
        money_sql("sum(total)") +
        ")\n      FROM (SELECT r.qty, i.name, r.qty * i.price AS total FROM resolved r JOIN "
        "inventory i ON i.item_id = r.item_id ORDER BY r.line))\n";
  }
  plan +=
      "    WHEN EXISTS (SELECT 1 FROM resolved WHERE item_id IS NULL) THEN\n"
      "      (SELECT printf('We don''t carry a style called %s, but our %s is available at %s.', "
      "r.wanted, a.name, " +
      money_sql("a.price") +
      ")\n"
      "       FROM (SELECT wanted FROM resolved WHERE item_id IS NULL ORDER BY line LIMIT 1) r,\n"
      "            (SELECT name, price FROM inventory WHERE quantity_in_stock > 0 ORDER BY "
      "quantity_in_stock DESC, item_id LIMIT 1) a)\n";
  if (purchase) {
    plan +=
        "    ELSE (SELECT CASE WHEN i.quantity_in_stock = 0\n"
        "                 THEN printf('We''re out of %s right now, so nothing was ordered; it is "
        "back soon.', i.name)\n"
        "                 ELSE printf('We only have %d %s of %s left; I can reserve %s for you.', "
        "i.quantity_in_stock,\n"
        "                             CASE WHEN i.quantity_in_stock = 1 THEN 'pair' ELSE 'pairs' "
        "END, i.name,\n"
        "                             CASE WHEN i.quantity_in_stock = 1 THEN 'that' ELSE 'those' "
        "END) END\n"
        "          FROM (SELECT item_id, sum(qty) AS total FROM resolved GROUP BY item_id) w\n"
        "          JOIN inventory i ON i.item_id = w.item_id WHERE i.quantity_in_stock < w.total "
        "ORDER BY i.item_id LIMIT 1)\n";
  }
  plan += "  END AS answer_text;\n</execute_sql>\n";
  return plan;
}

std::string fixed_answer_plan(const std::string& comment, const std::string& status,
                              const std::string& select_answer) {
  return "<execute_sql>\n-- intent: read\n-- 1. " + comment + "\nSELECT " + sql_literal(status) +
         " AS status, " + select_answer + " AS answer_text;\n</execute_sql>\n";
}

}  // namespace

std::string plan_for(const StoreRequest& r) {
  switch (r.kind) {
    case StoreRequest::Kind::browse:
      return browse_plan(r);
    case StoreRequest::Kind::purchase:
    case StoreRequest::Kind::give_back:
      return mutation_plan(r);
    case StoreRequest::Kind::invalid: {
      const bool style = r.verb.find("-style") != std::string::npos;
      const std::string verb = r.verb.substr(0, r.verb.find('-'));
      const std::string question = style ? "Which style would you like to " + verb + "?"
                                         : "How many pairs would you like to " + verb + "?";
      return fixed_answer_plan(std::string("The request lacks ") +
                                   (style ? "a style" : "a valid quantity") +
                                   ": ask for it and change nothing.",
                               "invalid_request", sql_literal("I can help with that. " + question));
    }
    case StoreRequest::Kind::unsupported:
      return "<execute_sql>\n-- intent: read\n-- 1. '" + r.verb +
             "' is not something the store does: offer the nearest supported alternative, a new "
             "model in stock.\n"
             "SELECT 'unsupported_intent' AS status,\n  printf('We can''t " +
             r.verb +
             " frames, but I can suggest similar new models, such as our %s at %s.', name, " +
             money_sql("price") +
             ") AS answer_text\nFROM inventory WHERE quantity_in_stock > 0 ORDER BY "
             "quantity_in_stock DESC, item_id LIMIT 1;\n"
             "</execute_sql>\n";
  }
  return {};
}

rein::LlmCallback builtin_store_model() {
  return [](const rein::LlmRequest& request) -> rein::Result<rein::LlmResponse> {
    // The customer's request is in the store prompt; later user turns (a rejected plan's
    // reasons) carry no new request, so the plan is made again from that prompt.
    std::string prompt;
    std::string text;
    for (const auto& m : request.messages) {
      if (m.role != "user") continue;
      if (prompt.empty()) prompt = m.content;
      if (std::string found = request_of_prompt(m.content); !found.empty()) {
        prompt = m.content;
        text = std::move(found);
      }
    }
    if (text.empty()) text = prompt;
    rein::LlmResponse response;
    response.content = plan_for(parse_request(text));
    response.finish_reason = "stop";
    response.model = "builtin-store-model";
    response.prompt_tokens = static_cast<std::int64_t>(prompt.size() / 4);
    response.completion_tokens = static_cast<std::int64_t>(response.content.size() / 4);
    return response;
  };
}

}  // namespace sunglasses
