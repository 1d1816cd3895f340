/*
 * A ticket belongs to the executor that issued it. Executor A's ticket handed to executor
 * B's wait or poll must be UNKNOWN_TICKET, and must neither complete nor disturb B's own
 * batch in flight; both tickets then complete on their own executors with the CPU's
 * results.
 */
#include "test_util.h"

int main(void) {
  gpu_executor_t *a = tu_create(NULL);
  gpu_executor_t *b = tu_create(NULL);
  tu_rng rng = tu_rng_new(4242);
  int round;

  for (round = 0; round < 2; round++) {
    /* Round 0 hands A's ticket to B, round 1 B's to A. */
    gpu_executor_t *issuer = round == 0 ? a : b;
    gpu_executor_t *other = round == 0 ? b : a;
    tu_case mine = tu_case_random(&rng, 20000);
    tu_case theirs = tu_case_random(&rng, 30000);
    gpu_task_t mine_task = tu_case_task(&mine);
    gpu_task_t theirs_task = tu_case_task(&theirs);
    gpu_ticket_t ticket = 0, other_ticket = 0;

    tu_require(gpu_executor_submit_batch_async(issuer, &mine_task, 1, &ticket) == GPU_EXECUTOR_OK,
               "submit on the issuing executor");
    tu_require(gpu_executor_submit_batch_async(other, &theirs_task, 1, &other_ticket) ==
                   GPU_EXECUTOR_OK,
               "submit on the other executor");
    CHECK(ticket != other_ticket);

    CHECK_STATUS(gpu_executor_poll(other, ticket), GPU_EXECUTOR_UNKNOWN_TICKET);
    CHECK_STATUS(gpu_executor_wait(other, ticket, UINT64_MAX), GPU_EXECUTOR_UNKNOWN_TICKET);
    CHECK(tu_all_nan(theirs.out, theirs.n)); /* the other executor's batch is untouched */
    CHECK(tu_all_nan(mine.out, mine.n));

    if (CHECK_OK(gpu_executor_wait(other, other_ticket, UINT64_MAX))) {
      CHECK(tu_case_matches(&theirs, "the other executor's own batch"));
    }
    if (CHECK_OK(gpu_executor_wait(issuer, ticket, UINT64_MAX))) {
      CHECK(tu_case_matches(&mine, "the issuing executor's batch"));
    }
    /* Both spent now, on either executor. */
    CHECK_STATUS(gpu_executor_poll(issuer, ticket), GPU_EXECUTOR_UNKNOWN_TICKET);
    CHECK_STATUS(gpu_executor_poll(other, other_ticket), GPU_EXECUTOR_UNKNOWN_TICKET);

    tu_case_free(&mine);
    tu_case_free(&theirs);
  }

  gpu_executor_destroy(a);
  gpu_executor_destroy(b);
  return tu_finish("test_foreign_ticket");
}
