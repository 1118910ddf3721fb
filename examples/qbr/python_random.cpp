#include "python_random.hpp"

#include <vector>

namespace qbr {

void PythonRandom::init_genrand(std::uint32_t s) {
  mt_[0] = s;
  for (int i = 1; i < kN; ++i) {
    mt_[static_cast<std::size_t>(i)] =
        1812433253u *
            (mt_[static_cast<std::size_t>(i - 1)] ^ (mt_[static_cast<std::size_t>(i - 1)] >> 30)) +
        static_cast<std::uint32_t>(i);
  }
  index_ = kN;
}

void PythonRandom::seed_int(std::uint64_t seed) {
  std::vector<std::uint32_t> key;
  do {
    key.push_back(static_cast<std::uint32_t>(seed & 0xffffffffu));
    seed >>= 32;
  } while (seed != 0);
  init_genrand(19650218u);
  std::size_t i = 1, j = 0;
  for (std::size_t k = std::max<std::size_t>(kN, key.size()); k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] +
             static_cast<std::uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= key.size()) j = 0;
  }
  for (std::size_t k = kN - 1; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) -
             static_cast<std::uint32_t>(i);
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000u;
  index_ = kN;
}

std::uint32_t PythonRandom::next() {
  if (index_ >= kN) {
    for (int k = 0; k < kN; ++k) {
      const auto kk = static_cast<std::size_t>(k);
      const std::uint32_t y = (mt_[kk] & 0x80000000u) | (mt_[(kk + 1) % kN] & 0x7fffffffu);
      mt_[kk] = mt_[(kk + 397) % kN] ^ (y >> 1) ^ ((y & 1u) != 0 ? 0x9908b0dfu : 0u);
    }
    index_ = 0;
  }
  std::uint32_t y = mt_[static_cast<std::size_t>(index_++)];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

std::uint32_t PythonRandom::getrandbits(int bits) {
  return next() >> (32 - bits);
}

std::int64_t PythonRandom::randint(std::int64_t a, std::int64_t b) {
  const auto n = static_cast<std::uint64_t>(b - a + 1);
  int bits = 0;
  for (std::uint64_t v = n; v != 0; v >>= 1)
    ++bits;  // n.bit_length()
  std::uint64_t r = getrandbits(bits);
  while (r >= n)
    r = getrandbits(bits);
  return a + static_cast<std::int64_t>(r);
}

double PythonRandom::random() {
  const double a = next() >> 5, b = next() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

}  // namespace qbr
