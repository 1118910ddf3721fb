# Fails, naming the header and the include, when a public header of rein includes a header of
# a library rein uses privately: SQLite, spdlog, libcurl, RE2 or OpenSSL. A host compiling
# against rein must not need (or get) those. rein's own includes ("rein/X.hpp", <rein/X.hpp>)
# are followed transitively; every other include is checked and not followed.
#
#   cmake -DHEADER_DIRS="dir1;dir2" -P check_includes.cmake
# HEADER_DIRS: the directories holding rein/*.hpp (the source tree's include/ and the build's
# generated headers, or an installed prefix's include/), separated by '|' or ';'.
cmake_minimum_required(VERSION 3.25)

set(forbidden_patterns
  "^sqlite3(ext)?\\.h$"  # SQLite
  "^spdlog/"             # spdlog
  "^fmt/"                # spdlog's formatting library
  "^curl/"               # libcurl
  "^re2/"                # RE2
  "^openssl/")           # OpenSSL's libcrypto

if(NOT HEADER_DIRS)
  message(FATAL_ERROR "check_includes.cmake: set HEADER_DIRS")
endif()
string(REPLACE "|" ";" HEADER_DIRS "${HEADER_DIRS}")

set(public_headers)
foreach(dir IN LISTS HEADER_DIRS)
  file(GLOB found RELATIVE "${dir}" "${dir}/rein/*.hpp")
  list(APPEND public_headers ${found})
endforeach()
list(REMOVE_DUPLICATES public_headers)
list(SORT public_headers)
if(NOT public_headers)
  message(FATAL_ERROR "no rein/*.hpp under ${HEADER_DIRS}")
endif()

# The path of rein header `name` ("rein/X.hpp"), or "" when no directory has it.
function(find_header name out)
  foreach(dir IN LISTS HEADER_DIRS)
    if(EXISTS "${dir}/${name}")
      set(${out} "${dir}/${name}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

set(failures)
foreach(top IN LISTS public_headers)
  set(queue "${top}")
  set(seen "${top}")
  while(queue)
    list(POP_FRONT queue current)
    find_header("${current}" path)
    if(NOT path)
      list(APPEND failures "${top}: includes ${current}, which is not a public header")
      continue()
    endif()
    file(STRINGS "${path}" lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line IN LISTS lines)
      if(NOT line MATCHES "#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"]")
        continue()
      endif()
      set(included "${CMAKE_MATCH_1}")
      if(included MATCHES "^rein/")
        if(NOT included IN_LIST seen)
          list(APPEND seen "${included}")
          list(APPEND queue "${included}")
        endif()
        continue()
      endif()
      foreach(pattern IN LISTS forbidden_patterns)
        if(included MATCHES "${pattern}")
          if(current STREQUAL top)
            list(APPEND failures "${top} includes <${included}>")
          else()
            list(APPEND failures "${top} includes <${included}> (through ${current})")
          endif()
        endif()
      endforeach()
    endforeach()
  endwhile()
endforeach()

list(LENGTH public_headers count)
if(failures)
  list(JOIN failures "\n  " text)
  message(FATAL_ERROR "public headers include private dependencies:\n  ${text}")
endif()
message(STATUS "${count} public headers include no SQLite, spdlog, libcurl, RE2 or OpenSSL header")
