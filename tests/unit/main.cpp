#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "core/json_writer.hpp"

// Canonical JSON is written with its keys checked to be in order in every test program,
// whatever the build type (release builds of the library leave the check off).
[[maybe_unused]] static const bool key_order_checked =
    (rein::detail::set_json_key_order_checks(true), true);
