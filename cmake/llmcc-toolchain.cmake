# CMake toolchain file: build C and C++ with llmcc.
#   cmake -DCMAKE_TOOLCHAIN_FILE=/path/to/llmcc/cmake/llmcc-toolchain.cmake -S . -B build
# llmcc finds the real clang itself (first clang on PATH, or LLMCC_CLANG).
find_program(LLMCC_C_COMPILER llmcc REQUIRED)
find_program(LLMCC_CXX_COMPILER llmcc++ REQUIRED)
set(CMAKE_C_COMPILER "${LLMCC_C_COMPILER}")
set(CMAKE_CXX_COMPILER "${LLMCC_CXX_COMPILER}")
