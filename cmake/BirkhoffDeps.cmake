# Third-party pieces that lib/ and runtime/ need. None of them is MLIR/LLVM.

# nlohmann-json (header only): Debian's nlohmann-json3-dev, or a carried copy.
find_package(nlohmann_json 3 QUIET)
if(NOT nlohmann_json_FOUND)
  find_path(NLOHMANN_JSON_INCLUDE nlohmann/json.hpp
            HINTS ${PROJECT_SOURCE_DIR}/.deps/include REQUIRED)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  target_include_directories(nlohmann_json::nlohmann_json INTERFACE ${NLOHMANN_JSON_INCLUDE})
endif()

# CLI11 (header only; the `birkhoff` tool's command line, tools/birkhoff/Cli.h): Debian's
# libcli11-dev, or a copy carried in .deps/include (scripts/prepare-gpu-carry.sh) where it is not
# installed. Cli.h's messages are written against 2.1 (Debian 12 ships 2.1.2).
find_path(CLI11_INCLUDE CLI/CLI.hpp HINTS ${PROJECT_SOURCE_DIR}/.deps/include)
if(NOT CLI11_INCLUDE)
  message(FATAL_ERROR "CLI11 not found (CLI/CLI.hpp): install libcli11-dev "
                      "(scripts/install-deps.sh), or carry it in .deps/include "
                      "(scripts/prepare-gpu-carry.sh)")
endif()
file(STRINGS ${CLI11_INCLUDE}/CLI/Version.hpp CLI11_VERSION_LINE
     REGEX "#define CLI11_VERSION \"[0-9.]+\"")
string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" CLI11_VERSION "${CLI11_VERSION_LINE}")
if(CLI11_VERSION VERSION_LESS 2.1)
  message(FATAL_ERROR "CLI11 ${CLI11_VERSION} in ${CLI11_INCLUDE} is too old: Birkhoff needs "
                      "2.1 or later (libcli11-dev of Debian 12)")
endif()
message(STATUS "CLI11: ${CLI11_VERSION} in ${CLI11_INCLUDE}")
add_library(birkhoff_cli11 INTERFACE)
target_include_directories(birkhoff_cli11 SYSTEM INTERFACE ${CLI11_INCLUDE})

# flatbuffers: headers from Debian's libflatbuffers-dev (or a carried copy in .deps/), schema
# compiled by flatc when it is there, else from the generated header carried in .deps/.
find_path(FLATBUFFERS_INCLUDE flatbuffers/flatbuffers.h
          HINTS ${PROJECT_SOURCE_DIR}/.deps/include REQUIRED)
find_program(FLATC_EXECUTABLE flatc)

# PCRE2 (the tokenizer's pre-tokenizer regexes): Debian's libpcre2-dev through pkg-config, or,
# where it is not installed (the GPU machine), a carried .deps/include/pcre2.h with the system's
# libpcre2-8.so.0 (scripts/prepare-gpu-carry.sh copies the header).
add_library(birkhoff_pcre2 INTERFACE)
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PCRE2 QUIET IMPORTED_TARGET libpcre2-8)
endif()
# BIRKHOFF_PCRE2_INSTALL_LINK: how a program links PCRE2 beside the installed static runtime
# (the CMake package and the pkg-config file write it).
if(PCRE2_FOUND)
  target_link_libraries(birkhoff_pcre2 INTERFACE PkgConfig::PCRE2)
  set(BIRKHOFF_PCRE2_INSTALL_LINK ${PCRE2_LIBRARIES})
else()
  find_path(PCRE2_INCLUDE pcre2.h HINTS ${PROJECT_SOURCE_DIR}/.deps/include REQUIRED)
  find_library(PCRE2_LIBRARY NAMES pcre2-8 libpcre2-8.so.0 REQUIRED)
  message(STATUS "PCRE2: ${PCRE2_INCLUDE}/pcre2.h with ${PCRE2_LIBRARY}")
  target_include_directories(birkhoff_pcre2 SYSTEM INTERFACE ${PCRE2_INCLUDE})
  target_link_libraries(birkhoff_pcre2 INTERFACE ${PCRE2_LIBRARY})
  set(BIRKHOFF_PCRE2_INSTALL_LINK ${PCRE2_LIBRARY})
endif()

