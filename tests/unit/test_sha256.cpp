#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "core/sha256.hpp"

TEST_CASE("SHA-256 matches the FIPS 180-4 test vectors", "[sha256]") {
  CHECK(rein::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(rein::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(rein::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(rein::sha256_hex(std::string(1'000'000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK(rein::sha256_hex("abd") != rein::sha256_hex("abc"));
}

TEST_CASE("SHA-256 gives the same digest however the input is split", "[sha256]") {
  std::string text;
  for (int i = 0; i < 300; ++i)
    text += static_cast<char>('a' + i % 26);
  const std::string whole = rein::sha256_hex(text);
  for (std::size_t split : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 128u, 299u, 300u}) {
    rein::Sha256 h;
    h.update(std::string_view(text).substr(0, split));
    h.update(std::string_view(text).substr(split));
    CHECK(rein::Sha256::hex(h.finish()) == whole);
  }
  // Byte by byte, for every length up to three blocks.
  std::string prefix;
  for (std::size_t n = 0; n <= 200; ++n) {
    rein::Sha256 h;
    for (char c : prefix)
      h.update(&c, 1);
    REQUIRE(rein::Sha256::hex(h.finish()) == rein::sha256_hex(prefix));
    prefix += static_cast<char>(n * 37 + 11);
  }
}

namespace {
struct DigestAtThreadExit {
  std::string* out;
  ~DigestAtThreadExit() { *out = rein::sha256_hex("abc"); }
};
}  // namespace

TEST_CASE("SHA-256 works in a thread's exit, after the thread's reused contexts are gone",
          "[sha256]") {
  // Thread-local objects are destroyed in the reverse order of their construction: this one,
  // made before the thread's first digest, is destroyed after the cache of contexts that the
  // digest made.
  std::string during, at_exit_digest;
  std::thread([&] {
    thread_local DigestAtThreadExit at_exit{&at_exit_digest};
    during = rein::sha256_hex("abc");
  }).join();
  CHECK(during == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(at_exit_digest == during);
}
