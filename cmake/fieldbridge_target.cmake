# Warning flags belong to our targets, never to the global flags, so that
# third-party headers pulled in as SYSTEM do not break a -Werror build.
function(fieldbridge_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wconversion -Wsign-conversion -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
    # g++ 12 at -O2 reports std::variant alternatives moved into a vector as
    # "maybe uninitialized" (GCC bug 105562 and kin); the check is left to
    # the sanitizer build and to clang-tidy.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>
    # g++ 12 pairs the class-specific operator delete of a Boost.Asio
    # coroutine frame (awaitable_frame_base) with the global operator new
    # it sees at the frame's creation and reports a mismatch (GCC bug
    # 106652 and kin); the frames are Asio's own, allocated and freed by it.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
  if(FIELDBRIDGE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# A library of ours: sources, warnings, and the repository root on the
# include path so that headers are included as "mqtt/codec.hpp".
function(fieldbridge_library target)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${target} STATIC ${ARG_SOURCES})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS})
  fieldbridge_warnings(${target})
endfunction()

# Test code (not the code under test) may be compiled with flags of its own:
# the sanitizer builds of scripts/test.sh pass -DFIELDBRIDGE_TEST_FLAGS=-O0,
# which halves their build time; the product's code keeps the build type's
# optimisation, so it is tested as it ships.
set(FIELDBRIDGE_TEST_FLAGS "" CACHE STRING "Extra compile flags for test code (not for the code under test)")
function(fieldbridge_test_code target)
  if(FIELDBRIDGE_TEST_FLAGS)
    separate_arguments(flags UNIX_COMMAND "${FIELDBRIDGE_TEST_FLAGS}")
    target_compile_options(${target} PRIVATE ${flags})
  endif()
endfunction()

# A GoogleTest executable registered with CTest under a label.
#   SINGLE_THREAD  every test of the executable runs on one thread (manual
#                  clock, no socket): its label becomes <label>.single_thread,
#                  which the ThreadSanitizer stage of scripts/test.sh leaves
#                  out (TSan reports races between threads; with one thread it
#                  can only slow the test down)
#   COST n         ctest starts tests of a higher cost first, so that a long
#                  test does not finish alone at the end of a parallel run
function(fieldbridge_test target)
  cmake_parse_arguments(ARG "SINGLE_THREAD" "LABEL;TIMEOUT;COST" "SOURCES;DEPS" ${ARGN})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  fieldbridge_warnings(${target})
  fieldbridge_test_code(${target})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  if(ARG_LABEL STREQUAL "unit")
    # `cmake --build B --target unit_tests` builds these alone (the emulated
    # stage of scripts/test.sh runs only them).
    set_property(GLOBAL APPEND PROPERTY FIELDBRIDGE_UNIT_TESTS ${target})
  endif()
  if(ARG_SINGLE_THREAD)
    # One label (discovered tests cannot carry a list): `ctest -L unit`
    # still selects them, `ctest -LE single_thread` leaves them out.
    set(ARG_LABEL ${ARG_LABEL}.single_thread)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(NOT ARG_COST)
    set(ARG_COST 0)
  endif()
  gtest_discover_tests(${target}
    PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT} COST ${ARG_COST}
    DISCOVERY_TIMEOUT 30)
endfunction()