# cpp-httplib (`birkhoff serve`'s HTTP/1.1 server): Debian's libcpp-httplib-dev through
# pkg-config. Debian ships it compiled: httplib.h declares and libcpp-httplib.so defines, built
# with OpenSSL, zlib and brotli, and the header must be read with the package's flags (OpenSSL's
# changes httplib::Request's layout). Where the package is not installed (the GPU machine),
# scripts/prepare-gpu-carry.sh carries the header, the library and OpenSSL's headers in .deps/.
# Without either, runtime-only builds leave `serve` out of the tool; full builds stop here.
add_library(birkhoff_httplib INTERFACE)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
endif()
if(HTTPLIB_FOUND)
  target_link_libraries(birkhoff_httplib INTERFACE PkgConfig::HTTPLIB)
  set(BIRKHOFF_HAVE_HTTPLIB ON)
else()
  find_path(HTTPLIB_INCLUDE httplib.h HINTS ${PROJECT_SOURCE_DIR}/.deps/include)
  find_path(HTTPLIB_OPENSSL_INCLUDE openssl/ssl.h HINTS ${PROJECT_SOURCE_DIR}/.deps/include)
  find_library(HTTPLIB_LIBRARY NAMES cpp-httplib libcpp-httplib.so.0.11
               HINTS ${PROJECT_SOURCE_DIR}/.deps/lib)
  if(HTTPLIB_INCLUDE AND HTTPLIB_OPENSSL_INCLUDE AND HTTPLIB_LIBRARY)
    get_filename_component(HTTPLIB_LIBRARY_DIR ${HTTPLIB_LIBRARY} DIRECTORY)
    # The library's own dependencies (brotli's, carried beside it; libssl, libcrypto, libz
    # from the system) are found through the tool's RPATH, which, unlike a RUNPATH, also
    # serves the libraries it loads.
    set(HTTPLIB_LINK_OPTIONS "-Wl,--disable-new-dtags,-rpath,${HTTPLIB_LIBRARY_DIR}"
                             "-Wl,-rpath-link,${HTTPLIB_LIBRARY_DIR}")
    # The flag that changes the classes' layout; zlib's and brotli's only add includes.
    set(CMAKE_REQUIRED_INCLUDES ${HTTPLIB_INCLUDE} ${HTTPLIB_OPENSSL_INCLUDE})
    set(CMAKE_REQUIRED_DEFINITIONS -DCPPHTTPLIB_OPENSSL_SUPPORT)
    set(CMAKE_REQUIRED_LIBRARIES ${HTTPLIB_LIBRARY})
    set(CMAKE_REQUIRED_LINK_OPTIONS ${HTTPLIB_LINK_OPTIONS})
    include(CheckCXXSourceCompiles)
    check_cxx_source_compiles(
      "#include <httplib.h>\nint main() { httplib::Server s; return s.is_valid() ? 0 : 1; }"
      BIRKHOFF_CARRIED_HTTPLIB_LINKS)
    unset(CMAKE_REQUIRED_INCLUDES)
    unset(CMAKE_REQUIRED_DEFINITIONS)
    unset(CMAKE_REQUIRED_LIBRARIES)
    unset(CMAKE_REQUIRED_LINK_OPTIONS)
  endif()
  if(BIRKHOFF_CARRIED_HTTPLIB_LINKS)
    message(STATUS "cpp-httplib: ${HTTPLIB_INCLUDE}/httplib.h with ${HTTPLIB_LIBRARY}")
    target_include_directories(birkhoff_httplib SYSTEM INTERFACE ${HTTPLIB_INCLUDE}
                               ${HTTPLIB_OPENSSL_INCLUDE})
    target_compile_definitions(birkhoff_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT)
    target_link_libraries(birkhoff_httplib INTERFACE ${HTTPLIB_LIBRARY})
    target_link_options(birkhoff_httplib INTERFACE ${HTTPLIB_LINK_OPTIONS})
    set(BIRKHOFF_HAVE_HTTPLIB ON)
  elseif(BIRKHOFF_RUNTIME_ONLY)
    message(WARNING "no usable cpp-httplib (libcpp-httplib-dev, or .deps/ from "
                    "scripts/prepare-gpu-carry.sh, whose library must link here): "
                    "`birkhoff serve` is not built")
    set(BIRKHOFF_HAVE_HTTPLIB OFF)
  else()
    message(FATAL_ERROR "cpp-httplib not found: install libcpp-httplib-dev "
                        "(scripts/install-deps.sh)")
  endif()
endif()
