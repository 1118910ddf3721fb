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

set(REIN_PC_REQUIRES "nlohmann_json sqlite3 re2")
if(REIN_WITH_CURL)
  string(APPEND REIN_PC_REQUIRES " libcurl")
endif()
# Relocatable: the prefix is found from the .pc file's own location, so `cmake --install
# --prefix DIR` works without reconfiguring.
file(RELATIVE_PATH REIN_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(cmake/rein.pc.in "${CMAKE_CURRENT_BINARY_DIR}/rein.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/rein.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

if(TARGET rein_cli)
  install(TARGETS rein_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
