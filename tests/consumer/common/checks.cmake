# Shared by tests/consumer/subdir and tests/consumer/fetchcontent, included after
# gpu_executor was pulled in as a subproject from GPU_EXECUTOR_SUBPROJECT_SOURCE_DIR
# (its binary directory is GPU_EXECUTOR_SUBPROJECT_BINARY_DIR).
#
# Checks, at configure time, that the subproject defined the two library targets and no
# example or test of its own (unless EXPECT_GPU_EXECUTOR_TESTS is ON, which the consumer
# test sets together with GPU_EXECUTOR_BUILD_TESTS=ON to see that the option still works),
# then builds tests/consumer/app.c against each library.
foreach(_t gpu_executor::gpu_executor gpu_executor::gpu_executor_static)
  if(NOT TARGET ${_t})
    message(FATAL_ERROR "the gpu_executor subproject did not define ${_t}")
  endif()
endforeach()

# Targets the subproject's directory defines (imported ones are not listed): only the
# cargo build, unless its tests were asked for.
get_property(_sub_targets DIRECTORY "${GPU_EXECUTOR_SUBPROJECT_SOURCE_DIR}"
             PROPERTY BUILDSYSTEM_TARGETS)
get_property(_sub_tests DIRECTORY "${GPU_EXECUTOR_SUBPROJECT_SOURCE_DIR}" PROPERTY TESTS)
message(STATUS "gpu_executor subproject targets: ${_sub_targets}")
message(STATUS "gpu_executor subproject tests: ${_sub_tests}")
if(EXPECT_GPU_EXECUTOR_TESTS)
  foreach(_t test_batches gpu_executor_header_check_c)
    if(NOT _t IN_LIST _sub_targets)
      message(FATAL_ERROR "GPU_EXECUTOR_BUILD_TESTS=ON did not define ${_t}")
    endif()
  endforeach()
  if(NOT _sub_tests)
    message(FATAL_ERROR "GPU_EXECUTOR_BUILD_TESTS=ON registered no test")
  endif()
else()
  if(NOT _sub_targets STREQUAL "gpu_executor_cargo")
    message(FATAL_ERROR "the gpu_executor subproject defines targets besides its cargo "
                        "build: ${_sub_targets}")
  endif()
  if(_sub_tests)
    message(FATAL_ERROR "the gpu_executor subproject registered tests: ${_sub_tests}")
  endif()
endif()

set(CMAKE_C_STANDARD 11)
set(CMAKE_C_STANDARD_REQUIRED ON)
set(CMAKE_C_EXTENSIONS OFF)

get_filename_component(_app "${CMAKE_CURRENT_LIST_DIR}/../app.c" ABSOLUTE)
add_executable(consumer_shared "${_app}")
target_compile_options(consumer_shared PRIVATE -Wall -Wextra -Wpedantic -Werror)
target_link_libraries(consumer_shared PRIVATE gpu_executor::gpu_executor)

add_executable(consumer_static "${_app}")
target_compile_options(consumer_static PRIVATE -Wall -Wextra -Wpedantic -Werror)
target_link_libraries(consumer_static PRIVATE gpu_executor::gpu_executor_static)
