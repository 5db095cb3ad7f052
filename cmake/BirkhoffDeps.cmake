# Third-party pieces that lib/ and runtime/ need. None of them is MLIR/LLVM.

# nlohmann-json (header only): Debian's nlohmann-json3-dev, or a carried copy.
find_package(nlohmann_json 3 QUIET)
if(NOT nlohmann_json_FOUND)
  find_path(NLOHMANN_JSON_INCLUDE nlohmann/json.hpp
            HINTS ${CMAKE_SOURCE_DIR}/.deps/include REQUIRED)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  target_include_directories(nlohmann_json::nlohmann_json INTERFACE ${NLOHMANN_JSON_INCLUDE})
endif()

# flatbuffers: headers from Debian's libflatbuffers-dev (or a carried copy in .deps/), schema
# compiled by flatc when it is there, else from the generated header carried in .deps/.
find_path(FLATBUFFERS_INCLUDE flatbuffers/flatbuffers.h
          HINTS ${CMAKE_SOURCE_DIR}/.deps/include REQUIRED)
find_program(FLATC_EXECUTABLE flatc)

# PCRE2 (the tokenizer's pre-tokenizer regexes): Debian's libpcre2-dev through pkg-config, or,
# where it is not installed (the GPU machine), a carried .deps/include/pcre2.h with the system's
# libpcre2-8.so.0 (scripts/prepare-gpu-carry.sh copies the header).
add_library(birkhoff_pcre2 INTERFACE)
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PCRE2 QUIET IMPORTED_TARGET libpcre2-8)
endif()
if(PCRE2_FOUND)
  target_link_libraries(birkhoff_pcre2 INTERFACE PkgConfig::PCRE2)
else()
  find_path(PCRE2_INCLUDE pcre2.h HINTS ${CMAKE_SOURCE_DIR}/.deps/include REQUIRED)
  find_library(PCRE2_LIBRARY NAMES pcre2-8 libpcre2-8.so.0 REQUIRED)
  message(STATUS "PCRE2: ${PCRE2_INCLUDE}/pcre2.h with ${PCRE2_LIBRARY}")
  target_include_directories(birkhoff_pcre2 SYSTEM INTERFACE ${PCRE2_INCLUDE})
  target_link_libraries(birkhoff_pcre2 INTERFACE ${PCRE2_LIBRARY})
endif()
