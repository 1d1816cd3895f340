/*
 * The calls that need no GPU work: version (string vs header macros), status strings,
 * default options, last-error message before any failure, destroy(NULL).
 */
#include "test_util.h"

int main(void) {
  char expected[64];
  const char *version = gpu_executor_version();
  gpu_executor_options_t options = gpu_executor_options_default();
  int32_t code;

  /* The header matches the library it runs with. */
  snprintf(expected, sizeof expected, "%d.%d.%d", GPU_EXECUTOR_VERSION_MAJOR,
           GPU_EXECUTOR_VERSION_MINOR, GPU_EXECUTOR_VERSION_PATCH);
  CHECK(version != NULL);
  if (!CHECK(version != NULL && strcmp(version, expected) == 0)) {
    fprintf(stderr, "gpu_executor_version() = \"%s\", header says %s\n",
            version ? version : "(null)", expected);
  }
  CHECK(gpu_executor_version() == version); /* static string */

  /* Every known status code has its own non-empty description. */
  for (code = GPU_EXECUTOR_OK; code <= GPU_EXECUTOR_UNSUPPORTED; code++) {
    const char *text = gpu_executor_status_str(code);
    int32_t other;
    if (!CHECK(text != NULL && text[0] != '\0' &&
               strcmp(text, "unknown status code") != 0)) {
      fprintf(stderr, "status %d has no description\n", (int)code);
      continue;
    }
    for (other = GPU_EXECUTOR_OK; other < code; other++) {
      CHECK(strcmp(text, gpu_executor_status_str(other)) != 0);
    }
  }
  CHECK(strcmp(gpu_executor_status_str(9999), "unknown status code") == 0);
  CHECK(strcmp(gpu_executor_status_str(-1), "unknown status code") == 0);
  CHECK(strcmp(gpu_executor_status_str(GPU_EXECUTOR_UNSUPPORTED + 1), "unknown status code") == 0);
  CHECK(strcmp(gpu_executor_status_str(INT32_MIN), "unknown status code") == 0);
  CHECK(strcmp(gpu_executor_status_str(GPU_EXECUTOR_OK), "ok") == 0);

  /* The status values are part of the ABI. */
  CHECK_EQ(GPU_EXECUTOR_OK, 0);
  CHECK_EQ(GPU_EXECUTOR_NULL_POINTER, 1);
  CHECK_EQ(GPU_EXECUTOR_ALIASING, 6);
  CHECK_EQ(GPU_EXECUTOR_MISALIGNED_POINTER, 13);
  CHECK_EQ(GPU_EXECUTOR_POISONED, 15);
  CHECK_EQ(GPU_EXECUTOR_NOT_READY, 16);
  CHECK_EQ(GPU_EXECUTOR_UNKNOWN_TICKET, 17);
  CHECK_EQ(GPU_EXECUTOR_TIMED_OUT, 18);
  CHECK_EQ(GPU_EXECUTOR_INVALID_KERNEL, 19);
  CHECK_EQ(GPU_EXECUTOR_INVALID_BUFFER, 20);
  CHECK_EQ(GPU_EXECUTOR_DEPENDENCY, 24);
  CHECK_EQ(GPU_EXECUTOR_OVER_BUDGET, 25);
  CHECK_EQ(GPU_EXECUTOR_UNSUPPORTED, 26);
  CHECK_EQ(GPU_OP_VECTOR_ADD, 1);

  /* Defaults, as documented in the header. */
  CHECK_EQ(options.struct_size, sizeof(gpu_executor_options_t));
  CHECK_EQ(options.backend, GPU_BACKEND_ANY);
  CHECK_EQ(options.power_preference, GPU_POWER_DEFAULT);
  CHECK_EQ(options.strategy, GPU_STRATEGY_BUCKETED);
  CHECK_EQ(options.exact_size_cache, 1);
  CHECK_EQ(options.exact_size_cache_capacity, 16);
  CHECK_EQ(options.max_chunk_elements, 0);
  CHECK(options.max_idle_bytes == (uint64_t)512 << 20);
  CHECK(options.max_in_flight_bytes == 0);
  CHECK_EQ(options.staging, GPU_STAGING_AUTO);

  /* No failure yet on this thread: an empty message, never NULL. */
  CHECK(gpu_executor_last_error_message() != NULL);
  CHECK(strcmp(gpu_executor_last_error_message(), "") == 0);

  gpu_executor_destroy(NULL);

  /* A failure sets the message; it stays until the next call that clears it. */
  CHECK_STATUS(gpu_executor_create(NULL, NULL), GPU_EXECUTOR_NULL_POINTER);
  CHECK(strlen(gpu_executor_last_error_message()) > 0);

  printf("gpu_executor %s, header %s\n", version, expected);
  return tu_finish("test_api");
}
