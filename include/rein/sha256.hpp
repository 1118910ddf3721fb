// rein::Sha256: the SHA-256 digest (FIPS 180-4), used to chain audit entries.
//
// Self-contained so that tamper evidence needs no cryptography library. Not for secrets:
// nothing here is constant-time.
//
// Thread safety: a Sha256 object is used by one thread at a time; sha256_hex is reentrant.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rein {

class Sha256 {
 public:
  using Digest = std::array<std::uint8_t, 32>;
  // automatic: the CPU's SHA instructions when it has them (x86 SHA-NI), else portable code.
  enum class Engine { automatic, portable };

  explicit Sha256(Engine engine = Engine::automatic);
  // True when Engine::automatic uses hardware instructions on this machine.
  static bool hardware_available();
  void update(std::string_view data);
  void update(const void* data, std::size_t size);
  // Finishes the digest; the object must not be updated afterwards.
  Digest finish();

  static std::string hex(const Digest& digest);

 private:
  void compress(const std::uint8_t* blocks, std::size_t count);
  std::array<std::uint32_t, 8> state_;
  bool hardware_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data, Sha256::Engine engine = Sha256::Engine::automatic);

}  // namespace rein
