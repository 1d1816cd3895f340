/*
 * Cold start: what a fresh process pays before its first batch's results, with and without
 * the persistent pipeline cache (gpu_executor_options_t.pipeline_cache_dir) and warm-up
 * (gpu_executor_warmup, gpu_executor_warmup_async).
 *
 *   cold_start [--runs N] [--dir DIR]
 *
 * For each configuration it runs N fresh processes (this program again, with --child) and
 * prints the median of each phase in milliseconds: creating the executor, the warm-up call
 * (the synchronous one compiles; the asynchronous one only queues), and the first batch
 * (8 tasks of 7 kernels, 1,000 to 100,000 elements: ADD in three buckets, MUL, FMA, RELU,
 * SUM, a 64x64x64 MATMUL),
 * then their total. "cache: file" runs find the file a previous process wrote in DIR
 * (default: a fresh directory under /tmp, removed at the end). The drivers' own shader
 * caches are turned off in the children (MESA_SHADER_CACHE_DISABLE=true,
 * __GL_SHADER_DISK_CACHE=0) so that only this library's cache is measured.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gpu_executor.h"

#define TASKS 8
#define MAX_RUNS 64

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, gpu_executor_status_t status) {
  fprintf(stderr, "cold_start: %s: %s (%s)\n", what, gpu_executor_status_str(status),
          gpu_executor_last_error_message());
  exit(1);
}

/* The first batch's tasks; with data NULL only their shapes (for warm-up). */
static void describe(gpu_task_t *tasks, float **data) {
  static const uint32_t ops[TASKS] = {GPU_OP_VECTOR_ADD, GPU_OP_VECTOR_ADD, GPU_OP_VECTOR_ADD,
                                      GPU_OP_MUL,        GPU_OP_FMA,        GPU_OP_RELU,
                                      GPU_OP_SUM,        GPU_OP_MATMUL};
  static const size_t lengths[TASKS] = {1000, 20000, 100000, 5000, 50000, 20000, 3000, 4096};
  static const unsigned arity[TASKS] = {2, 2, 2, 2, 3, 1, 1, 2};
  size_t t;
  unsigned k;
  memset(tasks, 0, sizeof(gpu_task_t) * TASKS);
  for (t = 0; t < TASKS; t++) {
    tasks[t].op = ops[t];
    tasks[t].length = lengths[t];
    if (ops[t] == GPU_OP_MATMUL) {
      tasks[t].params[0] = 64;
      tasks[t].params[1] = 64;
      tasks[t].params[2] = 64;
    }
    if (data == NULL) continue;
    for (k = 0; k < arity[t]; k++) tasks[t].inputs[k] = data[t * 4 + k];
    tasks[t].output = data[t * 4 + 3];
  }
}

/* One fresh process: prints "create warmup first_batch pipelines_in_first_batch state". */
static int child(const char *mode, const char *dir) {
  gpu_executor_options_t options = gpu_executor_options_default();
  gpu_executor_t *exec = NULL;
  gpu_executor_stats_t before, after;
  gpu_executor_status_t status;
  gpu_task_t plan[TASKS], tasks[TASKS];
  float *data[TASKS * 4];
  double t0, t1, t2, t3;
  uint64_t warmed = 0;
  size_t i, j;
  if (strcmp(dir, "-") != 0) options.pipeline_cache_dir = dir;
  for (i = 0; i < TASKS * 4; i++) {
    data[i] = malloc(100000 * sizeof(float));
    if (data[i] == NULL) return 1;
    for (j = 0; j < 100000; j++) data[i][j] = (float)((i + j) % 97) * 0.25f;
  }
  describe(plan, NULL);
  describe(tasks, data);

  t0 = now_ms();
  status = gpu_executor_create(&options, &exec);
  if (status != GPU_EXECUTOR_OK) die("create", status);
  t1 = now_ms();
  if (strcmp(mode, "warmup") == 0) {
    status = gpu_executor_warmup(exec, plan, TASKS, NULL);
    if (status != GPU_EXECUTOR_OK) die("warmup", status);
  } else if (strcmp(mode, "async") == 0) {
    status = gpu_executor_warmup_async(exec, plan, TASKS);
    if (status != GPU_EXECUTOR_OK) die("warmup_async", status);
  }
  t2 = now_ms();
  before.struct_size = sizeof before;
  gpu_executor_stats(exec, &before);
  status = gpu_executor_submit_batch(exec, tasks, TASKS);
  if (status != GPU_EXECUTOR_OK) die("submit", status);
  t3 = now_ms();
  /* An asynchronous warm-up's compilations join the stats when it ends: not the batch's. */
  if (strcmp(mode, "async") == 0) {
    status = gpu_executor_warmup_wait(exec, UINT64_MAX, &warmed);
    if (status != GPU_EXECUTOR_OK) die("warmup_wait", status);
  }
  after.struct_size = sizeof after;
  gpu_executor_stats(exec, &after);
  printf("%.3f %.3f %.3f %llu %u\n", t1 - t0, t2 - t1, t3 - t2,
         (unsigned long long)(after.pipelines_created - before.pipelines_created - warmed),
         after.pipeline_cache_state);
  gpu_executor_destroy(exec);
  for (i = 0; i < TASKS * 4; i++) free(data[i]);
  return 0;
}

