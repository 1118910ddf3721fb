# Install + export: find_package(rein) and pkg-config for consumers.
include(CMakePackageConfigHelpers)

set(REIN_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/rein")

install(TARGETS rein EXPORT reinTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/rein DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")
install(FILES "${PROJECT_BINARY_DIR}/generated/include/rein/version.hpp"
  "${PROJECT_BINARY_DIR}/generated/include/rein/config.hpp"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/rein)
install(EXPORT reinTargets NAMESPACE rein:: DESTINATION ${REIN_CMAKE_DIR})

configure_package_config_file(cmake/reinConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/reinConfig.cmake"
  INSTALL_DESTINATION ${REIN_CMAKE_DIR})
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/reinConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/reinConfig.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/reinConfigVersion.cmake"
  cmake/Findre2.cmake
  DESTINATION ${REIN_CMAKE_DIR})

# Public headers include nlohmann/json, so a consumer compiles against it: Requires. SQLite,
# RE2, libcrypto and libcurl are used inside librein only: Requires.private for a shared librein, which
# carries its own links to them. A static librein.a cannot carry them, and every program linking
# it needs their libraries, so there they are in Requires as well: plain
# `pkg-config --cflags --libs rein` links either kind, with no --static.
set(REIN_PC_PRIVATE "sqlite3 re2 libcrypto")
if(REIN_WITH_CURL)
  string(APPEND REIN_PC_PRIVATE " libcurl")
endif()
if(REIN_WITH_POSTGRES)
  string(APPEND REIN_PC_PRIVATE " libpq")
endif()
get_target_property(_rein_type rein TYPE)
if(_rein_type STREQUAL "SHARED_LIBRARY")
  set(REIN_PC_REQUIRES "nlohmann_json")
  set(REIN_PC_REQUIRES_PRIVATE "${REIN_PC_PRIVATE}")
else()
  set(REIN_PC_REQUIRES "nlohmann_json ${REIN_PC_PRIVATE}")
  set(REIN_PC_REQUIRES_PRIVATE "")
endif()
# Relocatable: the prefix is found from the .pc file's own location, so `cmake --install
# --prefix DIR` works without reconfiguring.
file(RELATIVE_PATH REIN_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(cmake/rein.pc.in "${CMAKE_CURRENT_BINARY_DIR}/rein.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/rein.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

if(TARGET rein_cli)
  install(TARGETS rein_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
