/*
 * gpu_bench.c: the seed's batch workloads through the C API, as a C user would run them.
 *
 * For every workload it creates one BASELINE and one BUCKETED executor, and per iteration
 * times a plain C loop computing the reference (`out = a + b`), then one batch on each
 * executor, in alternating order so that drift cancels. Outputs are poisoned with NaN
 * before each batch and compared bit for bit with the reference outside the timed region.
 * The first iteration of each workload is reported apart as the cold batch.
 *
 * Usage: gpu_bench [workload-or-group ...]
 * Environment (the same as the Rust benches in benches/):
 *   GPU_BENCH_OUT       JSON-lines results (default gpu_bench_c.jsonl)
 *   GPU_BENCH_QUICK=1   tiny sizes and three iterations per workload
 *   GPU_BENCH_BUDGET_S  seconds per workload once its minimum iterations ran (default 3)
 *   GPU_BENCH_SEED      seed of inputs and batch shapes (default 42)
 *   GPU_BENCH_LABEL     free text stored in the results' meta line (e.g. the commit)
 * Exit status: 0 when every output matched, 1 on a mismatch, 2 on an API error.
 */
#define _POSIX_C_SOURCE 199309L

#include <gpu_executor.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_WORKLOADS 32
#define NUM_RUNNERS 3 /* baseline, bucketed, cpu */
#define BYTES_PER_ELEMENT 12.0
#define NUM_COUNTERS 10

static const char *const RUNNER_NAMES[NUM_RUNNERS] = {"baseline", "bucketed", "cpu"};

/* ---------------------------------------------------------------------------------- */
/* Random numbers: xorshift64*, as in benches/common/mod.rs. */

typedef struct {
    uint64_t s;
} rng_t;

static rng_t rng_new(uint64_t seed) {
    rng_t r;
    r.s = seed * 0x9E3779B97F4A7C15ull;
    if (r.s == 0) {
        r.s = 1;
    }
    return r;
}

