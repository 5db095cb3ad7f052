# `cmake --install`: the runtime library (shared and static, runtime/CMakeLists.txt), its
# public headers, the tools, a CMake package (find_package(Birkhoff) -> Birkhoff::runtime), a
# pkg-config file (birkhoff.pc), the license; `cpack` turns the same into a .deb.
# test/install builds and runs a program against the installed package (docs/session-api.md).

# Under add_subdirectory the parent's install is its own business: off unless asked for.
option(BIRKHOFF_INSTALL "Add Birkhoff's install rules and CPack" ${BIRKHOFF_TOP_LEVEL})
if(NOT BIRKHOFF_INSTALL)
  return()
endif()
include(CMakePackageConfigHelpers)

set(BIRKHOFF_CMAKE_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Birkhoff)

install(TARGETS birkhoff_runtime_shared birkhoff_runtime_static EXPORT BirkhoffTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# Runtime.h and what it includes, and WorkerPool.h (ModelOptions::workers: a pool of one's
# own), nothing more: a program compiles with only this folder.
install(FILES ${PROJECT_SOURCE_DIR}/runtime/birkhoff/Runtime.h
              ${PROJECT_SOURCE_DIR}/lib/birkhoff/Status.h
              ${PROJECT_SOURCE_DIR}/lib/birkhoff/GenerationConfig.h
              ${PROJECT_SOURCE_DIR}/lib/birkhoff/WorkerPool.h
              ${PROJECT_BINARY_DIR}/generated/birkhoff/Version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/birkhoff)

# The tools link the static libraries; MLIR's and cpp-httplib's shared libraries, which live
# outside the system's library path, are found through the RUNPATH the build used.
set(BIRKHOFF_INSTALLED_TOOLS birkhoff birkhoff-kernelgen)
if(TARGET birkhoff-opt)
  list(APPEND BIRKHOFF_INSTALLED_TOOLS birkhoff-opt)
endif()
set_target_properties(${BIRKHOFF_INSTALLED_TOOLS} PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS ${BIRKHOFF_INSTALLED_TOOLS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(EXPORT BirkhoffTargets NAMESPACE Birkhoff:: DESTINATION ${BIRKHOFF_CMAKE_PACKAGE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/BirkhoffConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/package/BirkhoffConfig.cmake
                              INSTALL_DESTINATION ${BIRKHOFF_CMAKE_PACKAGE_DIR})
# Before 1.0 a minor version may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/BirkhoffConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/BirkhoffConfig.cmake
              ${PROJECT_BINARY_DIR}/package/BirkhoffConfigVersion.cmake
        DESTINATION ${BIRKHOFF_CMAKE_PACKAGE_DIR})

# birkhoff.pc finds its prefix from its own folder (${pcfiledir}), so the install can move
# (`cmake --install --prefix`, the .deb's /usr).
file(RELATIVE_PATH BIRKHOFF_PC_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" BIRKHOFF_PC_PREFIX ${BIRKHOFF_PC_PREFIX})
set(BIRKHOFF_PC_LIBS_PRIVATE)
foreach(lib ${BIRKHOFF_PCRE2_INSTALL_LINK} ${CMAKE_DL_LIBS})
  if(IS_ABSOLUTE ${lib})
    string(APPEND BIRKHOFF_PC_LIBS_PRIVATE " ${lib}")
  else()
    string(APPEND BIRKHOFF_PC_LIBS_PRIVATE " -l${lib}")
  endif()
endforeach()
string(APPEND BIRKHOFF_PC_LIBS_PRIVATE " -pthread")
string(STRIP "${BIRKHOFF_PC_LIBS_PRIVATE}" BIRKHOFF_PC_LIBS_PRIVATE)
configure_file(${PROJECT_SOURCE_DIR}/cmake/birkhoff.pc.in ${PROJECT_BINARY_DIR}/package/birkhoff.pc
               @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/package/birkhoff.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})

# `cpack` (in the build folder): build/birkhoff_<version>_<arch>.deb, installing into /usr;
# its dependencies (libpcre2, MLIR's packages, ...) come from dpkg-shlibdeps.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME birkhoff)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Ahead-of-time compiler and runtime for DeepSeek-V4 models")
set(CPACK_PACKAGE_CONTACT "The Birkhoff authors")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR}/package)
include(CPack)
