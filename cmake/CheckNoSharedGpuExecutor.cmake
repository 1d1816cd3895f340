# cmake -DFILE=<executable> -P CheckNoSharedGpuExecutor.cmake
# Fails when FILE needs libgpu_executor.so at run time (it should be linked statically).
find_program(READELF readelf)
if(NOT READELF)
  message(FATAL_ERROR "readelf not found (binutils)")
endif()
execute_process(COMMAND "${READELF}" -d "${FILE}" OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${FILE} failed")
endif()
if(dynamic MATCHES "libgpu_executor")
  message(FATAL_ERROR "${FILE} depends on the shared libgpu_executor:\n${dynamic}")
endif()
message(STATUS "${FILE}: no dynamic dependency on libgpu_executor")