static uint64_t rng_next(rng_t *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

static double rng_unit(rng_t *r) { return (double)(rng_next(r) >> 11) / 9007199254740992.0; }

/* Uniform in [-100, 100), exactly representable, never denormal. */
static float rng_f32(rng_t *r) {
    return ((float)(rng_next(r) >> 40) / 16777216.0f) * 200.0f - 100.0f;
}

static size_t rng_range(rng_t *r, size_t lo, size_t hi) {
    return lo + (size_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* log2 and exp2 without libm (examples link only the library): log-uniform sizes need
 * nothing more precise. The Rust benches use the same two functions, so both draw the
 * same batches. */
static double log2_approx(double x) {
    double e = 0, m = x, z, z2, sum = 0, term;
    while (m >= 2.0) {
        m /= 2.0;
        e += 1.0;
    }
    while (m < 1.0) {
        m *= 2.0;
        e -= 1.0;
    }
    /* ln(m) = 2 atanh(z), z = (m - 1) / (m + 1) in [0, 1/3). */
    z = (m - 1.0) / (m + 1.0);
    z2 = z * z;
    term = z;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return e + 2.0 * sum / 0.69314718055994530942;
}

static double exp2_approx(double x) {
    double i = (double)(long long)x, f, y = 1.0, term = 1.0;
    if (i > x) {
        i -= 1.0;
    }
    f = (x - i) * 0.69314718055994530942; /* e^f, f in [0, ln 2) */
    for (int k = 1; k < 25; ++k) {
        term *= f / k;
        y += term;
    }
    for (; i > 0; i -= 1.0) {
        y *= 2.0;
    }
    for (; i < 0; i += 1.0) {
        y /= 2.0;
    }
    return y;
}

static size_t rng_log_uniform(rng_t *r, size_t lo, size_t hi) {
    double l = log2_approx((double)lo), h = log2_approx((double)hi);
    size_t n = (size_t)(exp2_approx(l + (h - l) * rng_unit(r)) + 0.5);
    return n < lo ? lo : (n > hi ? hi : n);
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; ++s) {
        h = (h ^ (uint64_t)(unsigned char)*s) * 0x100000001b3ull;
    }
    return h;
}

/* ---------------------------------------------------------------------------------- */
/* Workloads */

typedef struct {
    char name[48];
    const char *group;
    /* Fixed sizes (count > 0) or a fresh random batch per iteration (count == 0). */
    size_t count;
    size_t *sizes;
    size_t min_tasks, max_tasks, min_size, max_size;
    int min_iters, max_iters;
    double budget_s;
} workload_t;

static workload_t workloads[MAX_WORKLOADS];
static int num_workloads;

static workload_t *add(const char *name, const char *group, int min_iters, double budget_s) {
    workload_t *w = &workloads[num_workloads++];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->group = group;
    w->min_iters = min_iters;
    w->max_iters = 2000;
    w->budget_s = budget_s;
    return w;
}

static void *xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

static void add_fixed(const char *name, const char *group, size_t count, size_t n,
                      int min_iters, double budget_s) {
    workload_t *w = add(name, group, min_iters, budget_s);
    w->count = count;
    w->sizes = xmalloc(count * sizeof *w->sizes);
    for (size_t i = 0; i < count; ++i) {
        w->sizes[i] = n;
    }
}

static void add_random(const char *name, const char *group, size_t min_tasks,
                       size_t max_tasks, size_t min_size, size_t max_size, int min_iters,
                       double budget_s) {
    workload_t *w = add(name, group, min_iters, budget_s);
    w->min_tasks = min_tasks;
    w->max_tasks = max_tasks;
    w->min_size = min_size;
    w->max_size = max_size;
}

/* The steady batch: drawn once, then repeated unchanged. */
static void add_steady(size_t count, size_t lo, size_t hi, int min_iters, double budget_s,
                       uint64_t seed) {
    workload_t *w = add("steady", "steady", min_iters, budget_s);
    rng_t r = rng_new(seed ^ 0x0057EAD7ull);
    w->count = count;
    w->sizes = xmalloc(count * sizeof *w->sizes);
    for (size_t i = 0; i < count; ++i) {
        w->sizes[i] = rng_log_uniform(&r, lo, hi);
    }
}

static void define_workloads(int quick, uint64_t seed, double scale) {
    if (quick) {
        add_random("small", "small", 2, 10, 1000, 16384, 3, 0);
        add_random("large", "large", 20, 40, 1000, 65536, 3, 0);
        add_steady(16, 1000, 65536, 4, 0, seed);
        add_fixed("tiny_100x4096", "tiny", 100, 4096, 3, 0);
        add_fixed("big_1x256Ki", "big", 1, 1u << 18, 3, 0);
        add_fixed("sweep_4x1Ki", "sweep", 4, 1024, 3, 0);
        add_fixed("sweep_4x64Ki", "sweep", 4, 65536, 3, 0);
        for (int i = 0; i < num_workloads; ++i) {
            workloads[i].max_iters = workloads[i].min_iters;
        }
        return;
    }
    add_random("small", "small", 2, 10, 1000, 1000000, 20, 3.0 * scale);
    add_random("large", "large", 100, 1000, 1000, 131072, 6, 4.0 * scale);
    add_steady(64, 1000, 262144, 40, 3.0 * scale, seed);
    add_fixed("tiny_1000x4096", "tiny", 1000, 4096, 6, 3.0 * scale);
    add_fixed("ref_100x100K", "ref", 100, 100000, 6, 3.0 * scale);
    add_fixed("ref_10x1M", "ref", 10, 1000000, 10, 2.0 * scale);
    add_fixed("big_1x16Mi", "big", 1, 1u << 24, 10, 3.0 * scale);
    {
        static const size_t sweep[] = {1024, 4096, 16384, 65536, 262144, 1u << 20, 1u << 22};
        static const char *const labels[] = {"1Ki", "4Ki", "16Ki", "64Ki", "256Ki", "1Mi", "4Mi"};
        for (size_t i = 0; i < sizeof sweep / sizeof sweep[0]; ++i) {
            char name[48];
            snprintf(name, sizeof name, "sweep_8x%s", labels[i]);
            add_fixed(name, "sweep", 8, sweep[i], 8, 1.0 * scale);
        }
    }
}

static size_t max_task(const workload_t *w) {
    size_t m = w->max_size;
    for (size_t i = 0; i < w->count; ++i) {
        m = w->sizes[i] > m ? w->sizes[i] : m;
    }
    return m;
}

static size_t max_total(const workload_t *w) {
    size_t t = 0;
    if (w->count == 0) {
        return w->max_tasks * w->max_size;
    }
    for (size_t i = 0; i < w->count; ++i) {
        t += w->sizes[i];
    }
    return t;
}

/* Task size when every task has the same size, else 0. */
static size_t uniform_size(const workload_t *w) {
    if (w->count == 0) {
        return 0;
    }
    for (size_t i = 1; i < w->count; ++i) {
        if (w->sizes[i] != w->sizes[0]) {
            return 0;
        }
    }
    return w->sizes[0];
}

/* Draws this iteration's batch into sizes[]; returns the task count. */
static size_t draw(const workload_t *w, rng_t *r, size_t *sizes) {
    if (w->count > 0) {
        memcpy(sizes, w->sizes, w->count * sizeof *sizes);
        return w->count;
    }
    size_t count = rng_range(r, w->min_tasks, w->max_tasks);
    for (size_t i = 0; i < count; ++i) {
        sizes[i] = rng_log_uniform(r, w->min_size, w->max_size);
    }
    return count;
}

static int selected(const workload_t *w, int argc, char **argv) {
    if (argc <= 1) {
        return 1;
    }
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], w->name) == 0 || strcmp(argv[i], w->group) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* Measurement */

typedef struct {
    double seconds;
    size_t tasks, elements;
    /* pipelines, buffers, bind groups, submits, dispatches created by this batch, then the
     * batch's phase times in ns: setup (the rest of the batch time: validation, planning,
     * creating or taking GPU objects), upload, encode+submit, GPU wait, download */
    uint64_t counters[NUM_COUNTERS];
} sample_t;

static const char *const COUNTER_NAMES[NUM_COUNTERS] = {
    "pipelines", "buffers",   "bind_groups", "submits", "dispatches",
    "setup_ns",  "upload_ns", "submit_ns",   "wait_ns", "download_ns"};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void check(gpu_executor_status_t status, const char *what) {
    if (status != GPU_EXECUTOR_OK) {
        fprintf(stderr, "%s failed: %s: %s\n", what, gpu_executor_status_str(status),
                gpu_executor_last_error_message());
        exit(2);
    }
}

static gpu_executor_stats_t stats_of(gpu_executor_t *exec) {
    gpu_executor_stats_t s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    check(gpu_executor_stats(exec, &s), "gpu_executor_stats");
    return s;
}

static gpu_executor_t *open_executor(uint32_t strategy) {
    gpu_executor_options_t options = gpu_executor_options_default();
    gpu_executor_t *exec = NULL;
    options.strategy = strategy;
    check(gpu_executor_create(&options, &exec), "gpu_executor_create");
    return exec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(const double *sorted, size_t n, double q) {
    if (n == 0) {
        return NAN;
    }
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos, hi = lo + ((double)lo < pos ? 1 : 0);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - (double)lo);
}

typedef struct {
    double median, p10, p90, min, max;
} spread_t;

/* Spread of values[0..n) (sorted in place). */
static spread_t spread(double *values, size_t n) {
    spread_t s;
    qsort(values, n, sizeof *values, cmp_double);
    s.median = quantile(values, n, 0.5);
    s.p10 = quantile(values, n, 0.1);
    s.p90 = quantile(values, n, 0.9);
    s.min = n ? values[0] : NAN;
    s.max = n ? values[n - 1] : NAN;
    return s;
}

static void fmt_time(char *buf, size_t size, double s) {
    if (!(s == s)) {
        snprintf(buf, size, "-");
    } else if (s >= 1.0) {
        snprintf(buf, size, "%.2f s", s);
    } else if (s >= 1e-3) {
        snprintf(buf, size, "%.2f ms", s * 1e3);
    } else {
        snprintf(buf, size, "%.1f us", s * 1e6);
    }
}

static void json_num(FILE *f, double x) {
    if (x == x && x - x == 0.0) {
        fprintf(f, "%.6e", x);
    } else {
        fputs("null", f);
    }
}

static void json_spread(FILE *f, const char *key, spread_t s) {
    fprintf(f, ",\"%s\":{\"median\":", key);
    json_num(f, s.median);
    fputs(",\"p10\":", f);
    json_num(f, s.p10);
    fputs(",\"p90\":", f);
    json_num(f, s.p90);
    fputs(",\"min\":", f);
    json_num(f, s.min);
    fputs(",\"max\":", f);
    json_num(f, s.max);
    fputc('}', f);
}

/* Writes a JSON string, escaping what JSON requires. */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

typedef struct {
    spread_t batch, per_task, gbps;
    double counters[NUM_COUNTERS];
    sample_t cold;
    size_t warm;
} summary_t;

static summary_t summarize(const sample_t *samples, size_t n, double *scratch) {
    summary_t s;
    size_t warm = n > 0 ? n - 1 : 0;
    memset(&s, 0, sizeof s);
    if (n > 0) {
        s.cold = samples[0];
    }
    s.warm = warm;
    for (size_t i = 0; i < warm; ++i) {
        scratch[i] = samples[i + 1].seconds;
    }
    s.batch = spread(scratch, warm);
    for (size_t i = 0; i < warm; ++i) {
        scratch[i] = samples[i + 1].seconds / (double)samples[i + 1].tasks;
    }
    s.per_task = spread(scratch, warm);
    for (size_t i = 0; i < warm; ++i) {
        scratch[i] =
            BYTES_PER_ELEMENT * (double)samples[i + 1].elements / samples[i + 1].seconds / 1e9;
    }
    s.gbps = spread(scratch, warm);
    for (int k = 0; k < NUM_COUNTERS; ++k) {
        double sum = 0;
        for (size_t i = 0; i < warm; ++i) {
            sum += (double)samples[i + 1].counters[k];
        }
        s.counters[k] = warm ? sum / (double)warm : NAN;
    }
    return s;
}

/* ---------------------------------------------------------------------------------- */

typedef struct {
    const workload_t *w;
    summary_t sum[NUM_RUNNERS];
    spread_t ratio;
} result_t;

static double env_double(const char *name, double fallback) {
    const char *v = getenv(name);
    char *end = NULL;
    double x;
    if (!v || !*v) {
        return fallback;
    }
    x = strtod(v, &end);
    return (end && *end == '\0') ? x : fallback;
}

static void expected_range(const char *group, double *lo, double *hi) {
    *lo = *hi = NAN;
    if (strcmp(group, "small") == 0) {
        *lo = 0.05;
        *hi = 0.15;
    } else if (strcmp(group, "large") == 0) {
        *lo = 0.10;
        *hi = 0.25;
    } else if (strcmp(group, "steady") == 0) {
        *lo = 0.20;
        *hi = 0.40;
    }
}

static const char *verdict(double improvement, double lo, double hi) {
    if (!(lo == lo)) {
        return "-";
    }
    return improvement < lo ? "below" : (improvement > hi ? "exceeds" : "within");
}

int main(int argc, char **argv) {
    const char *quick_env = getenv("GPU_BENCH_QUICK");
    int quick = quick_env && *quick_env && strcmp(quick_env, "0") != 0;
    const char *out_path = getenv("GPU_BENCH_OUT");
    uint64_t seed = (uint64_t)env_double("GPU_BENCH_SEED", 42);
    double scale = env_double("GPU_BENCH_BUDGET_S", 3.0) / 3.0;
    static result_t results[MAX_WORKLOADS];
    int num_results = 0, failures = 0;
    size_t pool_len = 0;
    float *pool_a, *pool_b;
    gpu_adapter_info_t info;
    FILE *jf;
    char date[32];
    time_t t = time(NULL);
    rng_t rng = rng_new(seed);

    if (!out_path || !*out_path) {
        out_path = "gpu_bench_c.jsonl";
    }
    define_workloads(quick, seed, scale);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));

    {
        gpu_executor_t *probe = open_executor(GPU_STRATEGY_BUCKETED);
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        check(gpu_executor_adapter_info(probe, &info), "gpu_executor_adapter_info");
        gpu_executor_destroy(probe);
    }
    printf("# c_gpu_bench (%s), library %s\n", date, gpu_executor_version());
    printf("adapter: %s, driver %s %s\n", info.name, info.driver, info.driver_info);
    printf("strategies: baseline + bucketed (interleaved) + cpu; quick: %s; results: %s\n",
           quick ? "true" : "false", out_path);

    jf = fopen(out_path, "w");
    if (!jf) {
        perror(out_path);
        return 2;
    }
    fprintf(jf, "{\"type\":\"meta\",\"bench\":\"c_gpu_bench\",\"primary\":\"bucketed\","
                "\"quick\":%s,\"date\":\"%s\",\"label\":",
            quick ? "true" : "false", date);
    json_str(jf, getenv("GPU_BENCH_LABEL") ? getenv("GPU_BENCH_LABEL") : "");
    fputs(",\"adapter\":", jf);
    json_str(jf, info.name);
    fputs(",\"driver\":", jf);
    json_str(jf, info.driver);
    fputs(",\"driver_info\":", jf);
    json_str(jf, info.driver_info);
    fprintf(jf, ",\"vendor\":%u,\"device\":%u,\"device_type\":%u,\"backend\":%u,"
                "\"strategies\":[\"baseline\",\"bucketed\"],\"interleaved\":true,"
                "\"library\":\"%s\"}\n",
            info.vendor_id, info.device_id, info.device_type, info.backend,
            gpu_executor_version());

    for (int i = 0; i < num_workloads; ++i) {
        if (selected(&workloads[i], argc, argv) && 2 * max_task(&workloads[i]) > pool_len) {
            pool_len = 2 * max_task(&workloads[i]);
        }
    }
    pool_a = xmalloc(pool_len * sizeof *pool_a);
    pool_b = xmalloc(pool_len * sizeof *pool_b);
    for (size_t i = 0; i < pool_len; ++i) {
        pool_a[i] = rng_f32(&rng);
    }
    for (size_t i = 0; i < pool_len; ++i) {
        pool_b[i] = rng_f32(&rng);
    }

    for (int wi = 0; wi < num_workloads; ++wi) {
        const workload_t *w = &workloads[wi];
        size_t cap_tasks = w->count ? w->count : w->max_tasks;
        size_t total_cap = max_total(w);
        size_t *sizes, *offsets;
        float *out, *ref;
        gpu_task_t *tasks;
        sample_t *samples[NUM_RUNNERS];
        double *scratch;
        gpu_executor_t *exec[2];
        rng_t wr = rng_new(seed ^ hash_str(w->name));
        int iter = 0;
        double start;
        result_t *res;

        if (!selected(w, argc, argv)) {
            continue;
        }
        sizes = xmalloc(cap_tasks * sizeof *sizes);
        offsets = xmalloc(cap_tasks * sizeof *offsets);
        tasks = xmalloc(cap_tasks * sizeof *tasks);
        out = xmalloc(total_cap * sizeof *out);
        ref = xmalloc(total_cap * sizeof *ref);
        for (int r = 0; r < NUM_RUNNERS; ++r) {
            samples[r] = xmalloc((size_t)w->max_iters * sizeof *samples[r]);
        }
        scratch = xmalloc((size_t)w->max_iters * sizeof *scratch);
        exec[0] = open_executor(GPU_STRATEGY_BASELINE);
        exec[1] = open_executor(GPU_STRATEGY_BUCKETED);
        fprintf(stderr, "%-16s ", w->name);
        start = now_s();

        while (iter < w->max_iters && (iter < w->min_iters || now_s() - start < w->budget_s)) {
            size_t count = draw(w, &wr, sizes);
            size_t total = 0;
            double t0;
            for (size_t i = 0; i < count; ++i) {
                offsets[i] = rng_range(&wr, 0, pool_len - sizes[i]);
                total += sizes[i];
            }
            /* The CPU reference, timed: a plain C loop. */
            t0 = now_s();
            {
                float *o = ref;
                for (size_t i = 0; i < count; ++i) {
                    const float *a = pool_a + offsets[i], *b = pool_b + offsets[i];
                    for (size_t j = 0; j < sizes[i]; ++j) {
                        o[j] = a[j] + b[j];
                    }
                    o += sizes[i];
                }
            }
            samples[2][iter].seconds = now_s() - t0;
            samples[2][iter].tasks = count;
            samples[2][iter].elements = total;
            memset(samples[2][iter].counters, 0, sizeof samples[2][iter].counters);

            for (int k = 0; k < 2; ++k) {
                int e = (iter % 2 == 0) ? k : 1 - k; /* alternate who goes first */
                gpu_executor_stats_t before, after;
                gpu_executor_status_t status;
                size_t at = 0;
                sample_t *s = &samples[e][iter];
                for (size_t i = 0; i < total; ++i) {
                    out[i] = NAN;
                }
                for (size_t i = 0; i < count; ++i) {
                    memset(&tasks[i], 0, sizeof tasks[i]);
                    tasks[i].op = GPU_OP_VECTOR_ADD;
                    tasks[i].inputs[0] = pool_a + offsets[i];
                    tasks[i].inputs[1] = pool_b + offsets[i];
                    tasks[i].output = out + at;
                    tasks[i].length = sizes[i];
                    at += sizes[i];
                }
                before = stats_of(exec[e]);
                t0 = now_s();
                status = gpu_executor_submit_batch(exec[e], tasks, count);
                s->seconds = now_s() - t0;
                if (status != GPU_EXECUTOR_OK) {
                    fprintf(stderr, "\n%s: %s batch, iteration %d:\n", w->name, RUNNER_NAMES[e],
                            iter);
                    check(status, "gpu_executor_submit_batch");
                }
                after = stats_of(exec[e]);
                s->tasks = count;
                s->elements = total;
                s->counters[0] = after.pipelines_created - before.pipelines_created;
                s->counters[1] = after.buffers_created - before.buffers_created;
                s->counters[2] = after.bind_groups_created - before.bind_groups_created;
                s->counters[3] = after.submits - before.submits;
                s->counters[4] = after.dispatches - before.dispatches;
                s->counters[6] = after.upload_ns - before.upload_ns;
                s->counters[7] = after.submit_ns - before.submit_ns;
                s->counters[8] = after.wait_ns - before.wait_ns;
                s->counters[9] = after.download_ns - before.download_ns;
                {
                    uint64_t batch_ns = (uint64_t)(s->seconds * 1e9);
                    uint64_t phases = s->counters[6] + s->counters[7] + s->counters[8] +
                                      s->counters[9];
                    s->counters[5] = batch_ns > phases ? batch_ns - phases : 0;
                }
                if (memcmp(out, ref, total * sizeof *out) != 0) {
                    ++failures;
                    fprintf(stderr, "\n%s: %s iteration %d differs from the CPU reference\n",
                            w->name, RUNNER_NAMES[e], iter);
                }
            }
            ++iter;
        }
        fprintf(stderr, "%d iterations, %.1f s\n", iter, now_s() - start);
        gpu_executor_destroy(exec[0]);
        gpu_executor_destroy(exec[1]);

        res = &results[num_results++];
        res->w = w;
        for (int r = 0; r < NUM_RUNNERS; ++r) {
            res->sum[r] = summarize(samples[r], (size_t)iter, scratch);
        }
        for (int i = 1; i < iter; ++i) {
            scratch[i - 1] = samples[1][i].seconds / samples[0][i].seconds;
        }
        res->ratio = spread(scratch, iter > 0 ? (size_t)iter - 1 : 0);

        /* JSON lines: one summary per runner, one comparison. */
        for (int r = 0; r < NUM_RUNNERS; ++r) {
            const summary_t *s = &res->sum[r];
            fprintf(jf, "{\"type\":\"summary\",\"bench\":\"c_gpu_bench\",\"workload\":");
            json_str(jf, w->name);
            fprintf(jf, ",\"group\":\"%s\",\"task_size\":", w->group);
            if (uniform_size(w)) {
                fprintf(jf, "%zu", uniform_size(w));
            } else {
                fputs("null", jf);
            }
            fprintf(jf, ",\"strategy\":\"%s\",\"iterations\":%zu", RUNNER_NAMES[r], s->warm);
            json_spread(jf, "batch_s", s->batch);
            json_spread(jf, "per_task_s", s->per_task);
            json_spread(jf, "gbps", s->gbps);
            if (r < 2) {
                fputs(",\"per_batch\":{", jf);
                for (int k = 0; k < NUM_COUNTERS; ++k) {
                    fprintf(jf, "%s\"%s\":", k ? "," : "", COUNTER_NAMES[k]);
                    json_num(jf, s->counters[k]);
                }
                fputc('}', jf);
            }
            fputs(",\"cold\":{\"seconds\":", jf);
            json_num(jf, s->cold.seconds);
            fprintf(jf, ",\"tasks\":%zu,\"elements\":%zu", s->cold.tasks, s->cold.elements);
            if (r < 2) {
                for (int k = 0; k < NUM_COUNTERS; ++k) {
                    fprintf(jf, ",\"%s\":%llu", COUNTER_NAMES[k],
                            (unsigned long long)s->cold.counters[k]);
                }
            }
            fputs("}}\n", jf);
        }
        {
            double lo, hi, improvement = 1.0 - res->ratio.median;
            expected_range(w->group, &lo, &hi);
            fprintf(jf, "{\"type\":\"comparison\",\"bench\":\"c_gpu_bench\",\"workload\":");
            json_str(jf, w->name);
            fprintf(jf, ",\"group\":\"%s\",\"baseline_median_s\":", w->group);
            json_num(jf, res->sum[0].batch.median);
            fputs(",\"bucketed_median_s\":", jf);
            json_num(jf, res->sum[1].batch.median);
            fputs(",\"improvement\":", jf);
            json_num(jf, improvement);
            json_spread(jf, "paired_ratio", res->ratio);
            if (lo == lo) {
                fprintf(jf, ",\"expected\":[%.2f,%.2f]", lo, hi);
            } else {
                fputs(",\"expected\":null", jf);
            }
            fprintf(jf, ",\"verdict\":\"%s\"}\n", verdict(improvement, lo, hi));
        }
        fflush(jf);

        free(sizes);
        free(offsets);
        free(tasks);
        free(out);
        free(ref);
        for (int r = 0; r < NUM_RUNNERS; ++r) {
            free(samples[r]);
        }
        free(scratch);
    }
    fclose(jf);

    printf("\n| workload | strategy | batch median (p10-p90) | per task median | GB/s | "
           "pipelines/batch | buffers/batch | bind groups/batch | submits/batch | cold batch |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < num_results; ++i) {
        for (int r = 0; r < NUM_RUNNERS; ++r) {
            const summary_t *s = &results[i].sum[r];
            char med[32], p10[32], p90[32], pt[32], cold[32];
            fmt_time(med, sizeof med, s->batch.median);
            fmt_time(p10, sizeof p10, s->batch.p10);
            fmt_time(p90, sizeof p90, s->batch.p90);
            fmt_time(pt, sizeof pt, s->per_task.median);
            fmt_time(cold, sizeof cold, s->cold.seconds);
            if (r < 2) {
                printf("| %s | %s | %s (%s-%s) | %s | %.2f | %.1f | %.1f | %.1f | %.1f | %s |\n",
                       results[i].w->name, RUNNER_NAMES[r], med, p10, p90, pt, s->gbps.median,
                       s->counters[0], s->counters[1], s->counters[2], s->counters[3], cold);
            } else {
                printf("| %s | %s | %s (%s-%s) | %s | %.2f | - | - | - | - | %s |\n",
                       results[i].w->name, RUNNER_NAMES[r], med, p10, p90, pt, s->gbps.median,
                       cold);
            }
        }
    }
    printf("\nWhere a batch's time goes (means per warm batch)\n\n| workload | strategy | "
           "setup | upload | encode+submit | GPU wait | download |\n|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < num_results; ++i) {
        for (int r = 0; r < 2; ++r) {
            const summary_t *s = &results[i].sum[r];
            char ph[5][32];
            for (int k = 0; k < 5; ++k) {
                fmt_time(ph[k], sizeof ph[k], s->counters[5 + k] * 1e-9);
            }
            printf("| %s | %s | %s | %s | %s | %s | %s |\n", results[i].w->name, RUNNER_NAMES[r],
                   ph[0], ph[1], ph[2], ph[3], ph[4]);
        }
    }
    printf("\n| workload | baseline median | bucketed median | paired ratio (p10-p90) | "
           "improvement | seed expects | verdict |\n|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < num_results; ++i) {
        const result_t *r = &results[i];
        double lo, hi, improvement = 1.0 - r->ratio.median;
        char b[32], k[32], range[32];
        fmt_time(b, sizeof b, r->sum[0].batch.median);
        fmt_time(k, sizeof k, r->sum[1].batch.median);
        expected_range(r->w->group, &lo, &hi);
        if (lo == lo) {
            snprintf(range, sizeof range, "%.0f-%.0f %%", lo * 100, hi * 100);
        } else {
            snprintf(range, sizeof range, "-");
        }
        printf("| %s | %s | %s | %.3f (%.3f-%.3f) | %.1f %% | %s | %s |\n", r->w->name, b, k,
               r->ratio.median, r->ratio.p10, r->ratio.p90, improvement * 100, range,
               verdict(improvement, lo, hi));
    }
    for (int i = 0; i < num_workloads; ++i) {
        free(workloads[i].sizes);
    }
    free(pool_a);
    free(pool_b);
    if (failures) {
        fprintf(stderr, "%d batches differed from the CPU reference\n", failures);
        return 1;
    }
    printf("all outputs matched the CPU reference bit for bit\n");
    return 0;
}
