// Memory: inserting an item, keyword recall over 10k / 100k / 1M items, and exact vector top-10
// over 100,000 vectors of 384 floats.
//
// The corpus is synthetic text with a Zipf-like word distribution (50,000 words; forty words an
// item). Recall queries are two words drawn uniformly from the vocabulary below its 100 most
// frequent words (those act like stop words); each recall is MemoryManager::recall with LIMIT 10
// (candidates 10, top_k 10), so it includes fetching the items, ranking and budget packing.
#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "benchmarks.hpp"
#include "harness.hpp"
#include "rein/memory.hpp"
#include "rein/memory_manager.hpp"

namespace rein::bench {

namespace {

constexpr std::size_t kVocabulary = 50'000;
constexpr std::size_t kWordsPerItem = 40;

std::string word(std::size_t rank) {
  // Letters only, so each is one FTS5 token: rank in base 26, prefixed to look like a word.
  std::string w = "w";
  do {
    w.push_back(static_cast<char>('a' + rank % 26));
    rank /= 26;
  } while (rank > 0);
  return w;
}

// Zipf(1) ranks by inverse transform over the harmonic CDF, approximated by exp(u·ln V).
std::size_t zipf_rank(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const auto r =
      static_cast<std::size_t>(std::exp(u(rng) * std::log(static_cast<double>(kVocabulary)))) - 1;
  return std::min(r, kVocabulary - 1);
}

std::string item_text(std::mt19937_64& rng) {
  std::string text;
  for (std::size_t i = 0; i < kWordsPerItem; ++i) {
    if (i) text.push_back(' ');
    text += word(zipf_rank(rng));
  }
  return text;
}

std::filesystem::path cache_dir() {
  if (const char* dir = std::getenv("REIN_BENCH_CACHE"); dir != nullptr && *dir != '\0') return dir;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::current_path() : exe.parent_path()) / "bench-cache";
}

// A memory of `items` items under bench-cache/, built once and reused while its count matches.
std::shared_ptr<MemoryManager> corpus(std::size_t items, std::size_t dim) {
  std::filesystem::create_directories(cache_dir());
  const auto path = cache_dir() / ("memory_" + std::to_string(items) +
                                   (dim ? "_" + std::to_string(dim) : "") + ".db");
  MemoryOptions options;
  if (dim > 0) {
    options.embed = [dim](std::string_view text) -> Result<std::vector<float>> {
      std::mt19937_64 rng(std::hash<std::string_view>{}(text));
      std::normal_distribution<float> n(0.0f, 1.0f);
      std::vector<float> v(dim);
      for (auto& x : v)
        x = n(rng);
      return v;
    };
  }
  {
    auto existing = MemoryManager::open(path, options);
    if (existing && *(*existing)->count() == items) return *existing;
  }
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path.string() + suffix);
  std::fprintf(stderr, "rein_bench: building %s (once; cached for later runs)\n", path.c_str());
  auto memory = MemoryManager::open(path, options);
  if (!memory) std::abort();
  std::mt19937_64 rng(items);
  std::vector<MemoryRecord> batch;
  for (std::size_t i = 0; i < items; ++i) {
    MemoryRecord r;
    r.ns = "bench";
    r.content = item_text(rng) + " n" + std::to_string(i);  // unique
    r.source = "bench";
    batch.push_back(std::move(r));
    if (batch.size() == 10'000 || i + 1 == items) {
      if (!(*memory)->remember_all(batch)) std::abort();
      batch.clear();
    }
  }
  return *memory;
}

std::function<void()> keyword_recall(std::size_t items) {
  auto state =
      std::make_shared<std::pair<std::shared_ptr<MemoryManager>, std::vector<std::string>>>();
  auto next = std::make_shared<std::size_t>(0);
  return [state, next, items] {
    if (!state->first) {
      state->first = corpus(items, 0);
      std::mt19937_64 rng(42);
      std::uniform_int_distribution<std::size_t> rank(100, kVocabulary - 1);
      for (int i = 0; i < 1000; ++i)
        state->second.push_back(word(rank(rng)) + " " + word(rank(rng)));
    }
    RecallQuery q;
    q.text = state->second[(*next)++ % state->second.size()];
    q.candidates = 10;
    q.top_k = 10;
    q.budget_tokens = 100'000;
    auto r = state->first->recall(q);
    keep(r);
  };
}

Options slow() {
  return slow_options(200, 3);
}

}  // namespace

void add_memory_benchmarks(std::vector<Benchmark>& out) {
  out.push_back({"memory_insert",
                 [] {
                   static std::shared_ptr<MemoryManager> memory;
                   static std::mt19937_64 rng(7);
                   static std::size_t n = 0;
                   if (!memory) {
                     const auto path = cache_dir() / "memory_insert.db";  // fresh each run
                     std::filesystem::create_directories(cache_dir());
                     for (const char* s : {"", "-wal", "-shm"})
                       std::filesystem::remove(path.string() + s);
                     memory = *MemoryManager::open(path);
                   }
                   MemoryRecord r;
                   r.content = item_text(rng) + " i" + std::to_string(n++);
                   auto id = memory->remember(r);
                   keep(id);
                 },
                 slow()});
  out.push_back({"memory_recall_fts_10k", keyword_recall(10'000), slow()});
  out.push_back({"memory_recall_fts_100k", keyword_recall(100'000), slow()});
  out.push_back({"memory_recall_fts_1m", keyword_recall(1'000'000), slow()});
  out.push_back({"memory_vector_top10_100k_384",
                 [] {
                   static std::shared_ptr<MemoryManager> memory;
                   static std::size_t n = 0;
                   if (!memory) memory = corpus(100'000, 384);
                   RecallQuery q;
                   q.text =
                       "query " + std::to_string(n++ % 1000);  // embedded to a fixed random vector
                   q.candidates = 10;
                   q.top_k = 10;
                   q.budget_tokens = 100'000;
                   q.weights = {.keyword = 0, .similarity = 1, .recency = 0, .confidence = 0};
                   auto r = memory->recall(q);
                   keep(r);
                 },
                 slow()});
}

}  // namespace rein::bench
