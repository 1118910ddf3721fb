// Transitional: SHA-256 is internal now (core/sha256.hpp) and no longer installed. This file
// keeps the one source still naming the old path, src/sqlite/memory_manager.cpp, building until
// its include reads "core/sha256.hpp"; then delete this file and the src/rein directory.
#pragma once

#include "core/sha256.hpp"