/* Runs one child; parses its line. */
static int run_child(const char *self, const char *mode, const char *dir, double *phases,
                     unsigned long long *compiled, unsigned *state) {
  int fds[2];
  pid_t pid;
  char line[256];
  FILE *out;
  int status = 0, ok;
  if (pipe(fds) != 0) return 0;
  pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    setenv("MESA_SHADER_CACHE_DISABLE", "true", 1);
    setenv("__GL_SHADER_DISK_CACHE", "0", 1);
    execl(self, self, "--child", mode, dir, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  out = fdopen(fds[0], "r");
  ok = out != NULL && fgets(line, sizeof line, out) != NULL &&
       sscanf(line, "%lf %lf %lf %llu %u", &phases[0], &phases[1], &phases[2], compiled,
              state) == 5;
  if (out != NULL) fclose(out);
  waitpid(pid, &status, 0);
  return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, by_value);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void remove_cache_files(const char *dir) {
  char command[600];
  snprintf(command, sizeof command, "rm -f '%s'/*.pipelinecache", dir);
  if (system(command) != 0) fprintf(stderr, "cold_start: could not clear %s\n", dir);
}

int main(int argc, char **argv) {
  static const char *modes[3] = {"none", "warmup", "async"};
  static const char *state_names[5] = {"off", "unsupported", "empty", "loaded", "rejected"};
  char self[4096], dir[512];
  int runs = 5, own_dir = 1, i, m, c, r;
  ssize_t n;
  if (argc == 4 && strcmp(argv[1], "--child") == 0) return child(argv[2], argv[3]);
  snprintf(dir, sizeof dir, "/tmp/gpu_executor_cold_start_%ld", (long)getpid());
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      snprintf(dir, sizeof dir, "%s", argv[++i]);
      own_dir = 0;
    } else {
      fprintf(stderr, "usage: %s [--runs N] [--dir DIR]\n", argv[0]);
      return 2;
    }
  }
  if (runs < 1 || runs > MAX_RUNS) runs = 5;
  n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = '\0';

  printf("cold start, median of %d fresh processes (ms)\n", runs);
  printf("%-8s %-7s %-9s %9s %9s %12s %9s %10s\n", "cache", "warm-up", "state", "create",
         "warm-up", "first batch", "total", "compiled*");
  /* c = 0: no cache; 1: cache file present (written by a first run in DIR). */
  for (c = 0; c < 2; c++) {
    if (c == 1) {
      double p[3];
      unsigned long long k;
      unsigned s;
      remove_cache_files(dir);
      if (!run_child(self, "none", dir, p, &k, &s)) {
        fprintf(stderr, "cold_start: the run writing the cache failed\n");
        return 1;
      }
    }
    for (m = 0; m < 3; m++) {
      double create[MAX_RUNS], warm[MAX_RUNS], first[MAX_RUNS], total[MAX_RUNS];
      unsigned long long compiled = 0;
      unsigned state = 0;
      for (r = 0; r < runs; r++) {
        double p[3];
        if (!run_child(self, modes[m], c == 1 ? dir : "-", p, &compiled, &state)) {
          fprintf(stderr, "cold_start: a child failed (%s)\n", strerror(errno));
          return 1;
        }
        create[r] = p[0];
        warm[r] = p[1];
        first[r] = p[2];
        total[r] = p[0] + p[1] + p[2];
      }
      printf("%-8s %-7s %-9s %9.1f %9.1f %12.1f %9.1f %10llu\n", c ? "file" : "none", modes[m],
             state < 5 ? state_names[state] : "?", median(create, runs), median(warm, runs),
             median(first, runs), median(total, runs), compiled);
    }
  }
  printf("* pipelines the first batch itself compiled (last run)\n");
  if (own_dir) {
    remove_cache_files(dir);
    rmdir(dir);
  }
  return 0;
}
