# REIN_SANITIZE=address,undefined | thread — applied to every target in this build tree.
if(REIN_SANITIZE)
  string(REPLACE "," ";" _rein_sanitizers "${REIN_SANITIZE}")
  foreach(_s IN LISTS _rein_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "REIN_SANITIZE: unknown sanitizer '${_s}' (use address,undefined or thread)")
    endif()
  endforeach()
  if("thread" IN_LIST _rein_sanitizers AND "address" IN_LIST _rein_sanitizers)
    message(FATAL_ERROR "REIN_SANITIZE: thread cannot be combined with address")
  endif()
  set(_rein_san_flags "-fsanitize=${REIN_SANITIZE}" -fno-omit-frame-pointer)
  if("undefined" IN_LIST _rein_sanitizers)
    list(APPEND _rein_san_flags -fno-sanitize-recover=undefined)
    # Clang before 17 cannot emit -fsanitize=function's prologue data for the split parts of
    # a coroutine when coverage instrumentation is on as well ("Cannot represent a difference
    # across sections"), so the fuzzing build goes without that one check.
    if(REIN_BUILD_FUZZERS AND CMAKE_CXX_COMPILER_ID MATCHES "Clang"
       AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 17)
      list(APPEND _rein_san_flags -fno-sanitize=function)
    endif()
  endif()
  add_compile_options(${_rein_san_flags})
  add_link_options(-fsanitize=${REIN_SANITIZE})
  message(STATUS "rein: building with sanitizers: ${REIN_SANITIZE}")
endif()
