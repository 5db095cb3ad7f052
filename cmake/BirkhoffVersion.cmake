# The build's identity: CMake's project(VERSION) and the git revision the build was configured
# from. birkhoff::buildInfo() and `birkhoff --version` report both; the revision is read at
# configure time, so a build reconfigured after a commit reports the new one, not one rebuilt
# without reconfiguring.

# "unknown" without git, and for a copy of the sources that is not its own repository (a
# tarball, or a folder vendored into a service's repository, whose revision is not ours).
set(BIRKHOFF_GIT_REVISION unknown)
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --show-toplevel --short=12 HEAD
                  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                  OUTPUT_VARIABLE git_out RESULT_VARIABLE git_rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(git_rc EQUAL 0)
    string(REPLACE "\n" ";" git_out "${git_out}")
    list(GET git_out 0 git_toplevel)
    list(GET git_out 1 git_revision)
    file(REAL_PATH ${git_toplevel} git_toplevel)
    file(REAL_PATH ${PROJECT_SOURCE_DIR} source_dir)
    if(git_toplevel STREQUAL source_dir)
      set(BIRKHOFF_GIT_REVISION ${git_revision})
    endif()
  endif()
endif()
message(STATUS "Birkhoff ${PROJECT_VERSION} (git ${BIRKHOFF_GIT_REVISION})")

# birkhoff/Version.h: the version as macros, beside the artifact schema's generated header (the
# include folder every lib/ and runtime/ user has). Installed with Runtime.h.
configure_file(${PROJECT_SOURCE_DIR}/runtime/birkhoff/Version.h.in
               ${PROJECT_BINARY_DIR}/generated/birkhoff/Version.h @ONLY)
