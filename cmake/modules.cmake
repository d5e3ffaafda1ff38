# berth_module(NAME DEPS dep...) — one static library per directory under src/.
# Sources are globbed so that adding a file needs no CMake edit; the DEPS list encodes the
# allowed layering (spec → base, engine → pki, base, ...): a layering mistake is a link error.
function(berth_module name)
  cmake_parse_arguments(ARG "" "" "DEPS;PRIVATE_DEPS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS
       ${CMAKE_CURRENT_SOURCE_DIR}/${name}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "_main\\.cc$")
  if(NOT srcs)
    # A module whose first .cc has not been written yet: headers only, same layering.
    add_library(berth_${name} INTERFACE)
    target_include_directories(berth_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(berth_${name} INTERFACE ${ARG_DEPS})
    return()
  endif()
  add_library(berth_${name} STATIC ${srcs})
  target_include_directories(berth_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(berth_${name} PUBLIC ${ARG_DEPS} PRIVATE berth_warnings ${ARG_PRIVATE_DEPS})
endfunction()

# berth_test(NAME SOURCES... LIBS ... LABELS ...) — one GoogleTest binary registered with CTest.
function(berth_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest berth_warnings)
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()

# berth_use_jemalloc(TARGET) — links a long-running executable with jemalloc when BERTH_JEMALLOC is
# on (the executable defines malloc_conf from memory::kJemallocConf; see src/base/memory.h).
function(berth_use_jemalloc target)
  if(BERTH_JEMALLOC)
    target_link_libraries(${target} PRIVATE PkgConfig::jemalloc)
  endif()
endfunction()

# berth_link_only_what_is_used(TARGET) — the executable names (DT_NEEDED) only the shared libraries
# its code calls. The modules' static libraries carry their dependencies' link flags whether or not
# the objects that need them are linked in: berthd links no ssh:// transport (see makeSocketEngine in
# src/engine/engine.h), and without this it would still load libssh and the Kerberos libraries.
function(berth_link_only_what_is_used target)
  target_link_options(${target} PRIVATE "LINKER:--as-needed")
endfunction()
