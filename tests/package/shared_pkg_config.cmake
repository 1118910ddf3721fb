# Installs the shared rein that package.add_subdirectory built (the library alone, -O0), checks
# what the installed package says about it (SONAME, rein.pc's Requires), then builds and runs
# the pkg-config consumer against it.
# BUILD (the add_subdirectory consumer's build tree), PREFIX, SOURCE, OUTPUT, CXX,
# VERSION_MAJOR, VERSION_MINOR.
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD}" --prefix "${PREFIX}" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "installing the shared rein failed (${rc})")
endif()

# The SONAME follows the compatibility rule: MAJOR.MINOR.
set(soname "librein.so.${VERSION_MAJOR}.${VERSION_MINOR}")
if(NOT EXISTS "${PREFIX}/lib/${soname}")
  message(FATAL_ERROR "${PREFIX}/lib/${soname} is not installed")
endif()
find_program(READELF readelf REQUIRED)
execute_process(COMMAND ${READELF} -d "${PREFIX}/lib/librein.so" OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
if(rc OR NOT dynamic MATCHES "Library soname: \\[${soname}\\]")
  message(FATAL_ERROR "librein.so's SONAME is not ${soname}:\n${dynamic}")
endif()

# A shared librein links SQLite, RE2, libcrypto and libcurl itself: they are Requires.private.
file(STRINGS "${PREFIX}/lib/pkgconfig/rein.pc" requires REGEX "^Requires")
if(NOT requires MATCHES "(^|;)Requires: nlohmann_json(;|$)")
  message(FATAL_ERROR "rein.pc's Requires should be nlohmann_json alone: ${requires}")
endif()
if(NOT requires MATCHES "Requires.private: sqlite3 re2 libcrypto")
  message(FATAL_ERROR "rein.pc's Requires.private should name sqlite3, re2 and libcrypto: ${requires}")
endif()

set(LIBRARY_PATH "${PREFIX}/lib")
include("${CMAKE_CURRENT_LIST_DIR}/pkg_config_build.cmake")
