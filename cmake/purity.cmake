# fieldbridge_pure(<target>): the target holds decisions, no I/O. The promise
# is checked twice, so that it cannot erode unnoticed:
#   - when the build is configured: nothing the target links, directly or
#     through other targets, is Boost (Asio), SQLite, libmodbus, OpenSSL or
#     libsystemd (a fatal configure error names the chain);
#   - by the test purity.<target>: the compiler's own dependency list (-M) of
#     every source of the target contains no header of those libraries, so
#     a header-only include (Asio needs no linking) is caught as well.
set(FIELDBRIDGE_IMPURE_LINK "Boost::|boost_|SQLite|sqlite3|LIBMODBUS|modbus|OpenSSL|ssl|crypto|LIBSYSTEMD|systemd")
set(FIELDBRIDGE_IMPURE_HEADERS "/boost/asio|/boost/beast|/sqlite3\\.h$|modbus/modbus[-a-z]*\\.h$|/openssl/|/systemd/")

function(_fieldbridge_link_closure target chain out)
  set(found "")
  foreach(property LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY" AND property STREQUAL "LINK_LIBRARIES")
      continue()
    endif()
    get_target_property(items ${target} ${property})
    if(NOT items)
      continue()
    endif()
    foreach(item IN LISTS items)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" item "${item}")
      if(item MATCHES "^\\$<")
        continue()
      endif()
      if(item MATCHES "^(${FIELDBRIDGE_IMPURE_LINK})")
        list(APPEND found "${chain} -> ${item}")
      elseif(TARGET ${item})
        _fieldbridge_link_closure(${item} "${chain} -> ${item}" sub)
        list(APPEND found ${sub})
      endif()
    endforeach()
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

function(_fieldbridge_check_pure target)
  _fieldbridge_link_closure(${target} ${target} found)
  if(found)
    list(REMOVE_DUPLICATES found)
    list(JOIN found "\n  " lines)
    message(FATAL_ERROR "${target} must stay pure (no I/O library), but links:\n  ${lines}")
  endif()
endfunction()

function(_fieldbridge_add_purity_test target)
  add_test(NAME purity.${target}
           COMMAND ${CMAKE_COMMAND}
                   -DCOMPILER=${CMAKE_CXX_COMPILER}
                   "-DINCLUDES=$<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>"
                   "-DDEFINITIONS=$<TARGET_PROPERTY:${target},COMPILE_DEFINITIONS>"
                   -DSOURCE_DIR=$<TARGET_PROPERTY:${target},SOURCE_DIR>
                   "-DSOURCES=$<TARGET_PROPERTY:${target},SOURCES>"
                   "-DFORBIDDEN=${FIELDBRIDGE_IMPURE_HEADERS}"
                   -DTARGET=${target}
                   -P ${PROJECT_SOURCE_DIR}/cmake/check_pure_headers.cmake)
  set_tests_properties(purity.${target} PROPERTIES LABELS unit TIMEOUT 300)
endfunction()

function(fieldbridge_pure target)
  # Checked once every target of the tree exists, and the test registered
  # where testing is enabled (the top directory); a deferred call reads its
  # arguments when it runs, hence the name written into the code here.
  cmake_language(EVAL CODE
    "cmake_language(DEFER DIRECTORY [[${PROJECT_SOURCE_DIR}]] CALL _fieldbridge_check_pure [[${target}]])")
  if(FIELDBRIDGE_BUILD_TESTS)
    cmake_language(EVAL CODE
      "cmake_language(DEFER DIRECTORY [[${PROJECT_SOURCE_DIR}]] CALL _fieldbridge_add_purity_test [[${target}]])")
  endif()
endfunction()
