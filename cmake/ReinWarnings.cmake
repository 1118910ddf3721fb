# Strict warnings for rein's own targets (never imposed on consumers).
function(rein_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE
      -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow
      -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
      -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
      # Options structs are meant to be filled with designated initializers, naming only
      # the fields that differ from their defaults.
      -Wno-missing-field-initializers)
    if(REIN_WARNINGS_AS_ERRORS)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive-)
  endif()
endfunction()

option(REIN_WARNINGS_AS_ERRORS "Treat warnings as errors in rein's own targets" OFF)
