# LLVM/MLIR 22 for the compiler side only. Linked as the shared libMLIR/libLLVM so that links
# stay fast on small machines; never linked into lib/ or runtime/ (see test/deps).
find_package(MLIR REQUIRED CONFIG
             HINTS /usr/lib/llvm-22/lib/cmake/mlir)
if(NOT LLVM_VERSION_MAJOR EQUAL 22)
  message(FATAL_ERROR "Birkhoff needs LLVM/MLIR 22, found ${LLVM_PACKAGE_VERSION}")
endif()
message(STATUS "Using MLIR ${LLVM_PACKAGE_VERSION} from ${MLIR_DIR}")
list(APPEND CMAKE_MODULE_PATH ${MLIR_CMAKE_DIR} ${LLVM_CMAKE_DIR})
set(LLVM_RUNTIME_OUTPUT_INTDIR ${PROJECT_BINARY_DIR}/bin)
set(LLVM_LIBRARY_OUTPUT_INTDIR ${PROJECT_BINARY_DIR}/lib)
include(TableGen)
include(AddLLVM)
include(AddMLIR)

# One interface target carries MLIR's include paths and libraries; compiler-side targets link
# it, nothing else sees MLIR headers.
add_library(birkhoff_mlir INTERFACE)
target_include_directories(birkhoff_mlir SYSTEM INTERFACE ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
target_compile_definitions(birkhoff_mlir INTERFACE ${LLVM_DEFINITIONS})
target_link_libraries(birkhoff_mlir INTERFACE MLIR LLVM)
if(NOT LLVM_ENABLE_RTTI)
  set(BIRKHOFF_NO_RTTI_FLAG -fno-rtti)
endif()

find_program(LLVM_LIT NAMES lit llvm-lit HINTS ${LLVM_TOOLS_BINARY_DIR} /usr/lib/llvm-22/bin)
find_program(FILECHECK FileCheck HINTS ${LLVM_TOOLS_BINARY_DIR} /usr/lib/llvm-22/bin)
