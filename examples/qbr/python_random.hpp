// CPython's `random` module, bit for bit, for the parts the QBR notebook uses: MT19937 seeded
// the way random.seed(int) seeds it, getrandbits, randint (via _randbelow) and random().
// The notebook's numbers come from it, so the example reproduces them exactly.
#pragma once

#include <array>
#include <cstdint>

namespace qbr {

class PythonRandom {
 public:
  explicit PythonRandom(std::uint64_t seed) { seed_int(seed); }

  // random.seed(n) for a non-negative int n: init_by_array over n's 32-bit words.
  void seed_int(std::uint64_t seed);
  std::uint32_t getrandbits(int bits);  // 1..32
  // random.randint(a, b): a + _randbelow(b - a + 1), rejection-sampled like CPython.
  std::int64_t randint(std::int64_t a, std::int64_t b);
  double random();  // 53-bit float in [0, 1)

 private:
  std::uint32_t next();
  void init_genrand(std::uint32_t s);

  static constexpr int kN = 624;
  std::array<std::uint32_t, kN> mt_{};
  int index_ = kN + 1;
};

}  // namespace qbr
