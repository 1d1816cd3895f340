# cmake -DOBJCOPY=<objcopy> -DREADELF=<readelf> -DSHARED=<libgpu_executor.so.X.Y.Z>
#       -DSTATIC=<libgpu_executor.a> -DOUT=<dir> -P SplitDebugInfo.cmake
#
# Makes the files that are installed, as a distribution ships them:
#   OUT/lib/<name of SHARED>          stripped (--strip-unneeded: no debug info, no static
#                                     symbol table; the exported symbols stay), with a GNU
#                                     debuglink naming the debug file and its CRC
#   OUT/debug/.build-id/NN/REST.debug the debug info and full symbol table of SHARED,
#                                     compressed (zlib); NN/REST is SHARED's GNU build ID,
#                                     so gdb, elfutils and systemd-coredump find it under
#                                     <prefix>/lib/debug (the default debug directory when
#                                     the prefix is /usr)
#   OUT/lib/<name of STATIC>          without debug info (--strip-debug keeps every symbol
#                                     the linker needs)
# The library in cargo's target directory and the build tree keep their debug info.
foreach(_var OBJCOPY READELF SHARED STATIC OUT)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "SplitDebugInfo.cmake: -D${_var}=... is required")
  endif()
endforeach()
foreach(_file "${SHARED}" "${STATIC}")
  if(NOT EXISTS "${_file}")
    message(FATAL_ERROR "SplitDebugInfo.cmake: ${_file} does not exist (build first)")
  endif()
endforeach()

function(_run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGV}")
    message(FATAL_ERROR "SplitDebugInfo.cmake: `${cmd}` failed (${rc}):\n${out}${err}")
  endif()
endfunction()

get_filename_component(_shared_name "${SHARED}" NAME)
get_filename_component(_static_name "${STATIC}" NAME)
file(REMOVE_RECURSE "${OUT}/lib" "${OUT}/debug")
file(MAKE_DIRECTORY "${OUT}/lib" "${OUT}/debug")

# The build ID names the debug file (.build-id/NN/REST.debug, as Debian and Fedora lay it
# out); a library linked without one gets <name>.debug instead.
execute_process(COMMAND "${READELF}" -n "${SHARED}" OUTPUT_VARIABLE _notes RESULT_VARIABLE _rc)
if(_rc EQUAL 0 AND _notes MATCHES "Build ID: ([0-9a-f][0-9a-f])([0-9a-f]+)")
  set(_debug_rel ".build-id/${CMAKE_MATCH_1}/${CMAKE_MATCH_2}.debug")
else()
  message(WARNING "${SHARED} has no GNU build ID; its debug file is named ${_shared_name}.debug")
  set(_debug_rel "${_shared_name}.debug")
endif()
set(_debug "${OUT}/debug/${_debug_rel}")
get_filename_component(_debug_dir "${_debug}" DIRECTORY)
file(MAKE_DIRECTORY "${_debug_dir}")

_run("${OBJCOPY}" --only-keep-debug --compress-debug-sections=zlib "${SHARED}" "${_debug}")
_run("${OBJCOPY}" --strip-unneeded --remove-section=.comment "--add-gnu-debuglink=${_debug}"
     "${SHARED}" "${OUT}/lib/${_shared_name}")
_run("${OBJCOPY}" --strip-debug --enable-deterministic-archives "${STATIC}"
     "${OUT}/lib/${_static_name}")

foreach(_pair "${SHARED}|${OUT}/lib/${_shared_name}" "${STATIC}|${OUT}/lib/${_static_name}")
  string(REPLACE "|" ";" _pair "${_pair}")
  list(GET _pair 0 _from)
  list(GET _pair 1 _to)
  file(SIZE "${_from}" _before)
  file(SIZE "${_to}" _after)
  get_filename_component(_name "${_to}" NAME)
  message(STATUS "${_name}: ${_before} -> ${_after} bytes")
endforeach()
file(SIZE "${_debug}" _size)
message(STATUS "debug info: lib/debug/${_debug_rel} (${_size} bytes)")
