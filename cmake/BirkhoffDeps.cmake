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
